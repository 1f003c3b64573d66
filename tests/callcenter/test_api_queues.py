"""Queues API: live counts, visibility per role, constant query count."""

from datetime import timedelta

import pytest

from callcenter.models import Agent
from callcenter.models.queues import EscalationStep
from tests.conftest import as_user, queries_for
from tests.factories import AgentFactory, QueueFactory, ended_call, waiting_call

pytestmark = pytest.mark.django_db


def test_live_counts(api, supervisor, queue):
    waiting_call(queue, waited=timedelta(seconds=90))
    waiting_call(queue, waited=timedelta(seconds=10))
    ended_call(queue)
    waiting_call(QueueFactory())  # another queue's caller
    available, on_call, away, _offline = AgentFactory.create_batch(4, queues=[queue])
    Agent.objects.filter(pk=available.pk).update(status="available")
    Agent.objects.filter(pk=on_call.pk).update(
        status="available", activity="on_call", active_calls=1
    )
    Agent.objects.filter(pk=away.pk).update(status="away", away_reason="lunch")

    row = as_user(api, supervisor).get(f"/api/v1/queues/{queue.pk}/").json()
    assert row["live"]["waiting"] == 2
    assert 89 <= row["live"]["longest_wait_seconds"] <= 120
    assert row["live"]["agents"] == {
        "available": 1,
        "offered": 0,
        "on_call": 1,
        "wrap_up": 0,
        "away": 1,
        "offline": 1,
    }


def test_visibility_by_role(api, supervisor, agent, admin_user, queue):
    other = QueueFactory()

    def names(user) -> set[str]:
        results = as_user(api, user).get("/api/v1/queues/").json()["results"]
        return {q["name"] for q in results}

    assert names(supervisor) == {queue.name}
    assert names(agent.user) == {queue.name}
    assert names(admin_user) == {queue.name, other.name}
    assert as_user(api, agent.user).get(f"/api/v1/queues/{other.pk}/").status_code == 404


def test_list_query_count_is_constant(api, admin_user):
    for _ in range(2):
        q = QueueFactory()
        AgentFactory(queues=[q])
        waiting_call(q)
    small = queries_for(api, admin_user, "/api/v1/queues/")
    for _ in range(20):
        q = QueueFactory()
        AgentFactory.create_batch(2, queues=[q])
        waiting_call(q)
        EscalationStep.objects.create(queue=q, after_seconds=60, action="widen_tier")
    assert queries_for(api, admin_user, "/api/v1/queues/") == small
    assert small == 4  # roles, count, the page with its live counts, the escalation steps


def test_escalation_steps_are_listed_in_order(api, supervisor, queue):
    overflow = QueueFactory()
    EscalationStep.objects.create(
        queue=queue, after_seconds=120, action="move_to_queue", target_queue=overflow
    )
    EscalationStep.objects.create(
        queue=queue, after_seconds=30, action="raise_priority", priority=5
    )
    row = as_user(api, supervisor).get(f"/api/v1/queues/{queue.pk}/").json()
    assert row["escalation_steps"] == [
        {"after_seconds": 30, "action": "raise_priority", "priority": 5, "target_queue": None},
        {
            "after_seconds": 120,
            "action": "move_to_queue",
            "priority": None,
            "target_queue": overflow.pk,
        },
    ]
