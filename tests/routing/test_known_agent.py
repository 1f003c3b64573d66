"""Known-agent routing: a returning caller is offered first to the agent they last spoke with,
waits for them a short while when they are busy, and falls back to the queue's strategy."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.test import override_settings
from django.utils import timezone

from callcenter.choices import CallDirection
from callcenter.models import Agent, Call
from routing.models import Reservation
from routing.services import routing_claim_next
from tests.concurrency import run_routers
from tests.factories import AgentFactory, QueueFactory, ended_call, waiting_call

pytestmark = pytest.mark.django_db
NUMBER = "+14155550123"


def available(queue, *, idle_minutes=0, **fields) -> Agent:
    agent = AgentFactory(queues=[queue])
    Agent.objects.filter(pk=agent.pk).update(
        status="available", idle_since=timezone.now() - timedelta(minutes=idle_minutes), **fields
    )
    return Agent.objects.get(pk=agent.pk)


def spoke_with(agent, *, hours_ago=1, number=NUMBER, answered=True, **fields) -> Call:
    """An earlier call of the caller, with `agent` (answered, unless told otherwise)."""
    call = ended_call(agent=agent, from_number=number, **fields)
    shift = timedelta(hours=hours_ago)
    Call.objects.filter(pk=call.pk).update(
        created_at=call.created_at - shift,
        enqueued_at=call.enqueued_at - shift,
        answered_at=call.answered_at - shift if answered else None,
        ended_at=call.ended_at - shift,
    )
    return call


def returning(queue, number=NUMBER, **kwargs) -> Call:
    """The caller is back, entered the queue two seconds ago."""
    return waiting_call(queue, from_number=number, waited=timedelta(seconds=2), **kwargs)


def claim(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        return routing_claim_next()


@pytest.fixture
def queue():
    return QueueFactory()


def test_a_returning_caller_goes_to_the_agent_they_spoke_with(
    queue, django_capture_on_commit_callbacks
):
    available(queue, idle_minutes=60)  # the strategy's choice
    known = available(queue, idle_minutes=1)
    spoke_with(known, hours_ago=30)
    call = returning(queue)
    offer = claim(django_capture_on_commit_callbacks)
    assert (offer.call_id, offer.agent) == (call.pk, known)
    call.refresh_from_db()
    assert call.preferred_agent == known
    assert call.preferred_agent_until == call.enqueued_at + timedelta(seconds=20)


def test_the_call_waits_for_its_busy_agent_then_goes_to_anyone(
    queue, django_capture_on_commit_callbacks
):
    other = available(queue, idle_minutes=60)
    known = available(queue, activity="on_call", active_calls=1)  # talking, still logged in
    spoke_with(known)
    caller = returning(queue)
    assert claim(django_capture_on_commit_callbacks) is None  # waits for the known agent
    # Other callers are not held up behind it.
    newcomer = waiting_call(queue, waited=timedelta(seconds=1))
    assert claim(django_capture_on_commit_callbacks).call_id == newcomer.pk
    Agent.objects.filter(pk=other.pk).update(activity="idle", active_calls=0)
    Reservation.objects.update(status="completed", ended_at=timezone.now())
    assert claim(django_capture_on_commit_callbacks) is None  # still within the wait
    # After KNOWN_AGENT_WAIT_SECONDS, anyone.
    Call.objects.filter(pk=caller.pk).update(
        preferred_agent_until=timezone.now() - timedelta(seconds=1)
    )
    offer = claim(django_capture_on_commit_callbacks)
    assert (offer.call_id, offer.agent) == (caller.pk, other)


def test_the_known_agent_is_waited_for_through_a_reject_delay(
    queue, django_capture_on_commit_callbacks
):
    available(queue, idle_minutes=60)
    known = available(queue, not_before=timezone.now() + timedelta(seconds=30))
    spoke_with(known)
    returning(queue)
    assert claim(django_capture_on_commit_callbacks) is None


@pytest.mark.parametrize("status", ["offline", "away"])
def test_no_wait_for_a_known_agent_who_is_not_taking_calls(
    queue, status, django_capture_on_commit_callbacks
):
    other = available(queue, idle_minutes=60)
    known = available(queue)
    Agent.objects.filter(pk=known.pk).update(
        status=status, away_reason="lunch" if status == "away" else ""
    )
    spoke_with(known)
    returning(queue)
    assert claim(django_capture_on_commit_callbacks).agent == other


def test_no_wait_for_a_known_agent_who_missed_this_call(queue, django_capture_on_commit_callbacks):
    other = available(queue, idle_minutes=60)
    known = available(queue)
    spoke_with(known)
    call = returning(queue)
    now = timezone.now()
    Reservation.objects.create(
        call=call,
        agent=known,
        queue=queue,
        status="rejected",
        offered_at=now,
        expires_at=now + timedelta(seconds=20),
        ended_at=now,
    )
    assert claim(django_capture_on_commit_callbacks).agent == other


def test_the_latest_answered_call_decides_inbound_or_placed_by_us(
    queue, django_capture_on_commit_callbacks
):
    earlier, later, callback_agent = available(queue), available(queue), available(queue)
    spoke_with(earlier, hours_ago=10)
    spoke_with(later, hours_ago=5)
    # An agent who could not answer (an unanswered call with them) does not count.
    spoke_with(earlier, hours_ago=1, answered=False)
    # A callback we placed to the same number, more recent, wins.
    spoke_with(
        callback_agent,
        hours_ago=2,
        number="+15005550006",
        direction=CallDirection.OUTBOUND_API,
        to_number=NUMBER,
    )
    returning(queue)
    assert claim(django_capture_on_commit_callbacks).agent == callback_agent


def test_the_latest_answered_inbound_call_decides(queue, django_capture_on_commit_callbacks):
    earlier, later = available(queue, idle_minutes=60), available(queue)
    spoke_with(earlier, hours_ago=10)
    spoke_with(later, hours_ago=5)
    spoke_with(earlier, hours_ago=1, answered=False)
    returning(queue)
    assert claim(django_capture_on_commit_callbacks).agent == later


@override_settings(KNOWN_AGENT_WINDOW_HOURS=24)
def test_a_conversation_outside_the_window_does_not_count(
    queue, django_capture_on_commit_callbacks
):
    strategy = available(queue, idle_minutes=60)
    known = available(queue)
    spoke_with(known, hours_ago=25)
    call = returning(queue)
    assert claim(django_capture_on_commit_callbacks).agent == strategy
    call.refresh_from_db()
    assert call.preferred_agent is None and call.preferred_agent_until is not None  # resolved


def test_a_known_agent_outside_the_queue_is_not_preferred(
    queue, django_capture_on_commit_callbacks
):
    strategy = available(queue, idle_minutes=60)
    elsewhere = available(QueueFactory())
    spoke_with(elsewhere)
    call = returning(queue)
    assert claim(django_capture_on_commit_callbacks).agent == strategy
    assert Call.objects.get(pk=call.pk).preferred_agent is None


@override_settings(KNOWN_AGENT_WAIT_SECONDS=0)
def test_disabled_with_no_wait(queue, django_capture_on_commit_callbacks):
    strategy = available(queue, idle_minutes=60)
    spoke_with(available(queue))
    returning(queue)
    assert claim(django_capture_on_commit_callbacks).agent == strategy


def test_the_known_agent_is_resolved_once_per_call(queue, django_capture_on_commit_callbacks):
    first = available(queue, activity="on_call", active_calls=1)
    spoke_with(first, hours_ago=2)
    call = returning(queue)
    assert claim(django_capture_on_commit_callbacks) is None  # waits for `first`
    # A newer conversation with someone else appears: the call keeps its resolved preference.
    newer = available(queue)
    spoke_with(newer, hours_ago=1)
    assert claim(django_capture_on_commit_callbacks) is None
    assert Call.objects.get(pk=call.pk).preferred_agent == first


def test_a_preferred_agent_needs_a_deadline(queue):
    call = waiting_call(queue)
    with pytest.raises(IntegrityError), transaction.atomic():
        Call.objects.filter(pk=call.pk).update(preferred_agent=available(queue))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_routers_give_each_returning_caller_their_agent():
    queue = QueueFactory()
    callers = 4
    known = [available(queue, idle_minutes=1) for _ in range(callers)]
    for _ in range(callers):
        available(queue, idle_minutes=60)  # the strategy would pick these first
    numbers = [f"+1415777{n:04d}" for n in range(callers)]
    for agent, number in zip(known, numbers, strict=True):
        spoke_with(agent, number=number)
    calls = [returning(queue, number) for number in numbers]
    _claims, errors = run_routers(8)
    assert not errors
    offers = {r.call_id: r.agent_id for r in Reservation.objects.all()}
    assert offers == {call.pk: agent.pk for call, agent in zip(calls, known, strict=True)}
