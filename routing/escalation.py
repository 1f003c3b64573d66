"""Escalation: the steps of a queue (callcenter.EscalationStep) applied to its waiting callers.

After `after_seconds` in the queue a step raises the caller's priority to at least N, moves
the caller to another queue (callcenter.services.call_move_to_queue: Twilio redirects the
call), or widens the tiers the caller may be offered to. Steps apply in `after_seconds` order,
once per queue entry: the call remembers the last one applied (`Call.escalation_step`), each
in a short transaction holding the call's row lock, so concurrent sweeps never apply one
twice; every step applied leaves a `CallEvent` (source switchboard, kind escalation) whose
dedup key is the (call, step, queue entry), a second guard. Routing runs after the sweep.
"""

from collections import defaultdict
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from callcenter.choices import CallStage, EscalationAction
from callcenter.locks import lock_call
from callcenter.models import Call, QueueMembership
from callcenter.models.queues import EscalationStep
from callcenter.services import TwilioEvent, call_event_record, call_move_to_queue
from callcenter.services.call_facts import save_fields

SOURCE, KIND = "switchboard", "escalation"


def routing_escalate(*, now: datetime | None = None) -> int:
    """Apply every escalation step that is due; how many were applied.

    Reads every queue's steps (a small table) and the waiting callers of queues that have
    some, past their queue's first step (call_waiting_queue_order_idx), then locks only the
    callers with a step due."""
    now = now or timezone.now()
    steps = steps_by_queue()
    if not steps:
        return 0
    earliest = min(queue_steps[0].after_seconds for queue_steps in steps.values())
    candidates = (
        Call.objects.waiting()
        .filter(queue_id__in=list(steps), enqueued_at__lte=now - timedelta(seconds=earliest))
        .order_by()
        .values_list("pk", "queue_id", "enqueued_at", "escalation_step_id")
    )
    applied = 0
    for call_id, queue_id, enqueued_at, last_step_id in candidates:
        if due_steps(steps[queue_id], _waited(enqueued_at, now), last_step_id):
            applied += _escalate(call_id, steps, now)
    return applied


def steps_by_queue() -> dict[int, list[EscalationStep]]:
    """Every queue's steps, in the order they apply."""
    found: dict[int, list[EscalationStep]] = defaultdict(list)
    for step in EscalationStep.objects.select_related("target_queue").order_by(
        "queue_id", "after_seconds", "id"
    ):
        found[step.queue_id].append(step)
    return dict(found)


def due_steps(
    steps: list[EscalationStep], waited: float, last_step_id: int | None
) -> list[EscalationStep]:
    """The steps of the caller's queue not applied in this queue entry whose time has come.

    The last step applied counts only when it is one of this queue's and its time has come
    in this entry (a caller moved away and back starts over)."""
    start = _progress(steps, waited, last_step_id)
    return [step for step in steps[start:] if step.after_seconds <= waited]


def _progress(steps: list[EscalationStep], waited: float, last_step_id: int | None) -> int:
    """How many of `steps` this queue entry has been through (0: none)."""
    for index, step in enumerate(steps):
        if step.pk == last_step_id and step.after_seconds <= waited:
            return index + 1
    return 0


def _waited(enqueued_at: datetime, now: datetime) -> float:
    return (now - enqueued_at).total_seconds()


def _escalate(call_id: int, steps: dict[int, list[EscalationStep]], now: datetime) -> int:
    with transaction.atomic():
        sid = Call.objects.values_list("call_sid", flat=True).get(pk=call_id)
        call = lock_call(sid)
        if call.stage != CallStage.WAITING or call.queue_id not in steps:
            return 0  # offered, connected or gone meanwhile: steps wait for the next wait
        queue_steps, waited = steps[call.queue_id], _waited(call.enqueued_at, now)
        due = due_steps(queue_steps, waited, call.escalation_step_id)
        if not due:
            return 0  # another sweep applied them first
        if not _progress(queue_steps, waited, call.escalation_step_id):
            call.max_tier_level = None  # a widened tier belongs to the queue entry it was in
        fields, applied, move_to = {"escalation_step", "max_tier_level"}, 0, None
        for step in due:
            call.escalation_step = step
            if not _record(call, step):
                continue  # already applied in this entry (its progress was lost)
            applied += 1
            if step.action == EscalationAction.RAISE_PRIORITY:
                if call.priority < step.priority:
                    call.priority = step.priority
                    fields.add("priority")
            elif step.action == EscalationAction.WIDEN_TIER:
                call.max_tier_level = next_tier_level(call)
            elif step.action == EscalationAction.MOVE_TO_QUEUE:
                move_to = step
                call.max_tier_level = None
                break
        save_fields(call, *fields)
        if move_to is not None:
            call_move_to_queue(
                call_id=call.pk, queue=move_to.target_queue, request_key=_entry_key(call, move_to)
            )
    return applied


def next_tier_level(call: Call) -> int | None:
    """The tier above the caller's current one that has members (the current one if none):
    by default a caller is offered to the queue's first tier that has members only."""
    levels = list(
        QueueMembership.objects.filter(queue_id=call.queue_id)
        .order_by("level")
        .values_list("level", flat=True)
        .distinct()
    )
    if not levels:
        return call.max_tier_level
    current = call.max_tier_level or levels[0]
    return next((level for level in levels if level > current), current)


def _entry_key(call: Call, step: EscalationStep) -> str:
    return f"{step.pk}:{call.queue_id}:{call.enqueued_at.timestamp():.6f}"


def _record(call: Call, step: EscalationStep) -> bool:
    """The audit row of a step applied; False when it already was, in this queue entry."""
    params = {
        "step": step.pk,
        "after_seconds": step.after_seconds,
        "action": step.action,
        "priority": step.priority,
        "target_queue": step.target_queue_id,
        "queue": call.queue_id,
    }
    event = TwilioEvent(
        call_sid=call.call_sid,
        source=SOURCE,
        kind=KIND,
        dedup_key=f"{KIND}:{call.call_sid}:{_entry_key(call, step)}",
        at=timezone.now(),
        params=params,
    )
    return call_event_record(event, call) is not None
