"""The hot queries use their named partial indexes (PostgreSQL plans).

The tables are small here, so the planner is steered the deterministic way: sequential scans
and explicit sorts are priced out (enable_seqscan, enable_sort = off), which leaves the indexes
that both apply to the WHERE clause and deliver the ORDER BY; the test then checks that the
one chosen is the named partial index, i.e. that the query's predicate implies the index's.
bench/bench_routing_indexes.py shows the same plans at 100,000 agents / 1,000,000 calls.
"""

import json

import pytest
from django.db import connection, transaction

from callcenter.models import Agent, Call
from tests.factories import AgentFactory, QueueFactory, ended_call, waiting_call

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def plan_indexes(queryset) -> set[str]:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("ANALYZE callcenter_agent")
        cursor.execute("ANALYZE callcenter_call")
        plan = json.loads(queryset.explain(format="json"))
    found: set[str] = set()

    def walk(node):
        if "Index Name" in node:
            found.add(node["Index Name"])
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return found


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
    other = QueueFactory()
    for _ in range(60):  # other queues' callers: the per-queue index is the selective one
        waiting_call(other)
    query = Call.objects.waiting_in_queue(queue.pk)[:10]
    assert "call_waiting_queue_order_idx" in plan_indexes(query)


def test_active_calls_use_the_active_partial_index():
    queue = QueueFactory()
    for _ in range(200):
        ended_call(queue)
    waiting_call(queue)
    query = Call.objects.active().order_by("created_at")[:50]
    assert "call_active_created_idx" in plan_indexes(query)
