"""Status, action, conference and recording callbacks: stored once, merged forward-only, and
the same final state whatever order (and how many times) Twilio delivers them."""

import itertools
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callcenter.choices import CallOutcome, CallStage, CallStatus, WorkStatus
from callcenter.models import Call, CallbackRequest, CallEvent
from tests.factories import AgentFactory, QueueFactory, ended_call
from tests.webhooks.conftest import CALLER, call_params

pytestmark = pytest.mark.django_db
STATUS = "/webhooks/twilio/voice/status/"
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
_sids = itertools.count(1)


def ts(seconds: float) -> str:
    return format_datetime(T0 + timedelta(seconds=seconds))


def status(sid, call_status, seq, at, **extra):
    return STATUS, call_params(
        sid,
        CallStatus=call_status,
        SequenceNumber=str(seq),
        Timestamp=ts(at),
        CallbackSource="call-progress-events",
        **extra,
    )


def test_status_moves_forward_only_and_terminal_is_sticky(twilio, direct_number):
    sid = "CA" + "5" * 32
    for path, params in (
        status(sid, "in-progress", 1, 1, Direction="outbound-api", To="+15550001111"),
        status(sid, "ringing", 0, 0, Direction="outbound-api", To="+15550001111"),  # late
        status(sid, "completed", 2, 61, Direction="outbound-api", CallDuration="60"),
        status(sid, "in-progress", 1, 1, Direction="outbound-api"),  # duplicate
    ):
        assert twilio.post(path, params).status_code == 204
    call = Call.objects.get(call_sid=sid)
    assert call.status == CallStatus.COMPLETED and call.stage == CallStage.ENDED
    assert call.talk_seconds == 60  # CallDuration, not the billed Duration
    assert call.answered_at == T0 + timedelta(seconds=1)
    assert CallEvent.objects.filter(call_sid=sid).count() == 3


def test_missing_ringing_is_fine_and_child_legs_link_to_their_parent(twilio, direct_number):
    parent = "CA" + "6" * 32
    twilio.post(*status(parent, "in-progress", 0, 0))
    child = "CA" + "7" * 32
    twilio.post(
        *status(
            child,
            "completed",
            0,
            30,
            Direction="outbound-dial",
            ParentCallSid=parent,
            CallDuration="25",
        )
    )
    leg = Call.objects.get(call_sid=child)
    assert leg.parent.call_sid == parent and leg.parent_call_sid == parent
    assert leg.status == CallStatus.COMPLETED


def _answered_call_script(sid: str, agent_identity: str, leg_sid: str) -> list[tuple[str, dict]]:
    """Every callback of an inbound call answered by an agent after 30 s, with a 20 s hold."""
    conference = f"/webhooks/twilio/voice/conference/?call={sid}"

    def conf(event, seq, at, participant, **extra):
        return conference, {
            "ConferenceSid": "CF" + "1" * 32,
            "FriendlyName": sid,
            "StatusCallbackEvent": event,
            "CallSid": participant,
            "SequenceNumber": str(seq),
            "Timestamp": ts(at),
            "AccountSid": "AC" + "0" * 32,
            **extra,
        }

    return [
        status(sid, "in-progress", 0, 0),
        (
            "/webhooks/twilio/voice/enqueue-action/?queue={queue}",
            call_params(sid, QueueResult="redirected", QueueTime="30"),
        ),
        status(
            leg_sid, "initiated", 0, 25, Direction="outbound-api", To=f"client:{agent_identity}"
        ),
        status(
            leg_sid, "in-progress", 1, 29, Direction="outbound-api", To=f"client:{agent_identity}"
        ),
        conf("participant-join", 0, 30, sid),
        conf("participant-join", 1, 30, leg_sid, ParticipantLabel=f"agent:{agent_identity}"),
        conf("participant-hold", 2, 60, sid),
        conf("participant-unhold", 3, 80, sid),
        status(leg_sid, "completed", 2, 150, Direction="outbound-api", CallDuration="121"),
        status(sid, "completed", 1, 150, CallDuration="150"),
    ]


SNAPSHOT = (
    "status",
    "stage",
    "outcome",
    "agent_id",
    "queue_id",
    "answered_at",
    "ended_at",
    "wait_seconds",
    "talk_seconds",
    "hold_seconds",
    "held_since",
    "recording_since",
    "conference_sid",
    "queue_result",
)


def deliver(twilio, queue, script, order) -> dict:
    for index in order:
        path, params = script[index]
        response = twilio.post(path.replace("{queue}", str(queue.pk)), params)
        assert response.status_code in (200, 204), response.content
    sid = script[0][1]["CallSid"]
    call = Call.objects.get(call_sid=sid)
    return {field: getattr(call, field) for field in SNAPSHOT}


def run_script(twilio, queue, agent, order) -> tuple[dict, int]:
    n = next(_sids)
    sid, leg = f"CA{n:032x}", f"CA{n + 10**6:032x}"
    twilio.post("/webhooks/twilio/voice/incoming/", call_params(sid))
    Call.objects.filter(call_sid=sid).update(created_at=T0 - timedelta(seconds=5), enqueued_at=T0)
    script = _answered_call_script(sid, agent.softphone_identity, leg)
    state = deliver(twilio, queue, script, order)
    return state, CallEvent.objects.filter(call_sid__in=[sid, leg]).count()


def test_an_answered_caller_needs_no_callback_any_more(twilio, direct_number, sales):
    agent = AgentFactory(queues=[sales])
    earlier, other = (
        CallbackRequest.objects.create(
            call=ended_call(sales, call_sid=f"CA{index:x}" + "e" * 31),
            queue=sales,
            enqueued_at=T0 - timedelta(hours=1),
            number=number,
        )
        for index, number in enumerate((CALLER, "+14155550999"))
    )
    CallbackRequest.objects.update(created_at=T0 - timedelta(hours=1))  # before the answer
    state, _events = run_script(twilio, sales, agent, range(10))
    assert state["outcome"] == CallOutcome.ANSWERED
    earlier.refresh_from_db()
    other.refresh_from_db()
    assert earlier.status == WorkStatus.CANCELED and earlier.completed_at is not None
    assert other.status == WorkStatus.WAITING


def test_in_order_delivery_gives_the_expected_accounting(twilio, direct_number, sales):
    agent = AgentFactory(queues=[sales])
    state, events = run_script(twilio, sales, agent, range(10))
    assert state["outcome"] == CallOutcome.ANSWERED and state["agent_id"] == agent.pk
    assert state["answered_at"] == T0 + timedelta(seconds=30)
    assert state["wait_seconds"] == 30 and state["hold_seconds"] == 20
    assert state["talk_seconds"] == 150 - 30 - 20
    assert events == 11  # the incoming request and ten callbacks


def test_the_call_says_while_its_customer_is_on_hold(twilio, direct_number, sales):
    agent = AgentFactory(queues=[sales])
    sid, leg = "CA" + "8" * 32, "CA" + "9" * 32
    twilio.post("/webhooks/twilio/voice/incoming/", call_params(sid))
    Call.objects.filter(call_sid=sid).update(created_at=T0 - timedelta(seconds=5), enqueued_at=T0)
    script = _answered_call_script(sid, agent.softphone_identity, leg)
    held = [deliver(twilio, sales, script, [index])["held_since"] for index in range(10)]
    # 6: the hold at 60 s; 7: the unhold; 9: the end (hold over whatever came before).
    assert held == [None] * 6 + [T0 + timedelta(seconds=60)] + [None] * 3


@pytest.mark.parametrize("ending", ["unhold first", "customer left"])
def test_a_hold_that_ended_before_it_arrived_is_no_hold(twilio, direct_number, sales, ending):
    agent = AgentFactory(queues=[sales])
    sid, leg = "CA" + "a" * 32, "CA" + "b" * 32
    twilio.post("/webhooks/twilio/voice/incoming/", call_params(sid))
    script = _answered_call_script(sid, agent.softphone_identity, leg)
    path, unhold = script[7]
    if ending == "customer left":
        unhold = {**unhold, "StatusCallbackEvent": "participant-leave"}
    deliver(twilio, sales, [*script[:6], (path, unhold)], range(7))  # the later event first
    assert deliver(twilio, sales, script, [6])["held_since"] is None


def test_the_call_says_while_a_recording_runs(twilio, direct_number, sales):
    sid = "CA" + "c" * 32
    twilio.post("/webhooks/twilio/voice/incoming/", call_params(sid))

    def recording(name, state):
        return "/webhooks/twilio/voice/recording/", call_params(
            sid, RecordingSid=f"RE{name * 32}", RecordingStatus=state
        )

    def since(*script):
        return deliver(twilio, sales, script, range(len(script)))["recording_since"]

    assert since(recording("1", "in-progress")) is not None
    assert since(recording("1", "completed")) is None  # stopped
    assert since(recording("2", "completed"), recording("2", "in-progress")) is None  # late
    assert since(recording("3", "in-progress")) is not None
    assert since(status(sid, "completed", 1, 90, CallDuration="90")) is None  # the call ended


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_order_with_duplicates_ends_in_the_same_state(twilio, direct_number, sales, data):
    agent = AgentFactory(queues=[sales])
    expected, expected_events = run_script(twilio, sales, agent, range(10))
    order = data.draw(st.permutations(range(10)))
    duplicates = data.draw(st.lists(st.integers(0, 9), max_size=6))
    positions = data.draw(
        st.lists(st.integers(0, 15), min_size=len(duplicates), max_size=len(duplicates))
    )
    order = list(order)
    for index, position in zip(duplicates, positions, strict=True):
        order.insert(min(position, len(order)), index)
    state, events = run_script(twilio, sales, agent, order)
    assert {k: v for k, v in state.items() if k != "agent_id"} == {
        k: v for k, v in expected.items() if k != "agent_id"
    }
    assert state["agent_id"] == agent.pk
    assert events == expected_events  # each event stored once


@pytest.mark.parametrize(("agent_first", "answered"), [(True, True), (False, False)])
def test_a_join_and_a_leave_in_one_second_are_ordered_by_sequence(
    twilio, direct_number, sales, agent_first, answered
):
    """Twilio's timestamps are whole seconds: the agent joining and the caller hanging up in
    the same second count as a meeting only when the join came first (SequenceNumber),
    whatever order the callbacks arrive in."""
    agent = AgentFactory(queues=[sales])
    sid, leg = "CA" + "6" * 32, "CA" + "7" * 32
    twilio.post("/webhooks/twilio/voice/incoming/", call_params(sid))
    Call.objects.filter(call_sid=sid).update(created_at=T0 - timedelta(seconds=5), enqueued_at=T0)

    def conf(event, seq, participant, **extra):
        return f"/webhooks/twilio/voice/conference/?call={sid}", {
            "ConferenceSid": "CF" + "2" * 32,
            "FriendlyName": sid,
            "StatusCallbackEvent": event,
            "CallSid": participant,
            "SequenceNumber": str(seq),
            "Timestamp": ts(30),
            "AccountSid": "AC" + "0" * 32,
            **extra,
        }

    label = {"ParticipantLabel": f"agent:{agent.softphone_identity}"}
    join, leave = (1, 2) if agent_first else (2, 1)
    script = [
        conf("participant-leave", leave, sid),  # delivered first either way
        conf("participant-join", join, leg, **label),
        conf("participant-join", 0, sid),
        status(sid, "completed", 1, 30, CallDuration="35"),
    ]
    state = deliver(twilio, sales, script, range(len(script)))
    assert (state["agent_id"] == agent.pk) is answered
    assert (state["outcome"] == CallOutcome.ANSWERED) is answered


def test_a_caller_moved_to_another_queue_waits_there_and_is_controlled_in_the_new_conference(
    twilio, direct_number, sales
):
    """Answered in one conference, transferred to a queue: a late callback of the conference
    they left does not make them connected again while they wait; answered in the next
    conference, the call's conference is that one (where hold, record and transfer go)."""
    support = QueueFactory(name="Support", twilio_queue_name="support")
    ana, ben = AgentFactory(queues=[sales]), AgentFactory(queues=[support])
    sid = "CA" + "e" * 32
    twilio.post("/webhooks/twilio/voice/incoming/", call_params(sid))
    first, second = "CF" + "1" * 32, "CF" + "2" * 32

    def conf(conference, event, seq, at, participant, **extra):
        return f"/webhooks/twilio/voice/conference/?call={sid}", {
            "ConferenceSid": conference, "FriendlyName": sid, "StatusCallbackEvent": event,
            "CallSid": participant, "SequenceNumber": str(seq), "Timestamp": ts(at),
            "AccountSid": "AC" + "0" * 32, **extra,
        }  # fmt: skip

    def agent(who):
        return {"ParticipantLabel": f"agent:{who.softphone_identity}"}

    ana_leg, ben_leg = "CA" + "f" * 32, "CA" + "d" * 32
    state = deliver(twilio, sales, [conf(first, "participant-join", 0, 30, sid),
                                    conf(first, "participant-join", 1, 30, ana_leg, **agent(ana))],
                    range(2))  # fmt: skip
    assert (state["stage"], state["conference_sid"]) == (CallStage.CONNECTED, first)

    twilio.twiml(f"/webhooks/twilio/voice/transfer/?queue={support.pk}", call_params(sid))
    late = [
        conf(first, "participant-leave", 2, 60, sid),
        conf(first, "participant-leave", 3, 61, ana_leg),
    ]
    state = deliver(twilio, sales, late, range(2))
    assert state["stage"] == CallStage.WAITING and state["queue_id"] == support.pk

    answered = [conf(second, "participant-join", 0, 90, sid),
                conf(second, "participant-join", 1, 91, ben_leg, **agent(ben))]  # fmt: skip
    state = deliver(twilio, sales, answered, range(2))
    assert (state["stage"], state["conference_sid"]) == (CallStage.CONNECTED, second)
