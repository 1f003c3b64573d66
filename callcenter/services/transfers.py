"""Transfers: the customer to a queue (always cold), to an agent or to an outside number.

Cold, to an agent or a number: the target is dialed into the customer's conference, and the
transferring agent's leg leaves once the target answers (a `handover` event of the call says
what the answer sets off; follow_transfer_leg), so a target who declines or never answers
leaves the caller with their agent. Warm: the customer is held and the target joins the
agent, who leaves when the handover is done (call_leave: the customer is taken off hold).
"""

from django.db import transaction

from callcenter import notifications
from callcenter.choices import CallStatus
from callcenter.errors import InvalidInput, TransitionNotAllowed
from callcenter.models import Agent, Call, CallEvent, Queue
from callcenter.participants import agent_participant_label, client_address
from telephony.models import Operation, OperationKind
from telephony.services import operation_request
from telephony.webhook_urls import twilio_url

from .call_audit import call_action_audit
from .call_control import action_key, agent_leg, call_set_hold, require_conference

TRANSFER_MODES = ("cold", "warm")
HANDOVER = "handover"


def call_transfer(
    *,
    call: Call,
    mode: str,
    queue: Queue | None = None,
    agent: Agent | None = None,
    number: str = "",
    request_key: str | None = None,
    acting_user=None,
) -> Operation:
    """Transfer the customer to a queue (always cold), an agent or an outside number.

    Cold: the target is dialed in, and the current agent's leg leaves once the target answers
    (follow_transfer_leg; a target who declines or never answers leaves the caller with their
    agent). Warm: the customer is held and the target joins the agent, who leaves (hangs up)
    when the handover is done.
    """
    require_conference(call)
    if sum(bool(t) for t in (queue, agent, number)) != 1:
        raise InvalidInput("Transfer to exactly one of a queue, an agent or a number.")
    key = action_key(f"transfer_{mode}", call, request_key)
    target = {"queue": queue.pk} if queue else {"agent": agent.pk} if agent else {"number": number}
    call_action_audit(
        call=call, action="transfer", acting_user=acting_user, key=key, mode=mode, **target
    )
    if queue is not None:
        return operation_request(
            kind=OperationKind.REDIRECT,
            key=key,
            call_sid=call.call_sid,
            params={
                "call_sid": call.call_sid,
                "url": twilio_url("twilio-transfer", queue=queue.pk),
            },
        )
    to = client_address(agent.softphone_identity) if agent else number
    label = agent_participant_label(agent.softphone_identity) if agent else "external"
    if mode == "warm":
        call_set_hold(call=call, hold=True, request_key=f"{key}:hold")
    retried = Operation.objects.filter(key=key).exists()
    operation = operation_request(
        kind=OperationKind.ADD_PARTICIPANT,
        key=key,
        call_sid=call.call_sid,
        params={
            "conference_sid": call.conference_sid,
            "customer_call_sid": call.call_sid,
            "to": to,
            "label": label,
        },
    )
    if agent is not None and not retried:
        notifications.transfer_offered(call, agent, mode, acting_user)
    current = agent_leg(call)
    if mode == "cold" and current is not None and not retried:
        # What the target's answer sets off, kept with the call's events.
        handover = CallEvent(
            dedup_key=f"handover:{key}",
            call=call,
            call_sid=call.call_sid,
            source=CallEvent.OURS,
            kind=HANDOVER,
            payload={"to": to, "leaving": current.call_sid, "key": f"{key}:leave"},
        )
        CallEvent.objects.bulk_create([handover], ignore_conflicts=True)
    return operation


def follow_transfer_leg(leg: Call, status: str) -> None:
    """A leg we dialed into a customer call answered: if a cold transfer dialed it, the
    transferring agent's leg leaves now. Precondition: the leg's row lock is held."""
    if status != CallStatus.IN_PROGRESS or not leg.parent_id:
        return
    handovers = CallEvent.objects.filter(
        call_id=leg.parent_id, source=CallEvent.OURS, kind=HANDOVER
    )
    for handover in handovers.only("payload"):
        if handover.payload.get("to") != leg.to_number:
            continue
        parent = Call.objects.only("call_sid", "conference_sid").get(pk=leg.parent_id)
        operation_request(
            kind=OperationKind.REMOVE_PARTICIPANT,
            key=handover.payload["key"],
            call_sid=parent.call_sid,
            params={
                "conference_sid": parent.conference_sid,
                "call_sid": handover.payload["leaving"],
            },
        )


@transaction.atomic
def call_leave(*, call: Call, agent: Agent, request_key: str | None = None, acting_user=None):
    """`agent` leaves the call and the others on it go on: a warm transfer handed over, or a
    colleague who joined done. The customer, if held, is taken off hold; left alone, they are
    hung up (follow_agent_leg). Returns the operation removing the agent's leg."""
    require_conference(call)
    leg = agent_leg(call, agent.pk)
    if leg is None:
        raise TransitionNotAllowed("You are not on the call.", code="not_on_call")
    key = action_key("leave", call, request_key)
    call_action_audit(call=call, action="leave", acting_user=acting_user, key=key)
    if call.held_since is not None:
        call_set_hold(call=call, hold=False, request_key=f"{key}:unhold")
    return operation_request(
        kind=OperationKind.REMOVE_PARTICIPANT,
        key=key,
        call_sid=call.call_sid,
        params={"conference_sid": call.conference_sid, "call_sid": leg.call_sid},
    )
