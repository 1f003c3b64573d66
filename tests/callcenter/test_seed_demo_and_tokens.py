"""The demo seed is idempotent and its supervisor's token reads the API."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from callcenter.models import Agent, PhoneNumber, Queue, QueueMembership

pytestmark = pytest.mark.django_db


def counts() -> tuple[int, ...]:
    return tuple(
        m.objects.count() for m in (get_user_model(), Agent, Queue, QueueMembership, PhoneNumber)
    )


def test_seed_demo_twice_changes_nothing(capsys):
    call_command("seed_demo")
    first = counts()
    call_command("seed_demo")
    assert counts() == first
    assert first[1] >= 3 and first[2] >= 2 and first[4] == 1
    out = capsys.readouterr().out
    assert "supervisor / switchboard-demo" in out


def test_token_from_drf_create_token_lists_agents_queues_and_calls():
    call_command("seed_demo")
    call_command("drf_create_token", "supervisor")
    token = Token.objects.get(user__username="supervisor").key
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    for url in ("/api/v1/agents/", "/api/v1/queues/", "/api/v1/calls/"):
        response = api.get(url)
        assert response.status_code == 200, url
    assert api.get("/api/v1/agents/").json()["count"] == Agent.objects.count()
    assert api.get("/api/v1/queues/").json()["count"] == Queue.objects.count()
    api.credentials(HTTP_AUTHORIZATION="Token wrong")
    assert api.get("/api/v1/agents/").status_code == 401


def test_schema_and_docs_are_served_without_a_cdn(client):
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/agents/{id}/status/" in schema.content
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    assert b"cdn." not in docs.content and b"unpkg" not in docs.content
    login = client.get("/accounts/login/")
    assert login.status_code == 200 and b"Sign in" in login.content
