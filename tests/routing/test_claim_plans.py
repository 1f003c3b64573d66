"""The claim statement reads its named partial indexes (PostgreSQL plans, steered as in
tests/plans.py: no sequential scans, no sorts where an index delivers the order)."""

import pytest

from callcenter.models import Agent
from routing.claim import claim_sql
from tests.factories import AgentFactory, QueueFactory, ended_call, waiting_call
from tests.plans import sql_plan_indexes

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def claim_plan_indexes() -> set[str]:
    """The indexes of the claim statement's plan (EXPLAIN only: nothing is claimed)."""
    tables = ("callcenter_agent", "callcenter_call", "routing_reservation")
    return sql_plan_indexes(claim_sql(), tables)


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
