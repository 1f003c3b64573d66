"""Shared fixtures. PostgreSQL and Redis are used for real when present; with
REQUIRE_SERVICES=1 (CI) a missing one stops the run before any test instead of skipping."""

import os

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests.factories import AgentFactory, QueueFactory, UserFactory


def pytest_sessionstart(session):
    if os.environ.get("REQUIRE_SERVICES") == "1":
        missing = [name for name, up in settings.TEST_SERVICES.items() if not up]
        if missing:
            pytest.exit(
                f"REQUIRE_SERVICES=1 but {', '.join(missing)} is not configured or not reachable "
                "(DATABASE_URL / REDIS_URL, or the standard local ports).",
                returncode=1,
            )


def pytest_collection_modifyitems(config, items):
    for name in ("postgres", "redis"):
        if settings.TEST_SERVICES[name]:
            continue
        skip = pytest.mark.skip(reason=f"{name} not available (set REQUIRE_SERVICES=1 to fail)")
        for item in items:
            if name in item.keywords:
                item.add_marker(skip)


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def queue(db):
    return QueueFactory()


@pytest.fixture
def admin_user(db):
    return UserFactory(roles=["admin"])


@pytest.fixture
def supervisor(db, queue):
    user = UserFactory(roles=["supervisor"])
    queue.supervisors.add(user)
    return user


@pytest.fixture
def agent(db, queue):
    return AgentFactory(queues=[queue])


def as_user(api: APIClient, user) -> APIClient:
    api.force_authenticate(user)
    return api


def queries_for(api: APIClient, user, url: str) -> int:
    """How many queries GET `url` costs a fresh request of `user` (nothing cached on it)."""
    fresh = type(user).objects.get(pk=user.pk)
    with CaptureQueriesContext(connection) as ctx:
        response = as_user(api, fresh).get(url)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)
