"""The claim's queries use their named partial indexes (PostgreSQL plans, steered as in
tests/callcenter/test_indexes.py: no sequential scans, no sorts)."""

import pytest

from callcenter.models import Agent
from routing.selectors import claimable_calls, eligible_agents
from tests.factories import AgentFactory, QueueFactory, ended_call, waiting_call
from tests.plans import plan_indexes

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_claimable_calls_use_the_global_waiting_order():
    queue = QueueFactory()
    for _ in range(100):
        ended_call(queue)
    for _ in range(3):
        waiting_call(queue)
    assert "call_waiting_global_order_idx" in plan_indexes(claimable_calls()[:20])


def test_eligible_agents_use_the_routable_index():
    queue = QueueFactory()
    AgentFactory.create_batch(50, queues=[queue])
    ready = AgentFactory.create_batch(3, queues=[queue])
    Agent.objects.filter(pk__in=[a.pk for a in ready]).update(status="available")
    call = waiting_call(queue)
    assert "agent_routable_idle_since_idx" in plan_indexes(eligible_agents(call, queue)[:1])
