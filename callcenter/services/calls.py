"""The call lifecycle: the only writer of Call, CallEvent, Voicemail and CallbackRequest.

Twilio delivers callbacks at least once and in any order. Each raw event is inserted once
(`call_event_record`, unique natural key), then merged into the call so that the result does
not depend on the order: the status only moves forward and a terminal status is final, times
keep the earliest (start, answer) or the terminal one (end), and the outcome is recomputed from
the accumulated facts whenever one arrives after the end.
"""

import functools
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from callcenter import notifications
from callcenter.choices import (
    TERMINAL_STATUSES,
    CallDirection,
    CallStage,
    CallStatus,
    QueueExit,
    WorkStatus,
)
from callcenter.locks import create_call_locked, lock_call, lock_calls
from callcenter.models import (
    Call,
    CallbackRequest,
    CallEvent,
    PendingCallEvent,
    Queue,
    Voicemail,
)
from callcenter.rows import Rows, execute
from callcenter.services.call_control import follow_agent_leg, follow_customer_call
from callcenter.services.call_facts import (
    QUEUE_FAILURES,
    agent_for,
    apply_conference_facts,
    apply_recording_facts,
    save_fields,
    settle,
)
from callcenter.services.direct_legs import follow_direct_leg
from callcenter.services.transfers import follow_transfer_leg
from callcenter.services.work import (
    follow_callback_agent_leg,
    follow_callback_call,
    work_cancel_answered_callbacks,
)

EVENTS = Rows(CallEvent)

STATUS_RANK = {
    CallStatus.QUEUED: 0,
    CallStatus.INITIATED: 1,
    CallStatus.RINGING: 2,
    CallStatus.IN_PROGRESS: 3,
    **dict.fromkeys(TERMINAL_STATUSES, 4),
}


@dataclass(frozen=True)
class TwilioEvent:
    """One callback from Twilio, parsed by the webhook that received it."""

    call_sid: str
    source: str
    kind: str
    dedup_key: str
    at: datetime
    params: dict = field(default_factory=dict)
    sequence_number: int | None = None
    twilio_timestamp: datetime | None = None
    # Ours, not Twilio's: the customer call a leg or conference serves ("for"), the queue a
    # recording belongs to ("queue"). Stored with the event, so it can be applied later.
    context: dict = field(default_factory=dict)

    @property
    def subject_sid(self) -> str:
        """The call the event is about: a conference event is about the customer's call."""
        return self.context.get("for", "") if self.kind == "conference" else self.call_sid


def call_event_record(
    event: TwilioEvent, call: Call | None = None, *, apply_later: bool = False
) -> int | None:
    """Store the raw event once; its id, or None when it was already stored (a duplicate).

    One INSERT … ON CONFLICT DO NOTHING RETURNING: a duplicate costs one statement, no
    savepoint and no exception. Without `call`, the event is linked to its subject's row
    when that exists, in the same statement. `apply_later` also queues a new event in the
    outbox (PendingCallEvent) in that statement, so it is never stored without being queued;
    `webhooks.outbox.apply_pending` applies it."""
    table, calls = CallEvent._meta.db_table, Call._meta.db_table
    json = CallEvent._meta.get_field("payload")
    now = timezone.now()
    insert = (
        f"INSERT INTO {table} (dedup_key, call_id, call_sid, source, kind,"  # noqa: S608 - model tables
        " sequence_number, payload, context, twilio_timestamp, received_at)"
        f" VALUES (%s, COALESCE(%s, (SELECT id FROM {calls} WHERE call_sid = %s)),"
        " %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (dedup_key) DO NOTHING RETURNING id"
    )
    params = [
        event.dedup_key[:200],
        call.pk if call else None,
        event.subject_sid,
        event.call_sid,
        event.source,
        event.kind,
        event.sequence_number,
        json.get_db_prep_save(event.params, connection),
        json.get_db_prep_save(event.context, connection),
        event.twilio_timestamp,
        now,
    ]
    queue = (
        f"INSERT INTO {PendingCallEvent._meta.db_table}"
        " (event_id, subject_sid, available_at, attempts)"
    )
    if apply_later and connection.vendor == "postgresql":
        insert = (
            f"WITH stored AS ({insert}), queued AS ({queue} SELECT id, %s, %s, 0 FROM stored)"  # noqa: S608
            " SELECT id FROM stored"
        )
        params += [event.subject_sid[:64], now]
    separate = apply_later and connection.vendor != "postgresql"  # no data-modifying CTEs
    with transaction.atomic() if separate else nullcontext(), connection.cursor() as cursor:
        execute(cursor, insert, params)  # planned once per connection
        row = cursor.fetchone()
        if row and separate:
            cursor.execute(f"{queue} VALUES (%s, %s, %s, 0)", [row[0], event.subject_sid[:64], now])
    return row[0] if row else None


def call_events_claim(*, calls: int = 1) -> list[CallEvent]:
    """Claim the pending events of up to `calls` calls (those whose events wait longest), a
    call's events together and in id order, and take them out of the outbox. Precondition:
    inside the transaction that applies them, so they are applied once, or stay pending when
    it rolls back.

    On PostgreSQL one statement that never waits, and answers the events themselves: a
    drainer's heads are the first pending events of their calls (SKIP LOCKED), so two drainers
    take different calls, and the calls' later events are taken unless another drainer holds
    them. Waiting there instead let two drainers each hold one event of a call and wait for
    the other's (a deadlock, seen under load). The apply locks the call, so even events of
    one call split between two drainers are merged one after the other; the claimed calls are
    locked up front in primary-key order, not in the order they are applied. SQLite (the
    embedded run) claims one call at a time."""
    table, now = PendingCallEvent._meta.db_table, timezone.now()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            execute(
                cursor,
                f"WITH head AS (SELECT subject_sid, event_id AS head_id FROM {table} p"  # noqa: S608
                " WHERE available_at <= %s"
                f" AND NOT EXISTS (SELECT 1 FROM {table} e WHERE e.subject_sid = p.subject_sid"
                " AND e.event_id < p.event_id)"
                " ORDER BY event_id LIMIT %s FOR UPDATE SKIP LOCKED),"
                f" taken AS (SELECT p.event_id, head.head_id FROM {table} p, head"
                " WHERE p.subject_sid = head.subject_sid AND p.available_at <= %s"
                " FOR UPDATE OF p SKIP LOCKED),"
                f" gone AS (DELETE FROM {table} p USING taken WHERE p.event_id = taken.event_id"
                " RETURNING p.event_id, p.subject_sid, taken.head_id)"
                f" SELECT {EVENTS.columns}, gone.subject_sid FROM {EVENTS.table}"
                " JOIN gone ON id = gone.event_id"
                " ORDER BY gone.head_id, id",
                [now, calls, now],
            )
            rows = cursor.fetchall()
        lock_calls({row[-1] for row in rows})
        return [EVENTS.instance(row[:-1]) for row in rows]
    pending = PendingCallEvent.objects.filter(available_at__lte=now)
    head = pending.order_by("event_id").values_list("subject_sid", flat=True).first()
    if head is None:
        return []
    ids = list(pending.filter(subject_sid=head).values_list("event_id", flat=True))
    PendingCallEvent.objects.filter(event_id__in=ids).delete()
    return list(CallEvent.objects.filter(pk__in=ids).order_by("id"))


def call_events_defer(*, event_ids: list[int]) -> None:
    """Back off events whose apply failed (their claim rolled back, so they are pending
    again): not claimable for 2^attempts seconds, at most an hour. Never dropped."""
    pending = PendingCallEvent.objects.filter(event_id__in=event_ids)
    attempts = min((pending.aggregate(n=Max("attempts"))["n"] or 0) + 1, 1000)
    delay = timedelta(seconds=min(2**attempts, 3600))
    pending.update(attempts=attempts, available_at=timezone.now() + delay)


@transaction.atomic(savepoint=False)
def call_event_apply(
    *, stored: CallEvent | None = None, event_id: int | None = None
) -> Call | None:
    """Merge a stored callback (`stored`, or read by `event_id`) into its call (forward-only
    and order-independent). Inside the caller's transaction without a savepoint: a failure
    rolls back the whole of it."""
    if stored is None:
        sql = f"SELECT {EVENTS.columns} FROM {EVENTS.table} WHERE id = %s"  # noqa: S608
        if (stored := EVENTS.one(sql, [event_id])) is None:
            raise CallEvent.DoesNotExist(event_id)
    event = TwilioEvent(
        call_sid=stored.call_sid,
        source=stored.source,
        kind=stored.kind,
        dedup_key=stored.dedup_key,
        at=stored.received_at,
        params=stored.payload,
        sequence_number=stored.sequence_number,
        twilio_timestamp=stored.twilio_timestamp,
        context=stored.context,
    )
    apply = {
        "status": _apply_status,
        "conference": _apply_conference,
        "recording": _apply_recording,
    }
    return apply[event.kind](event, stored)


def _locked_call(
    event: TwilioEvent, *, parent_sid: str = "", merge: Callable[[Call], list[str]] | None = None
) -> Call:
    """The event's call, locked; created from the event's parameters when first seen.

    `parent_sid` links a leg we created (an agent's) to the customer's call it serves;
    Twilio's own ParentCallSid links <Dial> children. `merge` applies the event to a call and
    names the fields it changed: a new call is inserted with it applied (and dashboards hear
    of it), instead of inserted, then updated (every index of the call written twice); the
    caller merges again, which changes nothing the insert wrote.
    """
    call = lock_call(event.call_sid)
    if call is not None:
        if call.parent_id is None and call.parent_call_sid:
            # Its first callback raced the parent's creation: link on a later one.
            call.parent = Call.objects.filter(call_sid=call.parent_call_sid).first()
            if call.parent is not None:
                save_fields(call, "parent")
        return call
    params = event.params
    parent_sid = params.get("ParentCallSid") or parent_sid
    new = Call(
        call_sid=event.call_sid,
        parent_call_sid=parent_sid,
        parent=Call.objects.filter(call_sid=parent_sid).first() if parent_sid else None,
        direction=params.get("Direction") or CallDirection.INBOUND,
        from_number=params.get("From", ""),
        to_number=params.get("To", ""),
        agent=agent_for(params.get("To", "")),
        created_at=event.twilio_timestamp or event.at,
    )
    merged = merge(new) if merge else []
    # None: a concurrent callback of the same call created it first (without this event).
    if (created := create_call_locked(new)) is None:
        return lock_call(event.call_sid)
    if merged:
        notifications.call_changed(created)  # as save_fields would have
    return created


@transaction.atomic
def call_start_inbound(event: TwilioEvent) -> tuple[Call, bool]:
    """Create the inbound call from the Voice URL request; (call, first time)."""
    call = _locked_call(event)
    first = call_event_record(event, call) is not None
    return call, first


@transaction.atomic
def call_enter_menu(*, call_sid: str) -> None:
    call = lock_call(call_sid)
    if call is not None and call.stage == CallStage.NEW:
        call.stage = CallStage.MENU
        save_fields(call, "stage")


@transaction.atomic
def call_enqueue(event: TwilioEvent, *, queue: Queue) -> Call:
    """The caller enters `queue` (<Enqueue> answered); idempotent while already waiting there."""
    call = _locked_call(event)
    if call.stage == CallStage.ENDED or (
        call.stage == CallStage.WAITING and call.queue_id == queue.pk
    ):
        return call
    call_event_record(event, call)
    if call.queue_id != queue.pk or call.enqueued_at is None:
        call.enqueued_at = max(event.at, call.created_at)
    call.queue = queue
    call.priority = max(call.priority, 0)
    call.stage = CallStage.WAITING
    call.queue_exit = QueueExit.NONE
    save_fields(call, "queue", "enqueued_at", "priority", "stage", "queue_exit")
    return call


@transaction.atomic
def call_request_queue_exit(*, call_sid: str, exit: str) -> Call | None:
    """Remember why the caller will <Leave> the queue (voicemail or callback)."""
    call = lock_call(call_sid)
    if call is None or call.stage != CallStage.WAITING:
        return call
    call.queue_exit = exit
    save_fields(call, "queue_exit")
    return call


@transaction.atomic
def call_left_queue(event: TwilioEvent) -> Call:
    """Apply an <Enqueue action> result: the caller left the queue (QueueResult, QueueTime)."""
    call = _locked_call(event)
    if call_event_record(event, call) is None:
        return call
    result = event.params.get("QueueResult", "")
    call.queue_result = result
    if event.params.get("QueueTime", "").isdigit():
        call.wait_seconds = int(event.params["QueueTime"])
    fields = ["queue_result", "wait_seconds"]
    if call.stage in (CallStage.WAITING, CallStage.OFFERED):
        call.stage = _stage_after_queue(call, result)
        fields.append("stage")
        if call.stage == CallStage.NEW and call.queue_exit == QueueExit.CALLBACK:
            _create_callback(call)
    save_fields(call, *fields)
    settle(call)
    return call


def _stage_after_queue(call: Call, result: str) -> str:
    """Where a caller goes when <Enqueue> ends with `result` (Twilio's QueueResult)."""
    leaving_on_purpose = result == "leave" and call.queue_exit in (
        QueueExit.CALLBACK,
        QueueExit.OVERFLOW,
    )
    if result == "hangup" or leaving_on_purpose:
        return CallStage.NEW  # gone, called back later, or about to enter another queue
    if result in ("leave", "queue-full") or result in QUEUE_FAILURES:
        return CallStage.VOICEMAIL
    return call.stage  # bridged or redirected: an agent's leg connects it


def _create_callback(call: Call) -> None:
    CallbackRequest.objects.get_or_create(
        call=call,
        defaults={
            "queue_id": call.queue_id,
            "priority": call.priority,
            "enqueued_at": call.enqueued_at or call.created_at,
            "number": call.customer_number,
        },
    )


def _apply_status(event: TwilioEvent, stored: CallEvent) -> Call:
    """A call-progress callback: forward-only status, earliest answer, terminal end."""
    merge = functools.partial(_merge_status, event=event)
    call = _locked_call(event, parent_sid=event.context.get("for", ""), merge=merge)
    if fields := merge(call):
        save_fields(call, *fields)
    settle(call)
    status = event.params.get("CallStatus", "")
    follow_agent_leg(call, status)
    if call.parent_id and call.agent_id and _asked_for_callback(call.parent):
        follow_callback_agent_leg(call, status)
    if callback_id := event.context.get("callback"):
        follow_callback_call(call, callback_id, event.context.get("callback_leg", ""), status)
    if status in TERMINAL_STATUSES:
        follow_customer_call(call)
    if event.context.get("direct"):
        follow_direct_leg(call)
        follow_transfer_leg(call, status)
    return call


def _merge_status(call: Call, *, event: TwilioEvent) -> list[str]:
    """Merge a call-progress callback into `call` (not saved); the fields it changed.
    Merging the same callback twice changes nothing more."""
    status = event.params.get("CallStatus", "")
    at = event.twilio_timestamp or event.at
    fields: list[str] = []
    if at < call.created_at and status in (CallStatus.QUEUED, CallStatus.INITIATED):
        call.created_at = at
        fields.append("created_at")
    # An outbound leg is answered by its callee; an inbound call's answer is an agent's.
    answers = status == CallStatus.IN_PROGRESS and call.direction != CallDirection.INBOUND
    if answers and (call.answered_at is None or at < call.answered_at):
        call.answered_at = max(at, call.created_at)
        fields.append("answered_at")
    duration = event.params.get("CallDuration", "")
    if status in TERMINAL_STATUSES:
        if call.ended_at is None:
            call.ended_at = max(at, call.created_at)
            call.stage = CallStage.ENDED
            fields += ["ended_at", "stage"]
        if duration.isdigit() and call.direction != CallDirection.INBOUND:
            talked = int(duration)
            if talked and call.answered_at is None:
                # The answer's own callback is late or lost: CallDuration says when it was.
                call.answered_at = max(call.ended_at - timedelta(seconds=talked), call.created_at)
                fields.append("answered_at")
            if call.talk_seconds != (talk := talked if call.answered_at else 0):
                call.talk_seconds = talk
                fields.append("talk_seconds")
    if status in STATUS_RANK and (
        STATUS_RANK[status] > STATUS_RANK.get(call.status, -1)
        and call.status not in TERMINAL_STATUSES
    ):
        call.status = status
        fields.append("status")
    return fields


def _asked_for_callback(call: Call) -> bool:
    """Whether an agent's leg of `call` may serve a callback: the caller asked for one, or at
    least has hung up. Not "has hung up" alone: under load the caller's own end may be applied
    after the callback's agent leg rang and ended. A live caller's legs serve no callback."""
    return call.queue_exit == QueueExit.CALLBACK or call.ended_at is not None


def _apply_recording(event: TwilioEvent, stored: CallEvent) -> Call:
    """A finished recording: with a queue it is a voicemail, work for that queue's agents.
    Without, one we started on the call: whether one runs now is recomputed."""
    call = _locked_call(event)
    queue_id = event.context.get("queue")
    params = event.params
    if not queue_id:
        apply_recording_facts(call)
    if queue_id and params.get("RecordingStatus", "completed") == "completed":
        Voicemail.objects.get_or_create(
            recording_sid=params["RecordingSid"],
            defaults={
                "call": call,
                "queue_id": queue_id,
                "priority": call.priority,
                "enqueued_at": call.enqueued_at or call.created_at,
                "recording_url": params.get("RecordingUrl", ""),
                "duration_seconds": int(params.get("RecordingDuration") or 0),
                "status": WorkStatus.WAITING,
            },
        )
        settle(call)
    return call


def _apply_conference(event: TwilioEvent, stored: CallEvent) -> Call | None:
    """A callback of the conference named after the customer's call (context "for").

    The call's answer, agent and hold time are recomputed from all its conference events
    stored so far (`_conference_presence`), so they do not depend on the delivery order.
    """
    call = lock_call(event.subject_sid)
    if call is None:
        return None
    if event.params.get("ConferenceSid") and not call.conference_sid:
        call.conference_sid = event.params["ConferenceSid"]
        save_fields(call, "conference_sid")
    answered_before = call.answered_at
    apply_conference_facts(call)
    if answered_before is None and call.answered_at is not None:
        work_cancel_answered_callbacks(call)
    settle(call)
    return call


@transaction.atomic
def call_send_to_voicemail(*, call_sid: str, queue: Queue) -> Call | None:
    """The caller will leave a message for `queue` (closed, full, or waited too long)."""
    call = lock_call(call_sid)
    if call is None or call.stage == CallStage.ENDED:
        return call
    if call.queue_id != queue.pk:
        call.queue = queue
        call.enqueued_at = None
    call.enqueued_at = call.enqueued_at or max(timezone.now(), call.created_at)
    call.stage = CallStage.VOICEMAIL
    save_fields(call, "queue", "enqueued_at", "stage")
    return call


@transaction.atomic
def call_request_callback(*, call_sid: str, queue: Queue) -> Call | None:
    """The caller asks to be called back by `queue` instead of waiting (the call then ends)."""
    call = lock_call(call_sid)
    if call is None or call.stage == CallStage.ENDED:
        return call
    if call.queue_id != queue.pk or call.enqueued_at is None:
        call.queue = queue
        call.enqueued_at = max(timezone.now(), call.created_at)
    call.queue_exit = QueueExit.CALLBACK
    call.stage = CallStage.NEW
    save_fields(call, "queue", "enqueued_at", "queue_exit", "stage")
    _create_callback(call)
    return call
