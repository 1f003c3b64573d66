"""CallEvent.shape_slot, the generated column: what each kind of stored callback says happened
to its call, computed by the database (PostgreSQL and SQLite alike) whoever writes the row."""

from datetime import UTC, datetime

import pytest

from callcenter.models import CallEvent
from callcenter.services import TwilioEvent, call_event_record
from tests.analytics.builders import stored_event
from tests.factories import CallFactory

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CUSTOMER, LEG = "CA" + "c" * 32, "CA" + "a" * 32


def _conference(what: str, sid: str, label: str = "") -> tuple:
    payload = {"StatusCallbackEvent": what, "CallSid": sid}
    if label:
        payload["ParticipantLabel"] = label
    return "conference", payload, {"for": CUSTOMER}


CASES = [
    # Markers: a queue named by a natural number other than 0 (as Python's isinstance(v, int)
    # or str(v).isdigit() reads it), else nothing.
    ("transfer", {}, {"queue": 7}, 1),
    ("enqueue-action", {"QueueResult": "hangup"}, {"queue": 7}, 2),
    ("enqueue-action", {}, {"queue": "12"}, 2),
    ("enqueue-action", {}, {"queue": -3}, 2),
    ("enqueue-action", {}, {"queue": "-3"}, None),
    ("enqueue-action", {}, {"queue": 0}, None),
    ("enqueue-action", {}, {"queue": "0"}, None),
    ("enqueue-action", {}, {"queue": "abc"}, None),
    ("enqueue-action", {}, {"queue": 1.5}, None),
    ("enqueue-action", {}, {"queue": "1" * 19}, None),
    ("enqueue-action", {}, {}, None),
    # The customer in the conference, an agent's leg, anyone else.
    (*_conference("participant-join", CUSTOMER), 3),
    (*_conference("participant-leave", CUSTOMER), 4),
    (*_conference("participant-hold", CUSTOMER), 5),
    (*_conference("participant-unhold", CUSTOMER), 5),
    (*_conference("participant-mute", CUSTOMER), 8),
    (*_conference("participant-join", LEG, "agent:agent_1"), 6),
    (*_conference("participant-leave", LEG, "agent:agent_1"), 7),
    (*_conference("participant-hold", LEG, "agent:agent_1"), 8),
    (*_conference("participant-join", LEG, "supervisor:ann"), 8),
    (*_conference("participant-join", LEG), 8),
    (*_conference("conference-end", ""), 8),
    # Callbacks that say nothing of the call's shape.
    ("status", {"CallStatus": "completed"}, {}, None),
    ("recording", {"RecordingSid": "RE" + "1" * 32}, {"queue": 7}, None),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("kind", "payload", "context", "slot"), CASES)
def test_the_database_classifies_each_callback(kind, payload, context, slot):
    call = CallFactory(call_sid=CUSTOMER)
    event_id = stored_event(call, kind, AT, payload, context)
    assert CallEvent.objects.get(pk=event_id).shape_slot == slot


@pytest.mark.django_db
def test_a_webhooks_callback_is_classified_as_it_is_stored():
    CallFactory(call_sid=CUSTOMER)
    event = TwilioEvent(
        call_sid=LEG,
        source="conference",
        kind="conference",
        dedup_key="conference:join:agent",
        at=AT,
        params={
            "StatusCallbackEvent": "participant-join",
            "CallSid": LEG,
            "ParticipantLabel": "agent:agent_1",
        },
        context={"for": CUSTOMER},
    )
    event_id = call_event_record(event, apply_later=True)
    stored = CallEvent.objects.get(pk=event_id)
    assert (stored.call.call_sid, stored.shape_slot) == (CUSTOMER, 6)
