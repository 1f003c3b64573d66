"""The reservation lifecycle: accepted, completed with wrap-up, missed (and away after
repeated misses), canceled when the caller leaves, and the sweep's safety net."""

from datetime import timedelta

import pytest
from django.utils import timezone

from callcenter.choices import AgentActivity, AgentStatus, CallStage
from callcenter.models import Agent, Call
from routing.lifecycle import MAX_MISSES, MISSED_REASON, routing_after_call_change, routing_sweep
from routing.models import Reservation, ReservationStatus
from routing.services import routing_claim_next
from telephony.models import Operation, OperationKind
from tests.factories import AgentFactory, CallFactory, QueueFactory, waiting_call

pytestmark = pytest.mark.django_db


@pytest.fixture
def offer(django_capture_on_commit_callbacks):
    """A waiting call offered to an available agent; returns (reservation, agent leg maker)."""
    queue = QueueFactory(wrap_up_seconds=30)
    agent = AgentFactory(queues=[queue])
    Agent.objects.filter(pk=agent.pk).update(status="available")
    waiting_call(queue)
    with django_capture_on_commit_callbacks(execute=False):
        reservation = routing_claim_next()
    return reservation


def leg(reservation, **fields) -> Call:
    """The agent's leg as the applied callbacks left it."""
    defaults = {
        "call_sid": f"CA{reservation.pk:032x}",
        "direction": "outbound-api",
        "parent": reservation.call,
        "agent": reservation.agent,
        "created_at": reservation.offered_at,
    }
    call, _ = Call.objects.update_or_create(
        call_sid=defaults["call_sid"], defaults={**defaults, **fields}
    )
    return call


def change(call, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        routing_after_call_change(call)


def state(reservation):
    reservation.refresh_from_db()
    agent = Agent.objects.get(pk=reservation.agent_id)
    return reservation.status, agent


def test_answered_then_completed_starts_wrap_up(offer, django_capture_on_commit_callbacks):
    now = timezone.now()
    change(leg(offer, status="in-progress", answered_at=now), django_capture_on_commit_callbacks)
    status, agent = state(offer)
    assert status == ReservationStatus.ACCEPTED
    assert (agent.activity, agent.active_calls) == (AgentActivity.ON_CALL, 1)
    ended = leg(
        offer,
        status="completed",
        stage=CallStage.ENDED,
        answered_at=now,
        ended_at=now + timedelta(seconds=90),
        talk_seconds=90,
    )
    change(ended, django_capture_on_commit_callbacks)
    status, agent = state(offer)
    assert status == ReservationStatus.COMPLETED
    assert (agent.activity, agent.active_calls) == (AgentActivity.WRAP_UP, 0)
    assert agent.wrap_up_until > timezone.now() + timedelta(seconds=25)
    assert (agent.calls_answered_today, agent.talk_seconds_today) == (1, 90)


@pytest.mark.parametrize(
    ("leg_status", "closed"), [("no-answer", "timed_out"), ("busy", "rejected")]
)
def test_a_missed_offer_frees_the_agent_and_the_call_waits_again(
    offer, leg_status, closed, django_capture_on_commit_callbacks
):
    now = timezone.now()
    Call.objects.filter(pk=offer.call_id).update(stage=CallStage.WAITING)  # follow_agent_leg's job
    change(
        leg(offer, status=leg_status, stage=CallStage.ENDED, ended_at=now),
        django_capture_on_commit_callbacks,
    )
    status, agent = state(offer)
    assert status == closed
    assert (agent.activity, agent.active_calls, agent.consecutive_missed_offers) == ("idle", 0, 1)


def test_repeated_misses_set_the_agent_away(offer, django_capture_on_commit_callbacks):
    Agent.objects.filter(pk=offer.agent_id).update(consecutive_missed_offers=MAX_MISSES - 1)
    change(
        leg(offer, status="no-answer", stage=CallStage.ENDED, ended_at=timezone.now()),
        django_capture_on_commit_callbacks,
    )
    _, agent = state(offer)
    assert (agent.status, agent.away_reason) == (AgentStatus.AWAY, MISSED_REASON)


def test_caller_leaving_cancels_the_offer_and_stops_the_ring(
    offer, django_capture_on_commit_callbacks
):
    ringing = leg(offer, status="ringing")
    now = timezone.now()
    Call.objects.filter(pk=offer.call_id).update(
        stage=CallStage.ENDED, status="completed", ended_at=now
    )
    change(Call.objects.get(pk=offer.call_id), django_capture_on_commit_callbacks)
    status, agent = state(offer)
    assert status == ReservationStatus.CANCELED
    assert (agent.activity, agent.active_calls) == (AgentActivity.IDLE, 0)
    assert Operation.objects.filter(kind=OperationKind.HANGUP, call_sid=ringing.call_sid).exists()
    # The ring's own end later is no miss: the offer is already closed.
    change(
        leg(offer, status="no-answer", stage=CallStage.ENDED, ended_at=now),
        django_capture_on_commit_callbacks,
    )
    assert state(offer)[1].consecutive_missed_offers == 0


def test_a_call_never_queued_settles_nothing_without_asking(django_assert_num_queries):
    """The commonest change applied (a call's end that never reached a queue: a menu hang-up,
    a click-to-call customer) costs routing no query."""
    now = timezone.now()
    call = CallFactory(
        queue=None, stage=CallStage.ENDED, status="completed", created_at=now, ended_at=now
    )
    with django_assert_num_queries(0):
        routing_after_call_change(call)
        routing_after_call_change(None)


def test_sweep_ends_wrap_ups_and_expires_lost_offers(offer, django_capture_on_commit_callbacks):
    Reservation.objects.filter(pk=offer.pk).update(
        expires_at=timezone.now() - timedelta(minutes=5),
        offered_at=timezone.now() - timedelta(minutes=6),
    )
    wrapped = AgentFactory()
    Agent.objects.filter(pk=wrapped.pk).update(
        status="available", activity="wrap_up", wrap_up_until=timezone.now() - timedelta(seconds=1)
    )
    with django_capture_on_commit_callbacks(execute=False):
        assert routing_sweep() == {"wrap_ups_ended": 1, "offers_expired": 1, "escalated": 0}
        # Idempotent.
        assert routing_sweep() == {"wrap_ups_ended": 0, "offers_expired": 0, "escalated": 0}
    status, agent = state(offer)
    assert status == ReservationStatus.TIMED_OUT and agent.active_calls == 0
    assert Call.objects.get(pk=offer.call_id).stage == CallStage.WAITING
    assert Agent.objects.get(pk=wrapped.pk).activity == AgentActivity.IDLE
