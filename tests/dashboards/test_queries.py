"""The snapshot costs the same few queries at any size, signed in by session (the dearest way:
session, user, roles, then the snapshot's own two)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from callcenter.choices import CallStage
from callcenter.models import Agent
from tests.factories import AgentFactory, QueueFactory, UserFactory, ended_call, waiting_call

pytestmark = pytest.mark.django_db

URL = "/api/v1/dashboard/"
MAX_QUERIES = 5


def grow(queues: int, agents: int, calls: int) -> list:
    """Queues with members in every state, and calls waiting, connected, ended today and old."""
    made = [QueueFactory() for _ in range(queues)]
    people = [
        AgentFactory(queues=[made[i % queues], made[(i + 1) % queues]]) for i in range(agents)
    ]
    for i, agent in enumerate(people):
        state = i % 4
        if state == 1:
            Agent.objects.filter(pk=agent.pk).update(status="available")
        elif state == 2:
            Agent.objects.filter(pk=agent.pk).update(status="away", away_reason="break")
    for i in range(calls):
        queue, agent = made[i % queues], people[i % agents]
        kind = i % 4
        if kind == 0:
            waiting_call(queue, priority=i % 3)
        elif kind == 1:
            live = waiting_call(queue, waited=timedelta(seconds=90))
            live.stage, live.agent, live.answered_at = CallStage.CONNECTED, agent, timezone.now()
            live.save()
        elif kind == 2:
            ended_call(queue, agent=agent)
        else:
            old = ended_call(queue, agent=agent)
            type(old).objects.filter(pk=old.pk).update(
                created_at=old.created_at - timedelta(days=3),
                enqueued_at=old.enqueued_at - timedelta(days=3),
                answered_at=old.answered_at - timedelta(days=3),
                ended_at=old.ended_at - timedelta(days=3),
            )
    return made


def session_queries(user) -> tuple[int, dict]:
    client = APIClient()
    client.force_login(user)  # a real session row, read back on the request
    client.get(URL)  # the backend's one-off feature probes (SQLite's JSON support) go first
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(URL)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries), response.json()


@pytest.mark.parametrize("role", ["admin", "supervisor", "agent"])
def test_query_count_is_constant_and_at_most_five(role):
    queues = grow(queues=2, agents=3, calls=5)
    if role == "agent":
        user = Agent.objects.order_by("id").first().user
    else:
        user = UserFactory(roles=[role])
        for queue in queues:
            queue.supervisors.add(user)
    small, before = session_queries(user)
    more = grow(queues=8, agents=37, calls=195)  # 10 queues, 40 agents, 200 calls in all
    for queue in more:
        queue.supervisors.add(user)
    if role == "agent":
        Agent.objects.get(user=user).memberships.create(queue=more[0], level=3)
    large, after = session_queries(user)
    assert len(after["queues"]) > len(before["queues"])
    if role != "agent":
        assert (len(before["agents"]), len(after["agents"])) == (3, 40)
        assert len(after["waiting_calls"]) > len(before["waiting_calls"])
    assert large == small == MAX_QUERIES  # session, user, roles, queues, agents


def test_token_authentication_costs_one_query_fewer():
    grow(queues=2, agents=3, calls=5)
    from rest_framework.authtoken.models import Token

    user = UserFactory(roles=["admin"])
    token = Token.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(URL).status_code == 200
    assert len(ctx.captured_queries) == 4  # token with its user, roles, queues, agents
