"""Voicemails and callback requests as work for agents: routing offers them like calls, in
the callers' original order (callcenter.models.work). This module writes their state once
offered (the offer itself: callcenter.services.offers): offered → in progress → done, or
waiting again; a callback whose customer was not reached waits again (after
CALLBACK_RETRY_SECONDS) until CALLBACK_MAX_ATTEMPTS dials, then fails.

A callback connects the agent first: their softphone rings with a leg of the request's call
that holds (TwiML role "callback"); once they answer, the customer is dialed into a conference
named after the new outbound call, and the agent's leg is moved into it (telephony.tasks).
"""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from callcenter.choices import TERMINAL_STATUSES, CallDirection, CallStatus, WorkStatus
from callcenter.errors import TransitionNotAllowed
from callcenter.locks import lock_work
from callcenter.models import Call, CallbackRequest, Voicemail
from telephony.models import OperationKind
from telephony.services import operation_request

from .call_control import hang_up_leg
from .call_facts import save_fields

WORK_MODELS = {"voicemail": Voicemail, "callback": CallbackRequest}
# A dialed customer's statuses once they picked up (an unanswered dial ends otherwise).
PICKED_UP = (CallStatus.IN_PROGRESS, CallStatus.COMPLETED)


def _save(item, *fields: str) -> None:
    item.save(update_fields=list(fields))


def _wait_again(item, *fields: str) -> None:
    """Back to waiting, keeping the caller's original place."""
    item.status, item.agent = WorkStatus.WAITING, None
    _save(item, "status", "agent", *fields)


def work_offer_lapsed(*, kind: str, call_id: int) -> None:
    """An offer of work that was not taken (rejected, timed out): it waits again.
    Precondition: inside a transaction."""
    item = lock_work(WORK_MODELS[kind], call_id)
    if item is not None and item.status == WorkStatus.OFFERED:
        _wait_again(item)


def work_start(*, kind: str, call_id: int):
    """The offered agent took the work (a voicemail: they listen to it now).
    Precondition: inside a transaction."""
    item = lock_work(WORK_MODELS[kind], call_id)
    if item is None or item.status != WorkStatus.OFFERED:
        raise TransitionNotAllowed("This work is not offered.", code="not_offered")
    item.status = WorkStatus.IN_PROGRESS
    _save(item, "status")
    return item


def work_finish(*, kind: str, call_id: int):
    """The agent is done with the work. Precondition: inside a transaction."""
    item = lock_work(WORK_MODELS[kind], call_id)
    if item is None or item.status != WorkStatus.IN_PROGRESS:
        raise TransitionNotAllowed("This work is not in progress.", code="not_in_progress")
    item.status, item.completed_at = WorkStatus.DONE, timezone.now()
    _save(item, "status", "completed_at")
    return item


def follow_callback_agent_leg(leg: Call, status: str) -> bool:
    """The agent's leg of a callback changed: answered → dial the customer; ended before the
    customer answered (missed, or the agent hung up) → the request waits again and a customer
    leg still ringing is hung up. Whether `leg` served a callback.
    Precondition: the caller holds the leg's row lock, inside a transaction."""
    request = (
        CallbackRequest.objects.select_for_update(no_key=True, of=("self",))
        .filter(
            call_id=leg.parent_id,
            agent_id=leg.agent_id,
            status__in=(WorkStatus.OFFERED, WorkStatus.IN_PROGRESS),
        )
        .select_related("dialed_call")
        .first()
    )
    if request is None:
        return False
    if request.status == WorkStatus.OFFERED:
        if status == CallStatus.IN_PROGRESS:
            request.status, request.dialed_call = WorkStatus.IN_PROGRESS, None
            _save(request, "status", "dialed_call")
            operation_request(
                kind=OperationKind.DIAL_CALLBACK,
                key=f"dial_callback:{request.pk}:{leg.call_sid}",
                params={
                    "to": request.number,
                    "callback_id": request.pk,
                    "agent_leg_sid": leg.call_sid,
                },
            )
        elif status in TERMINAL_STATUSES:  # missed or rejected: no dial of this attempt
            _wait_again(request)
    elif status in TERMINAL_STATUSES:
        # The customer picked up (Twilio's status; whether they met the agent is the
        # conference's to say): their leg's end decides. Otherwise this attempt is over.
        dialed = request.dialed_call
        if dialed is None or dialed.status not in PICKED_UP:
            if dialed is not None and dialed.ended_at is None:
                hang_up_leg(dialed, reason="callback_agent_left")
            _wait_again(request)
    return True


def follow_callback_call(call: Call, callback_id: int, agent_leg_sid: str, status: str) -> None:
    """The customer's leg of a callback, dialed for the agent on `agent_leg_sid`, changed:
    linked to its request on its first event; ended after talking → done; ended unreached →
    the agent's leg is hung up and the request waits CALLBACK_RETRY_SECONDS, or fails after
    CALLBACK_MAX_ATTEMPTS dials. A dial for an attempt that is over (its agent hung up before
    it rang) is hung up. Precondition: the caller holds the call's row lock, in a transaction."""
    request = CallbackRequest.objects.select_for_update(no_key=True).filter(pk=callback_id).first()
    if request is None:
        return
    if not _current_attempt(request, agent_leg_sid):
        if call.ended_at is None:
            hang_up_leg(call, reason="callback_attempt_over")
        return
    if request.dialed_call_id is None:
        request.dialed_call = call
        _save(request, "dialed_call")
        if call.agent_id is None:
            call.agent_id = request.agent_id
            save_fields(call, "agent")
    if status not in TERMINAL_STATUSES:
        return
    now = timezone.now()
    if call.answered_at is not None:
        request.status, request.completed_at = WorkStatus.DONE, now
        _save(request, "status", "completed_at")
        return
    for leg in Call.objects.filter(
        parent_id=request.call_id, agent_id=request.agent_id, ended_at__isnull=True
    ):
        hang_up_leg(leg, reason="customer_unreached")
    request.attempts += 1
    if request.attempts >= settings.CALLBACK_MAX_ATTEMPTS:
        request.status, request.completed_at = WorkStatus.FAILED, now
        _save(request, "status", "completed_at", "attempts")
    else:
        request.retry_at = now + timedelta(seconds=settings.CALLBACK_RETRY_SECONDS)
        _wait_again(request, "attempts", "retry_at")


def _current_attempt(request: CallbackRequest, agent_leg_sid: str) -> bool:
    """Whether the request is being worked on by the agent on `agent_leg_sid` (their latest
    leg for it)."""
    if request.status != WorkStatus.IN_PROGRESS:
        return False
    latest = (
        Call.objects.filter(parent_id=request.call_id, agent_id=request.agent_id)
        .order_by("-id")
        .values_list("call_sid", flat=True)
        .first()
    )
    return latest == agent_leg_sid


def work_cancel_answered_callbacks(call: Call) -> int:
    """A caller an agent has just talked to needs none of the callbacks they asked for before:
    their waiting requests are canceled (one being dialed or offered is left to finish).
    How many. Precondition: inside a transaction."""
    if call.direction != CallDirection.INBOUND or call.answered_at is None or not call.from_number:
        return 0
    return CallbackRequest.objects.filter(
        number=call.from_number, status=WorkStatus.WAITING, created_at__lt=call.answered_at
    ).update(status=WorkStatus.CANCELED, completed_at=timezone.now())
