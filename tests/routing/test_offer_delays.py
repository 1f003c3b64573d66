"""Reject and no-answer delays: an agent who rejected (busy) or missed (no answer) an offer is
offered nothing for the queue's delay; the call they missed goes to someone else next."""

from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from callcenter.choices import CallStage
from callcenter.models import Agent, Call, Queue
from routing.lifecycle import routing_after_call_change
from routing.models import Reservation, ReservationStatus
from routing.services import routing_claim_next
from routing.tasks import routing_run_task
from tests.factories import AgentFactory, QueueFactory, waiting_call

pytestmark = pytest.mark.django_db


def available(queue, *, idle_minutes=0) -> Agent:
    agent = AgentFactory(queues=[queue])
    Agent.objects.filter(pk=agent.pk).update(
        status="available", idle_since=timezone.now() - timedelta(minutes=idle_minutes)
    )
    return Agent.objects.get(pk=agent.pk)


def claim(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        return routing_claim_next()


def end_leg(reservation, leg_status, django_capture_on_commit_callbacks) -> list:
    """The agent's leg ended unanswered, as the applied callbacks leave it; what it left to
    do after commit."""
    Call.objects.filter(pk=reservation.call_id).update(stage=CallStage.WAITING)
    leg = Call.objects.create(
        call_sid=f"CAleg{reservation.pk:029x}",
        direction="outbound-api",
        parent=reservation.call,
        agent=reservation.agent,
        status=leg_status,
        stage=CallStage.ENDED,
        created_at=reservation.offered_at,
        ended_at=timezone.now(),
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        routing_after_call_change(leg)
    return callbacks


@pytest.mark.parametrize(
    ("leg_status", "delay_field"),
    [("busy", "reject_delay_seconds"), ("no-answer", "no_answer_delay_seconds")],
)
def test_a_miss_holds_the_agent_back_for_the_queue_delay(
    leg_status, delay_field, django_capture_on_commit_callbacks
):
    queue = QueueFactory(**{delay_field: 30})
    first = available(queue, idle_minutes=30)
    second = available(queue, idle_minutes=1)
    call = waiting_call(queue, waited=timedelta(seconds=60))
    offer = claim(django_capture_on_commit_callbacks)
    assert offer.agent == first
    after_commit = end_leg(offer, leg_status, django_capture_on_commit_callbacks)
    first.refresh_from_db()
    delay = (first.not_before - timezone.now()).total_seconds()
    assert 25 < delay <= 30
    assert first.activity == "idle" and first.active_calls == 0

    # Routing is asked once, at commit (the agent idle again, the call waiting again)...
    asks = [callback for callback in after_commit if callback == routing_run_task.delay]
    assert len(asks) == 1
    assert not Reservation.objects.filter(status=ReservationStatus.OFFERED).exists()
    asks[0]()
    # ...and the missed call went to the next agent, not back to the one who missed it.
    retry = Reservation.objects.get(status=ReservationStatus.OFFERED)
    assert (retry.call_id, retry.agent) == (call.pk, second)

    # Within the delay, the agent is offered no other call either.
    waiting_call(queue, waited=timedelta(seconds=5))
    assert claim(django_capture_on_commit_callbacks) is None

    # Once it is over, the agent is offered the next caller again.
    Agent.objects.filter(pk=first.pk).update(not_before=timezone.now() - timedelta(seconds=1))
    assert claim(django_capture_on_commit_callbacks).agent == first


def test_the_delay_that_applies_is_the_one_of_the_miss(django_capture_on_commit_callbacks):
    queue = QueueFactory(reject_delay_seconds=5, no_answer_delay_seconds=120)
    agent = available(queue)
    waiting_call(queue)
    end_leg(claim(django_capture_on_commit_callbacks), "busy", django_capture_on_commit_callbacks)
    agent.refresh_from_db()
    assert (agent.not_before - timezone.now()).total_seconds() <= 5


def test_no_delay_by_default_but_never_the_same_call_again(django_capture_on_commit_callbacks):
    queue = QueueFactory()
    assert (queue.reject_delay_seconds, queue.no_answer_delay_seconds) == (0, 0)
    agent = available(queue)
    missed = waiting_call(queue, waited=timedelta(seconds=60))
    offer = claim(django_capture_on_commit_callbacks)
    end_leg(offer, "no-answer", django_capture_on_commit_callbacks)
    agent.refresh_from_db()
    assert agent.not_before is None
    # Alone in the queue, the agent is not offered the call they missed again...
    assert claim(django_capture_on_commit_callbacks) is None
    # ...but is offered the next caller at once.
    other = waiting_call(queue, waited=timedelta(seconds=5))
    offer = claim(django_capture_on_commit_callbacks)
    assert (offer.call_id, offer.agent) == (other.pk, agent)
    assert Call.objects.get(pk=missed.pk).stage == CallStage.WAITING


def test_a_shorter_delay_never_shortens_a_longer_one(django_capture_on_commit_callbacks):
    queue = QueueFactory(reject_delay_seconds=5)
    agent = available(queue)
    later = timezone.now() + timedelta(minutes=10)
    waiting_call(queue)
    offer = claim(django_capture_on_commit_callbacks)
    Agent.objects.filter(pk=agent.pk).update(not_before=later)
    end_leg(offer, "busy", django_capture_on_commit_callbacks)
    assert Agent.objects.get(pk=agent.pk).not_before == later


def test_negative_delays_are_refused_by_the_database():
    queue = QueueFactory()
    with pytest.raises(IntegrityError):
        Queue.objects.filter(pk=queue.pk).update(reject_delay_seconds=-1)
