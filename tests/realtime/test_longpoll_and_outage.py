"""The long-poll fallback, and the guarantee that a dead channel layer never fails the request
that caused an event (the event stays in the log and is replayed)."""

import threading
import time

import pytest
from django.test import override_settings
from rest_framework.authtoken.models import Token

from callcenter.choices import AgentStatus
from realtime import publish, transport
from realtime.log import replay_after
from tests.factories import AgentFactory, UserFactory

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

URL = "/api/v1/events/"


def test_anonymous_is_401_and_bad_parameters_are_400(client):
    assert client.get(URL).status_code == 401
    client.force_login(UserFactory())
    for query in ("after=x", "after=-1", "timeout=abc", "timeout=61", "timeout=-1"):
        response = client.get(f"{URL}?{query}")
        assert response.status_code == 400, query
        assert response.json()["error"]["code"] == "invalid"
    assert client.post(URL).status_code == 405


def test_returns_pending_events_at_once(client):
    user = UserFactory()
    for n in range(3):
        publish.publish_to_user(user.pk, "ping.received", {"n": n})
    client.force_login(user)
    body = client.get(f"{URL}?after=1&timeout=30").json()
    assert [e["seq"] for e in body["events"]] == [2, 3]
    assert body["last_seq"] == 3 and body["resync"] is False


def test_token_authentication_works(client):
    user = UserFactory()
    publish.publish_to_user(user.pk, "ping.received", {})
    token = Token.objects.create(user=user)
    body = client.get(f"{URL}?after=0", HTTP_AUTHORIZATION=f"Token {token.key}").json()
    assert [e["seq"] for e in body["events"]] == [1]
    assert client.get(URL, HTTP_AUTHORIZATION="Token wrong").status_code == 401


def test_times_out_empty_when_nothing_happens(client):
    client.force_login(UserFactory())
    body = client.get(f"{URL}?after=0&timeout=0.3").json()
    assert body == {"events": [], "last_seq": 0, "resync": False}


@override_settings(REALTIME_REPLAY_LIMIT=2)
def test_resync_past_the_bound(client):
    user = UserFactory()
    for _ in range(3):
        publish.publish_to_user(user.pk, "ping.received", {})
    client.force_login(user)
    body = client.get(f"{URL}?after=0").json()
    assert body["resync"] is True and body["events"] == [
        {"type": "resync", "data": {"last_seq": 3}}
    ]


def test_wakes_when_an_event_arrives_while_waiting(client):
    user = UserFactory()
    client.force_login(user)
    published_at = []

    def later():
        time.sleep(0.5)
        published_at.append(time.monotonic())
        publish.publish_to_user(user.pk, "invitation.created", {"call": 7})

    thread = threading.Thread(target=later)
    started = time.monotonic()
    thread.start()
    body = client.get(f"{URL}?after=0&timeout=30").json()
    thread.join()
    # The event did not exist when the request started: the request waited for it and woke.
    assert published_at and published_at[0] > started
    assert body["events"] == [{"type": "invitation.created", "seq": 1, "data": {"call": 7}}]


DEAD_LAYER = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
    }
}


def test_a_dead_channel_layer_never_fails_the_request_and_the_event_is_replayed(client):
    agent = AgentFactory()
    client.force_login(agent.user)
    with override_settings(CHANNEL_LAYERS=DEAD_LAYER):
        response = client.post(
            f"/api/v1/agents/{agent.pk}/status/",
            {"status": AgentStatus.AVAILABLE},
            content_type="application/json",
        )
        publish.publish_to_user(agent.user_id, "ping.received", {"n": 1})
        assert transport.wait_idle(10)
    assert response.status_code == 200
    agent.refresh_from_db()
    assert agent.status == AgentStatus.AVAILABLE
    assert [f["data"] for f in replay_after(agent.user_id, 0).frames] == [{"n": 1}]
