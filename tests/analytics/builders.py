"""Hand-built event sequences: the Call rows and the stored callbacks Telephony would have
written, and AgentStatusEvent rows, at chosen instants."""

import itertools
from datetime import datetime

from django.db import connection

from callcenter.choices import CallOutcome, CallStage, CallStatus
from callcenter.models import AgentStatusEvent, CallEvent
from tests.factories import CallFactory

_keys = itertools.count(1)


def stored_event(call, kind: str, at: datetime, payload=None, context=None, received=None):
    """A CallEvent Twilio stamped `at`, stored at `received` (default `at`); received_at is
    set on insert by the model, so the row is written with an explicit value."""
    json = CallEvent._meta.get_field("payload")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {CallEvent._meta.db_table} (dedup_key, call_id, call_sid, source, kind,"  # noqa: S608
            " sequence_number, payload, context, twilio_timestamp, received_at)"
            " VALUES (%s, %s, %s, %s, %s, NULL, %s, %s, %s, %s) RETURNING id",
            [
                f"test:{next(_keys)}",
                call.pk,
                call.call_sid,
                kind,
                kind,
                json.get_db_prep_save(payload or {}, connection),
                json.get_db_prep_save(context or {}, connection),
                at,
                received or at,
            ],
        )
        return cursor.fetchone()[0]


def queue_exit(call, queue, at, result: str, waited: int, received=None) -> int:
    """Twilio's <Enqueue> action callback: the caller left `queue`."""
    return stored_event(
        call,
        "enqueue-action",
        at,
        {"CallSid": call.call_sid, "QueueResult": result, "QueueTime": str(waited)},
        {"queue": queue.pk},
        received,
    )


def transfer(call, queue, at, received=None) -> int:
    payload, context = {"CallSid": call.call_sid}, {"queue": queue.pk}
    return stored_event(call, "transfer", at, payload, context, received)


def conference(call, at, kind: str, *, sid: str, label: str = "") -> int:
    payload = {"CallSid": sid, "StatusCallbackEvent": kind, "ConferenceSid": "CF" + call.call_sid}
    if label:
        payload["ParticipantLabel"] = label
    return stored_event(call, "conference", at, payload, {"for": call.call_sid})


def ended_call(queue, *, created, enqueued, ended, answered=None, agent=None, hold=0,
               outcome=CallOutcome.ANSWERED, **kwargs):  # fmt: skip
    return CallFactory(
        queue=queue,
        agent=agent,
        stage=CallStage.ENDED,
        status=CallStatus.COMPLETED,
        created_at=created,
        enqueued_at=enqueued,
        answered_at=answered,
        ended_at=ended,
        hold_seconds=hold,
        outcome=outcome,
        **kwargs,
    )


def agent_event(agent, at, status: str, activity: str, previous=("offline", "idle")):
    return AgentStatusEvent.objects.create(
        agent=agent,
        from_status=previous[0],
        from_activity=previous[1],
        to_status=status,
        to_activity=activity,
        source="system",
        occurred_at=at,
    )


def agent_timeline(agent, steps) -> None:
    """[(at, status, activity)] in time order, each event's `from` being the previous state."""
    previous = ("offline", "idle")
    for at, status, activity in steps:
        agent_event(agent, at, status, activity, previous)
        previous = (status, activity)
