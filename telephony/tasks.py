"""The task that runs a call-control operation at Twilio, with retries and no double effects.

It never holds a database transaction while Twilio is asked: the operation row is read and
updated in short transactions before and after the request.
"""

import logging

import requests
from celery import shared_task
from django.db import connection
from twilio.base.exceptions import TwilioException, TwilioRestException

from . import gateway
from .models import Operation, OperationKind, OperationStatus

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
# Operations that create something at Twilio: after an ambiguous failure (a timeout), look
# for what an earlier attempt created before creating again.
CREATES = {
    OperationKind.DIAL_AGENT: lambda p: f"client:{p['identity']}",
    OperationKind.DIAL_OUT: lambda p: p["to"],
    OperationKind.DIAL_CALLBACK: lambda p: p["to"],
}
# Twilio's "the call is not in progress": the call ended before Twilio got to it.
CALL_OVER = 21220
# Twilio errors that mean the operation's goal already holds: hanging up a call that has
# already ended is done, not failed. For any other operation CALL_OVER is a failure (it did
# not happen), but a race of the telephone network (a caller who hung up as we moved them),
# not a fault of ours: logged as a warning, not an error.
ALREADY_DONE = {OperationKind.HANGUP: {CALL_OVER}}
ACTIONS = {
    OperationKind.DIAL_AGENT: gateway.dial_agent,
    OperationKind.DIAL_OUT: gateway.dial_out,
    OperationKind.DIAL_CALLBACK: gateway.dial_callback,
    OperationKind.BRIDGE_CUSTOMER: gateway.bridge_customer,
    OperationKind.REDIRECT: gateway.redirect,
    OperationKind.HANGUP: gateway.hangup,
    OperationKind.HOLD: lambda **p: gateway.set_hold(hold=True, **p),
    OperationKind.UNHOLD: lambda **p: gateway.set_hold(hold=False, **p),
    OperationKind.START_RECORDING: gateway.start_recording,
    OperationKind.STOP_RECORDING: gateway.stop_recording,
    OperationKind.ADD_PARTICIPANT: gateway.add_participant,
    OperationKind.REMOVE_PARTICIPANT: gateway.remove_participant,
}


def _http_status(exc: Exception) -> int | None:
    if isinstance(exc, TwilioRestException):
        return exc.status
    # A list request that fails raises TwilioException("Unable to fetch page", response).
    if isinstance(exc, TwilioException) and len(exc.args) > 1:
        return getattr(exc.args[1], "status_code", None)
    return None


def is_transient(exc: Exception) -> bool:
    """Worth retrying: Twilio's 5xx and 429, timeouts and dropped connections."""
    status = _http_status(exc)
    if status is not None:
        return status == 429 or status >= 500
    return isinstance(exc, requests.Timeout | requests.ConnectionError)


def backoff_seconds(attempt: int) -> float:
    return min(30.0, 0.5 * 2 ** (attempt - 1))


def _follow_up(operation: Operation) -> None:
    """Once the customer's leg exists, bring the agent into its conference: click-to-call
    rings the agent's softphone; a callback moves the agent's waiting leg."""
    from .services import operation_request

    if operation.kind == OperationKind.DIAL_CALLBACK:
        agent_leg_sid = operation.params["agent_leg_sid"]
        operation_request(
            kind=OperationKind.REDIRECT,
            key=f"callback_join:{operation.result_sid}",
            call_sid=agent_leg_sid,
            params={
                "call_sid": agent_leg_sid,
                "url": gateway.join_url(operation.result_sid, "agent"),
            },
        )
    if operation.kind == OperationKind.DIAL_OUT:
        operation_request(
            kind=OperationKind.DIAL_AGENT,
            key=f"dial_agent:{operation.result_sid}:click-to-call",
            call_sid=operation.result_sid,
            params={
                "customer_call_sid": operation.result_sid,
                "identity": operation.params["identity"],
                "ring_timeout": gateway.OUTBOUND_RING_SECONDS,
                "direct": True,
            },
        )


def _finish(operation: Operation, status: str, *, result_sid: str = "", error: str = "") -> None:
    operation.status, operation.result_sid, operation.error = status, result_sid, error
    operation.save(update_fields=["status", "result_sid", "error", "updated_at"])


@shared_task(
    bind=True, max_retries=MAX_ATTEMPTS - 1, time_limit=60, soft_time_limit=45, acks_late=True
)
def telephony_operation_task(self, operation_id: int) -> str:
    operation = Operation.objects.get(pk=operation_id)
    if operation.status in (OperationStatus.SUCCEEDED, OperationStatus.FAILED):
        return operation.status
    ambiguous_before = operation.status == OperationStatus.RUNNING and bool(operation.error)
    operation.status = OperationStatus.RUNNING
    operation.attempts += 1
    operation.save(update_fields=["status", "attempts", "updated_at"])
    if connection.in_atomic_block:
        raise RuntimeError("Twilio is never called inside a database transaction")

    try:
        if ambiguous_before and operation.kind in CREATES:
            existing = gateway.find_leg(
                to=CREATES[operation.kind](operation.params), since=operation.created_at
            )
            if existing:
                _finish(operation, OperationStatus.SUCCEEDED, result_sid=existing)
                _follow_up(operation)
                return operation.status
        result_sid = ACTIONS[operation.kind](**operation.params)
    except Exception as exc:
        code = getattr(exc, "code", None)
        if code in ALREADY_DONE.get(operation.kind, ()):
            _finish(operation, OperationStatus.SUCCEEDED, error=f"already done: {exc}"[:1000])
            return operation.status
        if is_transient(exc) and operation.attempts < MAX_ATTEMPTS:
            operation.error = f"{type(exc).__name__}: {exc}"[:1000]
            operation.save(update_fields=["error", "updated_at"])
            logger.warning(
                "telephony %s attempt %s failed; retrying", operation.kind, operation.attempts
            )
            raise self.retry(exc=exc, countdown=backoff_seconds(operation.attempts)) from exc
        _finish(operation, OperationStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:1000])
        if code == CALL_OVER:
            logger.warning("telephony %s not done: the call was over: %s", operation.kind, exc)
        else:
            logger.error("telephony %s failed for good: %s", operation.kind, exc)
        return operation.status
    _finish(operation, OperationStatus.SUCCEEDED, result_sid=result_sid or "")
    _follow_up(operation)
    return operation.status
