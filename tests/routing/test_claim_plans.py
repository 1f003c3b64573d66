"""The claim statement reads its named partial indexes (PostgreSQL plans, steered as in
tests/plans.py: no sequential scans, no sorts where an index delivers the order)."""

import json

import pytest
from django.db import connection, transaction

from callcenter.models import Agent
from routing.claim import claim_sql
from tests.factories import AgentFactory, QueueFactory, ended_call, waiting_call

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def claim_plan_indexes() -> set[str]:
    """The indexes of the claim statement's plan (EXPLAIN only: nothing is claimed)."""
    with transaction.atomic(), connection.cursor() as cursor:
        for setting in ("enable_seqscan", "enable_sort"):
            cursor.execute(f"SET LOCAL {setting} = off")
        for table in ("callcenter_agent", "callcenter_call", "routing_reservation"):
            cursor.execute(f"ANALYZE {table}")
        cursor.execute(f"EXPLAIN (FORMAT JSON) {claim_sql()}")
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    found: set[str] = set()

    def walk(node):
        found.update([node["Index Name"]] if "Index Name" in node else [])
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return found


def test_the_claim_reads_the_named_partial_indexes():
    queue = QueueFactory()
    agent = AgentFactory.create_batch(50, queues=[queue])[0]
    ready = AgentFactory.create_batch(3, queues=[queue])
    Agent.objects.filter(pk__in=[a.pk for a in ready]).update(status="available")
    for _ in range(100):
        ended_call(queue, agent)
    for _ in range(3):
        waiting_call(queue)
    found = claim_plan_indexes()
    for index in (
        "call_waiting_global_order_idx",  # callers in service order
        "voicemail_waiting_idx",  # waiting work
        "callbackrequest_waiting_idx",
        "agent_routable_idle_since_idx",  # the longest idle routable member first
        "reservation_call_agent_idx",  # not one who missed the call
        "call_known_agent_inbound_idx",  # a returning caller's agent
        "call_known_agent_outbound_idx",
    ):
        assert index in found, (index, found)
