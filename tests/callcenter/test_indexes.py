"""The hot queries use their named partial indexes (PostgreSQL plans).

The tables are small here, so the planner is steered the deterministic way: sequential scans
and explicit sorts are priced out (enable_seqscan, enable_sort = off), which leaves the indexes
that both apply to the WHERE clause and deliver the ORDER BY; the test then checks that the
one chosen is the named partial index, i.e. that the query's predicate implies the index's.
bench/bench_routing_indexes.py shows the same plans at 100,000 agents / 1,000,000 calls.
"""

import pytest
from django.utils import timezone

from callcenter.models import Agent, Call
from tests.factories import AgentFactory, CallFactory, QueueFactory, ended_call, waiting_call
from tests.plans import plan_indexes

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]
NOW = timezone.now()


def test_eligible_agents_use_the_routable_partial_index():
    AgentFactory.create_batch(50)  # offline
    Agent.objects.filter(pk__in=[a.pk for a in AgentFactory.create_batch(3)]).update(
        status="available"
    )
    assert "agent_routable_idle_since_idx" in plan_indexes(Agent.objects.longest_idle_first()[:1])


def test_waiting_calls_use_the_waiting_partial_index():
    queue = QueueFactory()
    for _ in range(100):
        ended_call(queue)
    for _ in range(5):
        waiting_call(queue)
    # Many more callers in another queue: the per-queue index is decisively the selective one
    # (with only a few, the global waiting index tied with it and the plan flipped).
    other = QueueFactory()
    Call.objects.bulk_create(
        CallFactory.build(queue=other, stage="waiting", created_at=NOW, enqueued_at=NOW)
        for _ in range(2000)
    )
    query = Call.objects.waiting_in_queue(queue.pk)[:10]
    assert "call_waiting_queue_order_idx" in plan_indexes(query)


def test_active_calls_use_the_active_partial_index():
    queue = QueueFactory()
    for _ in range(200):
        ended_call(queue)
    waiting_call(queue)
    query = Call.objects.active().order_by("created_at")[:50]
    assert "call_active_created_idx" in plan_indexes(query)
