"""Concurrent routers never double-book: threads released together at a barrier, with a pause
after each claim (its locks held) to widen every race, repeated. On PostgreSQL the claims
pass each other by (SKIP LOCKED); on SQLite, the embedded run's, they wait for the write lock."""

import time
from collections import Counter

import pytest

import routing.services
from callcenter.models import Agent
from routing.models import Reservation
from tests.concurrency import run_routers
from tests.factories import AgentFactory, QueueFactory, waiting_call

pytestmark = [pytest.mark.django_db(transaction=True)]
ROUTERS, ROUNDS = 8, 5


@pytest.fixture
def race_pause(monkeypatch):
    monkeypatch.setattr(routing.services, "race_pause", lambda: time.sleep(0.005))


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_no_double_booking_under_concurrent_routers(race_pause, round_):
    # The rings after commit reach no Twilio here and fail fast: only the claims count.
    sales, support = QueueFactory(), QueueFactory()
    agents = [AgentFactory(queues=[sales, support]) for _ in range(5)]
    roomy = agents[0]
    Agent.objects.filter(pk__in=[a.pk for a in agents]).update(status="available")
    Agent.objects.filter(pk=roomy.pk).update(max_concurrent_calls=2)
    for i in range(12):
        waiting_call(sales if i % 2 else support)

    claims, errors = run_routers(ROUTERS)

    assert not errors
    reservations = list(Reservation.objects.all())
    assert sorted(claims) == sorted(r.pk for r in reservations)  # every claim accounted for
    per_call = Counter(r.call_id for r in reservations)
    assert max(per_call.values()) == 1  # no call offered twice
    per_agent = Counter(r.agent_id for r in reservations)
    assert len(reservations) == len(agents)  # one ringing offer per agent, five agents
    for agent in Agent.objects.all():
        assert agent.active_calls == per_agent[agent.pk] <= agent.max_concurrent_calls
