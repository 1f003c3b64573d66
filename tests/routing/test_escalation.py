"""Escalation steps: after X seconds in a queue, raise the caller's priority, move them to
another queue, or widen the tiers they may be offered to; each step once per queue entry, in
order, by the sweep, never twice under concurrent sweeps."""

import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

import callcenter.notifications
from callcenter.choices import CallStage, EscalationAction
from callcenter.models import Agent, Call, CallEvent, QueueMembership
from callcenter.models.queues import EscalationStep
from routing.escalation import routing_escalate
from routing.lifecycle import routing_sweep
from routing.services import routing_claim_next
from routing.tasks import routing_sweep_task
from telephony.models import Operation, OperationKind
from tests.factories import AgentFactory, QueueFactory, waiting_call

pytestmark = pytest.mark.django_db

RAISE, MOVE, WIDEN = (
    EscalationAction.RAISE_PRIORITY,
    EscalationAction.MOVE_TO_QUEUE,
    EscalationAction.WIDEN_TIER,
)


def step(queue, after_seconds, action, **params) -> EscalationStep:
    return EscalationStep.objects.create(
        queue=queue, after_seconds=after_seconds, action=action, **params
    )


def waited(call, seconds) -> Call:
    """The caller has now waited `seconds` in their queue."""
    at = timezone.now() - timedelta(seconds=seconds)
    Call.objects.filter(pk=call.pk).update(enqueued_at=at, created_at=at)
    return Call.objects.get(pk=call.pk)


def escalate(django_capture_on_commit_callbacks) -> int:
    with django_capture_on_commit_callbacks(execute=False):
        return routing_escalate()


def audit(call) -> list[int]:
    events = CallEvent.objects.filter(call=call, kind="escalation").order_by("id")
    return [event.payload["step"] for event in events]


def member(queue, level, *, available=True) -> Agent:
    agent = AgentFactory()
    QueueMembership.objects.create(agent=agent, queue=queue, level=level)
    if available:
        Agent.objects.filter(pk=agent.pk).update(status="available")
    return agent


def test_priority_steps_apply_in_order_once_each(django_capture_on_commit_callbacks, monkeypatch):
    queue = QueueFactory()
    first, second = step(queue, 30, RAISE, priority=3), step(queue, 60, RAISE, priority=7)
    call = waited(waiting_call(queue), 10)
    assert escalate(django_capture_on_commit_callbacks) == 0  # nothing due yet

    frames = []
    monkeypatch.setattr(
        callcenter.notifications, "broadcast", lambda groups, kind, data: frames.append(data)
    )
    waited(call, 45)
    assert escalate(django_capture_on_commit_callbacks) == 1
    call.refresh_from_db()
    assert (call.priority, call.escalation_step_id) == (3, first.pk)
    # Dashboards hear of it (call.updated, through call_facts.save_fields).
    assert [(f["id"], f["priority"]) for f in frames] == [(call.pk, 3)]
    assert escalate(django_capture_on_commit_callbacks) == 0  # once

    waited(call, 75)
    assert escalate(django_capture_on_commit_callbacks) == 1
    call.refresh_from_db()
    assert (call.priority, call.escalation_step_id) == (7, second.pk)
    assert audit(call) == [first.pk, second.pk]


def test_overdue_steps_apply_together_in_order(django_capture_on_commit_callbacks):
    queue = QueueFactory()
    steps = [step(queue, 10, RAISE, priority=2), step(queue, 20, RAISE, priority=4)]
    call = waited(waiting_call(queue), 300)
    assert escalate(django_capture_on_commit_callbacks) == 2
    call.refresh_from_db()
    assert (call.priority, call.escalation_step_id) == (4, steps[1].pk)
    assert audit(call) == [s.pk for s in steps]


def test_a_raise_never_lowers_a_higher_priority(django_capture_on_commit_callbacks):
    queue = QueueFactory()
    step(queue, 10, RAISE, priority=3)
    call = waited(waiting_call(queue, priority=9), 20)
    assert escalate(django_capture_on_commit_callbacks) == 1
    assert Call.objects.get(pk=call.pk).priority == 9


def test_only_waiting_callers_escalate(django_capture_on_commit_callbacks):
    queue = QueueFactory()
    step(queue, 10, RAISE, priority=5)
    call = waited(waiting_call(queue), 60)
    Call.objects.filter(pk=call.pk).update(stage=CallStage.OFFERED)  # ringing an agent
    assert escalate(django_capture_on_commit_callbacks) == 0
    Call.objects.filter(pk=call.pk).update(stage=CallStage.WAITING)  # the agent missed it
    assert escalate(django_capture_on_commit_callbacks) == 1
    assert Call.objects.get(pk=call.pk).priority == 5


def test_move_to_another_queue_redirects_the_caller(django_capture_on_commit_callbacks):
    queue, overflow = QueueFactory(), QueueFactory()
    move = step(queue, 60, MOVE, target_queue=overflow)
    step(queue, 90, RAISE, priority=5)  # after the move: never in this entry
    call = waited(waiting_call(queue), 120)
    Call.objects.filter(pk=call.pk).update(max_tier_level=2)
    assert escalate(django_capture_on_commit_callbacks) == 1
    call.refresh_from_db()
    # Out of routing's reach until Twilio redirects it into the other queue.
    assert call.stage == CallStage.NEW and call.priority == 0
    assert (call.escalation_step_id, call.max_tier_level) == (move.pk, None)
    (redirect,) = Operation.objects.filter(kind=OperationKind.REDIRECT)
    assert redirect.call_sid == call.call_sid
    assert f"queue={overflow.pk}" in redirect.params["url"]
    assert escalate(django_capture_on_commit_callbacks) == 0


def test_the_other_queue_steps_start_over(django_capture_on_commit_callbacks):
    queue, overflow = QueueFactory(), QueueFactory()
    move = step(queue, 60, MOVE, target_queue=overflow)
    later = step(overflow, 30, RAISE, priority=4)
    call = waited(waiting_call(queue), 61)
    escalate(django_capture_on_commit_callbacks)
    # Twilio's redirect enqueued the caller in the other queue (call_enqueue): a new entry.
    Call.objects.filter(pk=call.pk).update(
        queue=overflow, stage=CallStage.WAITING, enqueued_at=timezone.now()
    )
    assert escalate(django_capture_on_commit_callbacks) == 0
    waited(call, 31)
    assert escalate(django_capture_on_commit_callbacks) == 1
    assert audit(call) == [move.pk, later.pk]


def test_a_tier_widening_queue_offers_its_first_tier_only_until_a_step_widens(
    django_capture_on_commit_callbacks,
):
    queue = QueueFactory()  # a widen step makes it tiered
    member(queue, 1, available=False)  # first line: logged off
    backup = member(queue, 2)
    third = member(queue, 3)
    widen = step(queue, 30, WIDEN)
    call = waited(waiting_call(queue), 10)
    with django_capture_on_commit_callbacks(execute=False):
        assert routing_claim_next() is None  # level 1 only, and nobody there is free

    waited(call, 31)
    with django_capture_on_commit_callbacks(execute=False):
        result = routing_sweep_task()  # escalates, then routes
    assert (result["escalated"], result["offered"]) == (1, 1)
    call.refresh_from_db()
    assert (call.max_tier_level, call.escalation_step_id) == (2, widen.pk)
    assert call.stage == CallStage.OFFERED
    assert call.reservations.get().agent == backup
    assert Agent.objects.get(pk=third.pk).active_calls == 0


def test_widening_skips_empty_tiers_and_stops_at_the_last(django_capture_on_commit_callbacks):
    queue = QueueFactory()
    member(queue, 1, available=False)
    member(queue, 5, available=False)
    step(queue, 10, WIDEN)
    step(queue, 20, WIDEN)
    call = waited(waiting_call(queue), 25)
    assert escalate(django_capture_on_commit_callbacks) == 2
    assert Call.objects.get(pk=call.pk).max_tier_level == 5


def test_a_level_widened_in_another_queue_does_not_count(django_capture_on_commit_callbacks):
    old, queue = QueueFactory(), QueueFactory()
    old_step = step(old, 10, WIDEN)
    step(queue, 600, WIDEN)
    member(queue, 1, available=False)
    member(queue, 2)
    call = waited(waiting_call(queue), 5)
    Call.objects.filter(pk=call.pk).update(escalation_step=old_step, max_tier_level=2)
    with django_capture_on_commit_callbacks(execute=False):
        assert routing_claim_next() is None


def test_without_widen_steps_every_tier_serves_as_before(django_capture_on_commit_callbacks):
    queue = QueueFactory(use_tiers=True)
    step(queue, 600, RAISE, priority=1)
    member(queue, 1, available=False)
    backup = member(queue, 2)
    waiting_call(queue)
    with django_capture_on_commit_callbacks(execute=False):
        assert routing_claim_next().agent == backup


def test_the_sweep_reports_escalations(django_capture_on_commit_callbacks):
    queue = QueueFactory()
    step(queue, 10, RAISE, priority=1)
    waited(waiting_call(queue), 20)
    with django_capture_on_commit_callbacks(execute=False):
        assert routing_sweep()["escalated"] == 1


@pytest.mark.parametrize(
    "params",
    [
        {"action": RAISE},  # no priority
        {"action": RAISE, "priority": 3, "target_queue": "other"},
        {"action": MOVE},  # no target
        {"action": MOVE, "target_queue": "other", "priority": 1},
        {"action": WIDEN, "priority": 1},
        {"action": WIDEN, "target_queue": "other"},
        {"action": MOVE, "target_queue": "self"},  # to itself
        {"action": "teleport"},
    ],
)
def test_a_step_has_exactly_the_parameters_its_action_needs(params):
    queue, other = QueueFactory(), QueueFactory()
    params = dict(params)
    if "target_queue" in params:
        params["target_queue"] = queue if params["target_queue"] == "self" else other
    with pytest.raises(IntegrityError), transaction.atomic():
        step(queue, 30, **params)


def test_one_step_per_moment():
    queue = QueueFactory()
    step(queue, 30, RAISE, priority=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        step(queue, 30, WIDEN)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_sweeps_apply_each_step_once():
    queue, overflow = QueueFactory(), QueueFactory()
    steps = [step(queue, 10, RAISE, priority=2), step(queue, 20, RAISE, priority=4)]
    step(queue, 30, MOVE, target_queue=overflow)
    moved = [waited(waiting_call(queue), 40) for _ in range(5)]
    raised = [waited(waiting_call(queue), 25) for _ in range(5)]
    sweepers, results, errors = 6, [], []
    barrier = threading.Barrier(sweepers)

    def sweep():
        try:
            barrier.wait()
            results.append(routing_escalate())
        except Exception as exc:  # pragma: no cover - reported by the assertion
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(sweepers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert not errors
    assert sum(results) == 3 * len(moved) + 2 * len(raised)
    for call in moved:
        assert len(audit(call)) == 3
        assert (
            Operation.objects.filter(kind=OperationKind.REDIRECT, call_sid=call.call_sid).count()
            == 1
        )
        assert Call.objects.get(pk=call.pk).stage == CallStage.NEW
    for call in raised:
        assert audit(call) == [s.pk for s in steps]
        assert Call.objects.get(pk=call.pk).priority == 4
