"""Call control requested by people (agents, supervisors) or by routing: each action checks the
call's state here, then asks telephony for an operation that runs after commit.

`request_key` makes an action idempotent: the same key (a client's Idempotency-Key, or an
offer's identity) never reaches Twilio twice. A person's action (`acting_user`) also writes
its audit row (call_audit).
"""

import uuid

from django.db import transaction

from callcenter.choices import TERMINAL_STATUSES, CallDirection, CallStage, CallStatus
from callcenter.errors import InvalidInput, TransitionNotAllowed
from callcenter.locks import lock_call
from callcenter.models import Agent, Call, Queue
from callcenter.participants import client_address
from telephony.models import Operation, OperationKind, OperationStatus
from telephony.services import operation_request
from telephony.webhook_urls import twilio_url

from .call_audit import call_action_audit
from .call_facts import save_fields

CONNECTED_STAGES = (CallStage.CONNECTED,)


def action_key(kind: str, call: Call, request_key: str | None) -> str:
    return f"{kind}:{call.call_sid}:{request_key or uuid.uuid4().hex}"


def require_conference(call: Call) -> None:
    if call.stage not in CONNECTED_STAGES or not call.conference_sid:
        raise TransitionNotAllowed("The call is not connected to an agent.", code="not_connected")


def agent_leg(call: Call, agent_id: int | None = None) -> Call | None:
    """The live leg of `agent_id` (by default the call's agent) on `call`."""
    return (
        Call.objects.filter(parent=call, agent_id=agent_id or call.agent_id, ended_at__isnull=True)
        .order_by("-id")
        .first()
    )


def _back_to_waiting(call: Call) -> None:
    """An offer that went nowhere: the caller waits again, keeping their place."""
    call.stage = CallStage.WAITING
    save_fields(call, "stage")


@transaction.atomic
def call_offer_lapsed(*, call_id: int) -> None:
    """An offer that no callback ended (lost, late): the caller waits again if still offered."""
    sid = Call.objects.values_list("call_sid", flat=True).get(pk=call_id)
    call = lock_call(sid)
    if call.stage == CallStage.OFFERED:
        _back_to_waiting(call)


@transaction.atomic
def call_set_priority(*, call_id: int, priority: int, acting_user=None) -> Call:
    """A supervisor moves a waiting caller up (or down) their queue; routing serves by
    priority, then true wait time. Refused once the caller is no longer waiting."""
    sid = Call.objects.values_list("call_sid", flat=True).get(pk=call_id)
    call = lock_call(sid)
    if call.stage not in (CallStage.WAITING, CallStage.OFFERED):
        raise TransitionNotAllowed("The caller is not waiting in a queue.", code="not_waiting")
    if call.priority == priority:
        return call
    before, call.priority = call.priority, priority
    save_fields(call, "priority")
    call_action_audit(
        call=call,
        action="priority",
        acting_user=acting_user,
        key=action_key("priority", call, None),
        before=before,
        after=priority,
    )
    return call


@transaction.atomic
def call_set_hold(
    *, call: Call, hold: bool, request_key: str | None = None, acting_user=None
) -> Operation:
    require_conference(call)
    kind = OperationKind.HOLD if hold else OperationKind.UNHOLD
    params = {"conference_sid": call.conference_sid, "call_sid": call.call_sid}
    if hold and call.queue_id and call.queue.hold_music_url:
        params["hold_url"] = call.queue.hold_music_url
    key = action_key(kind, call, request_key)
    call_action_audit(call=call, action="hold", acting_user=acting_user, key=key, hold=hold)
    return operation_request(kind=kind, key=key, call_sid=call.call_sid, params=params)


@transaction.atomic
def call_hang_up(*, call: Call, request_key: str | None = None, acting_user=None) -> Operation:
    if call.stage == CallStage.ENDED:
        raise TransitionNotAllowed("The call has already ended.", code="ended")
    key = action_key("hangup", call, request_key)
    call_action_audit(call=call, action="hangup", acting_user=acting_user, key=key)
    return operation_request(
        kind=OperationKind.HANGUP,
        key=key,
        call_sid=call.call_sid,
        params={"call_sid": call.call_sid},
    )


@transaction.atomic
def call_set_recording(
    *, call: Call, record: bool, request_key: str | None = None, acting_user=None
) -> Operation:
    require_conference(call)
    if record:
        key = action_key("record", call, request_key)
        call_action_audit(
            call=call, action="recording", acting_user=acting_user, key=key, record=True
        )
        return operation_request(
            kind=OperationKind.START_RECORDING,
            key=key,
            call_sid=call.call_sid,
            params={"call_sid": call.call_sid},
        )
    started = (
        Operation.objects.filter(
            call_sid=call.call_sid,
            kind=OperationKind.START_RECORDING,
            status=OperationStatus.SUCCEEDED,
        )
        .exclude(result_sid="")
        .order_by("-id")
        .first()
    )
    if started is None:
        raise TransitionNotAllowed("The call is not being recorded.", code="not_recording")
    key = action_key("stop_record", call, request_key)
    call_action_audit(call=call, action="recording", acting_user=acting_user, key=key, record=False)
    return operation_request(
        kind=OperationKind.STOP_RECORDING,
        key=key,
        call_sid=call.call_sid,
        params={"call_sid": call.call_sid, "recording_sid": started.result_sid},
    )


MONITOR_MODES = ("listen", "whisper", "barge")


@transaction.atomic
def call_monitor(
    *, call: Call, supervisor: Agent, mode: str, request_key: str | None = None, acting_user=None
) -> Operation:
    """A supervisor's softphone joins the call: muted (listen), heard by the agent only
    (whisper, Twilio's coaching) or by everyone (barge)."""
    require_conference(call)
    coach = ""
    if mode == "whisper":
        leg = agent_leg(call)
        if leg is None:
            raise TransitionNotAllowed("The agent's leg is not live.", code="not_connected")
        coach = leg.call_sid
    key = action_key(f"monitor_{mode}", call, request_key)
    call_action_audit(call=call, action="monitor", acting_user=acting_user, key=key, mode=mode)
    return operation_request(
        kind=OperationKind.ADD_PARTICIPANT,
        key=key,
        call_sid=call.call_sid,
        params={
            "conference_sid": call.conference_sid,
            "customer_call_sid": call.call_sid,
            "to": client_address(supervisor.softphone_identity),
            "label": f"supervisor:{mode}",
            "muted": mode == "listen",
            "coach_call_sid": coach,
        },
    )


def follow_agent_leg(leg: Call, status: str) -> None:
    """React to an agent's leg of a customer call: an offer answered → bridge the customer
    into the conference; an offer ended unanswered (missed, rejected) → the customer waits
    again; the last leg leaving a connected call's conference (an agent's, or an outside
    party's a transfer dialed in) → hang the customer up.
    Precondition: the caller holds the leg's row lock, inside a transaction."""
    if not leg.parent_id:
        return
    if not leg.agent_id:
        if status in TERMINAL_STATUSES and leg.parent.conference_sid:
            _hang_up_when_alone(lock_call(leg.parent.call_sid), leg)
        return
    parent = lock_call(leg.parent.call_sid)
    if parent.stage == CallStage.OFFERED:
        if status == CallStatus.IN_PROGRESS:
            operation_request(
                kind=OperationKind.BRIDGE_CUSTOMER,
                key=f"bridge:{parent.call_sid}:{leg.call_sid}",
                call_sid=parent.call_sid,
                params={"customer_call_sid": parent.call_sid},
            )
        elif status in TERMINAL_STATUSES and leg.answered_at is None:
            _back_to_waiting(parent)
    elif status in TERMINAL_STATUSES and leg.answered_at is None and _dialed_out(parent):
        hang_up_leg(parent, reason="agent_missed")  # nobody will talk to the customer
    elif status in TERMINAL_STATUSES:
        _hang_up_when_alone(parent, leg)


def _hang_up_when_alone(parent: Call, leg: Call) -> None:
    """`leg` left the connected call `parent`: with nobody else's leg up or ringing in it,
    the customer is alone, and hung up."""
    if parent.stage != CallStage.CONNECTED:
        return
    others = Call.objects.filter(parent=parent, ended_at__isnull=True).exclude(pk=leg.pk)
    if not others.exists():
        hang_up_leg(parent, reason="last_agent_left")


def _dialed_out(call: Call) -> bool:
    return call.direction != CallDirection.INBOUND and not call.parent_id and call.ended_at is None


def hang_up_leg(call: Call, *, reason: str) -> None:
    operation_request(
        kind=OperationKind.HANGUP,
        key=f"{reason}:{call.call_sid}",
        call_sid=call.call_sid,
        params={"call_sid": call.call_sid},
    )


def follow_customer_call(call: Call) -> None:
    """A customer we dialed out ended without talking: release the agents still waiting in
    its conference. Precondition: the caller holds the call's row lock."""
    if call.direction == CallDirection.INBOUND or call.parent_id or call.answered_at:
        return
    for leg in Call.objects.filter(parent=call, agent__isnull=False, ended_at__isnull=True):
        hang_up_leg(leg, reason="customer_unreached")


@transaction.atomic
def call_dial_out(*, agent: Agent, number: str, request_key: str | None = None) -> Operation:
    """Click-to-call: dial `number`; the agent's softphone rings into the call's conference."""
    return operation_request(
        kind=OperationKind.DIAL_OUT,
        key=f"dial_out:{agent.pk}:{request_key or uuid.uuid4().hex}",
        params={"to": number, "identity": agent.softphone_identity},
    )


@transaction.atomic
def call_between_agents(*, caller: Agent, callee: Agent, request_key: str) -> Operation:
    """An internal call: dial `callee`'s softphone, whose leg holds a conference named after
    itself, and ring `caller`'s softphone into it (click-to-call's follow-up). Both are held
    busy while they talk (direct_legs); either hanging up ends the call for the other."""
    if caller.pk == callee.pk:
        raise InvalidInput("An agent cannot call themselves.", code="self")
    return operation_request(
        kind=OperationKind.DIAL_OUT,
        key=f"internal:{request_key}",
        params={
            "to": client_address(callee.softphone_identity),
            "identity": caller.softphone_identity,
        },
    )


@transaction.atomic
def call_move_to_queue(
    *, call_id: int, queue: Queue, request_key: str | None = None, acting_user=None
) -> Operation:
    """A supervisor moves a waiting caller to another queue: Twilio redirects the call out of
    its <Enqueue> into the transfer URL, which enqueues it in `queue`. Until then the caller is
    out of routing's reach (stage new), so no agent of the old queue is rung meanwhile."""
    sid = Call.objects.values_list("call_sid", flat=True).get(pk=call_id)
    call = lock_call(sid)
    if call.stage != CallStage.WAITING:
        raise TransitionNotAllowed(
            "Only a waiting caller (not one ringing an agent) can be moved.", code="not_waiting"
        )
    if call.queue_id == queue.pk:
        raise InvalidInput("The caller is already in that queue.", code="same_queue")
    call.stage = CallStage.NEW
    save_fields(call, "stage")
    key = action_key("move", call, request_key)
    call_action_audit(
        call=call,
        action="move",
        acting_user=acting_user,
        key=key,
        before=call.queue_id,
        after=queue.pk,
    )
    return operation_request(
        kind=OperationKind.REDIRECT,
        key=key,
        call_sid=call.call_sid,
        params={"call_sid": call.call_sid, "url": twilio_url("twilio-transfer", queue=queue.pk)},
    )
