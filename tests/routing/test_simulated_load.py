"""Routing under a simulated load (the Routing issue's end-to-end acceptance): 300 callers and
12 agents with misses, rejects and callers hanging up, the Twilio simulator against a live
server on PostgreSQL and Redis. Every call ends answered, abandoned, voicemail or callback;
no agent ever had more offers at once than its capacity, no call two offers at once, and
nobody stays reserved."""

from collections import Counter, defaultdict

import pytest
from django.core.management import call_command

from callcenter.choices import CallStage, MaxWaitAction
from callcenter.models import Agent, Call, Queue
from callcenter.services import agent_set_status
from routing.models import Reservation
from telephony.simulator.config import AgentBehaviour, CallerBehaviour
from tests.factories import AgentFactory
from tests.simulation import simulated_twilio, wait_until_settled

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

CALLS, AGENTS = 300, 12
FINAL_OUTCOMES = {"answered", "abandoned", "short_abandoned", "voicemail", "callback"}


@pytest.fixture
def center(live_server):
    call_command("seed_demo", verbosity=0)
    queues = list(Queue.objects.order_by("name"))
    # The wait loop asks the waitUrl again every announce interval (60 simulated seconds, 5
    # real ones here): a maximum wait between two of its asks, not next to one, so callers
    # reach it however fast the server answers.
    Queue.objects.update(business_hours={}, max_wait_seconds=8, wrap_up_seconds=0)
    Queue.objects.filter(name="Support").update(max_wait_action=MaxWaitAction.CALLBACK)
    members = Agent.objects.filter(memberships__isnull=False).distinct()  # not the supervisor
    for n in range(AGENTS - members.count()):
        AgentFactory(queues=[queues[n % len(queues)], queues[(n + 1) % len(queues)]])
    for agent in members:
        agent_set_status(agent_id=agent.pk, status="available")
    return live_server


def _max_overlap(intervals) -> int:
    """The most intervals open at one moment ((start, end) pairs; end None = still open)."""
    edges = sorted(
        [(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals if end],
        key=lambda edge: (edge[0], edge[1]),  # an end before a start at the same instant
    )
    peak = current = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak


def test_three_hundred_callers_twelve_agents(center, settings):
    with simulated_twilio(
        settings,
        center.url,
        seed=23,
        # Slow enough that our webhook round trips stay small in simulated time: at 25x
        # a 100 ms hop is 2.5 simulated seconds and agents gave up before callers arrived.
        speed=12.0,
        callers=CallerBehaviour(
            patience_mean_seconds=150, callback_probability=0.15, menu_hangup_probability=0.0
        ),
        agents=AgentBehaviour(
            miss_probability=0.1, reject_probability=0.05, talk_median_seconds=60
        ),
    ) as simulator:
        # A little over what twelve agents can take: some callers wait, give up or leave.
        truth = simulator.run_traffic(CALLS, calls_per_minute=14, timeout=900)
        wait_until_settled(120)  # late callbacks, and the callbacks agents return
        legs = [c for c in simulator.ground_truth()["calls"] if c["role"] == "agent"]

    assert truth["server_error_count"] == 0, truth["non_2xx"][:5]
    callers = [c for c in truth["calls"] if c["role"] == "caller"]
    assert len(callers) == CALLS
    ours = Call.objects.in_bulk([c["call_sid"] for c in callers], field_name="call_sid")
    outcomes = Counter(call.outcome for call in ours.values())
    assert len(ours) == CALLS and set(outcomes) <= FINAL_OUTCOMES, outcomes
    assert all(call.stage == CallStage.ENDED for call in ours.values())
    assert {"answered", "voicemail", "callback"} <= set(outcomes), outcomes
    assert outcomes["abandoned"] + outcomes["short_abandoned"] > 0, outcomes
    for record in callers:  # who answered agrees with the simulator
        call = ours[record["call_sid"]]
        if record["outcome"] == "answered":
            assert call.outcome == "answered"
            assert call.agent.softphone_identity == record["agent_identity"]
    assert any(leg["status"] == "no-answer" for leg in legs)
    assert any(leg["status"] == "busy" for leg in legs)

    per_agent, per_call = defaultdict(list), defaultdict(list)
    for reservation in Reservation.objects.all():
        span = (reservation.offered_at, reservation.ended_at)
        per_agent[reservation.agent_id].append(span)
        per_call[reservation.call_id].append(span)
    capacity = dict(Agent.objects.values_list("pk", "max_concurrent_calls"))
    for agent_id, spans in per_agent.items():
        assert _max_overlap(spans) <= capacity[agent_id], agent_id
    assert all(_max_overlap(spans) == 1 for spans in per_call.values())
    assert Reservation.objects.count() == len(legs)  # every ring was a reservation
    for agent in Agent.objects.all():
        assert agent.active_calls == 0 and agent.activity in ("idle", "wrap_up"), agent
