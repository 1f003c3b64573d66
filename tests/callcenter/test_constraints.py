"""Invariants live in the database: each violation raises IntegrityError."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from callcenter.choices import AgentActivity, AgentStatus, CallStage, CallStatus, MaxWaitAction
from callcenter.models import Agent, AgentStatusEvent, Call, CallEvent, PhoneNumber, Queue
from tests.factories import AgentFactory, CallFactory, QueueFactory

pytestmark = pytest.mark.django_db


def violates(fn) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        fn()


def test_agent_active_calls_stay_within_capacity():
    agent = AgentFactory(max_concurrent_calls=2)
    Agent.objects.filter(pk=agent.pk).update(active_calls=2)
    violates(lambda: Agent.objects.filter(pk=agent.pk).update(active_calls=3))
    violates(lambda: Agent.objects.filter(pk=agent.pk).update(max_concurrent_calls=0))


def test_agent_away_reason_only_when_away_and_wrap_up_needs_deadline():
    agent = AgentFactory()
    violates(lambda: Agent.objects.filter(pk=agent.pk).update(away_reason="lunch"))
    violates(lambda: Agent.objects.filter(pk=agent.pk).update(activity=AgentActivity.WRAP_UP))
    violates(lambda: Agent.objects.filter(pk=agent.pk).update(status="busy"))
    Agent.objects.filter(pk=agent.pk).update(status=AgentStatus.AWAY, away_reason="lunch")


def test_queue_overflow_needs_a_target_other_than_itself():
    violates(lambda: QueueFactory(max_wait_action=MaxWaitAction.OVERFLOW))
    queue = QueueFactory()
    violates(lambda: Queue.objects.filter(pk=queue.pk).update(overflow_queue=queue))
    violates(lambda: Queue.objects.filter(pk=queue.pk).update(ring_timeout_seconds=1))


def test_phone_number_goes_to_exactly_one_of_queue_or_menu():
    violates(lambda: PhoneNumber.objects.create(e164="+15005550001"))
    violates(lambda: PhoneNumber.objects.create(e164="0800 123", default_queue=QueueFactory()))


def test_call_sid_is_unique():
    CallFactory(call_sid="CA1")
    violates(lambda: CallFactory(call_sid="CA1"))


def test_call_times_are_ordered_and_durations_non_negative():
    now = timezone.now()
    violates(lambda: CallFactory(created_at=now, answered_at=now - timedelta(seconds=1)))
    violates(lambda: CallFactory(created_at=now, enqueued_at=now - timedelta(seconds=1)))
    violates(
        lambda: CallFactory(
            created_at=now,
            answered_at=now + timedelta(seconds=9),
            ended_at=now + timedelta(seconds=5),
            stage=CallStage.ENDED,
            status=CallStatus.COMPLETED,
        )
    )
    call = CallFactory()
    violates(lambda: Call.objects.filter(pk=call.pk).update(hold_seconds=-1))


def test_call_stage_agrees_with_end_and_status():
    violates(lambda: CallFactory(stage=CallStage.ENDED))  # ended without ended_at
    violates(lambda: CallFactory(ended_at=timezone.now()))  # ended_at but not ended
    violates(lambda: CallFactory(status=CallStatus.COMPLETED))  # terminal but not ended
    violates(lambda: CallFactory(stage=CallStage.WAITING))  # waiting without a queue


def test_event_logs_are_append_only():
    call = CallFactory()
    event = CallEvent.objects.create(
        dedup_key="CA1:call-progress-events:0",
        call=call,
        call_sid=call.call_sid,
        source="call-progress-events",
        kind="status",
    )
    with pytest.raises(TypeError):
        event.save()
    violates(
        lambda: CallEvent.objects.create(
            dedup_key=event.dedup_key, call_sid=call.call_sid, source="x", kind="status"
        )
    )


@pytest.mark.postgres
def test_postgres_refuses_updates_of_audit_rows():
    agent = AgentFactory()
    AgentStatusEvent.objects.create(
        agent=agent,
        from_status="offline",
        to_status="available",
        from_activity="idle",
        to_activity="idle",
        source="agent",
        occurred_at=timezone.now(),
    )
    assert connection.vendor == "postgresql"
    with pytest.raises(IntegrityError), transaction.atomic():
        AgentStatusEvent.objects.update(reason="rewritten")
