"""Call control at Twilio: one function per operation, the only code that drives `twilio.rest`.

Every function is called by telephony.tasks with an Operation's params, outside any database
transaction, and returns the SID Twilio created (or "").
"""

from datetime import datetime

from django.conf import settings

from .client import twilio_client
from .webhook_urls import twilio_url

AGENT_LEG_EVENTS = ["initiated", "ringing", "answered", "completed"]
OUTBOUND_RING_SECONDS = 30


def join_url(call_sid: str, role: str, **extra) -> str:
    return twilio_url("twilio-join", call=call_sid, role=role, **extra)


def _leg_status_url(customer_call_sid: str = "", *, direct: bool) -> str:
    """Where a leg we create reports its progress. `direct`: not a routing offer, so the
    agent it rings is held busy while it talks (callcenter.services.direct_legs)."""
    return twilio_url("twilio-status", **{"for": customer_call_sid}, direct="1" if direct else "")


def dial_agent(
    *,
    customer_call_sid: str,
    identity: str,
    ring_timeout: int,
    role: str = "agent",
    direct: bool = False,
) -> str:
    """Ring the agent's softphone; on answer it joins the customer's conference (role
    "agent"), or waits for the customer of a callback to be dialed (role "callback").
    `direct`: a ring routing did not offer (click-to-call, an internal call)."""
    call = twilio_client().calls.create(
        to=f"client:{identity}",
        from_=settings.TWILIO_CALLER_ID,
        url=join_url(customer_call_sid, role),
        method="POST",
        status_callback=_leg_status_url(customer_call_sid, direct=direct),
        status_callback_event=AGENT_LEG_EVENTS,
        status_callback_method="POST",
        timeout=ring_timeout,
    )
    return call.sid


def dial_out(*, to: str, identity: str) -> str:
    """Click-to-call: dial the customer, who joins a conference named after their own call;
    the agent's softphone is rung into it by the follow-up operation (tasks._follow_up). An
    internal call dials a colleague's softphone (`to` is a client address) the same way."""
    call = twilio_client().calls.create(
        to=to,
        from_=settings.TWILIO_CALLER_ID,
        url=join_url("", "customer"),
        method="POST",
        status_callback=_leg_status_url(direct=True),
        status_callback_event=AGENT_LEG_EVENTS,
        status_callback_method="POST",
        timeout=OUTBOUND_RING_SECONDS,
    )
    return call.sid


def dial_callback(*, to: str, callback_id: int, agent_leg_sid: str) -> str:
    """A callback: dial the customer (the agent is already on the line), who joins a
    conference named after their own call; the follow-up moves the agent's leg into it."""
    call = twilio_client().calls.create(
        to=to,
        from_=settings.TWILIO_CALLER_ID,
        url=join_url("", "customer"),
        method="POST",
        status_callback=twilio_url("twilio-status", callback=callback_id, leg=agent_leg_sid),
        status_callback_event=AGENT_LEG_EVENTS,
        status_callback_method="POST",
        timeout=OUTBOUND_RING_SECONDS,
    )
    return call.sid


def find_leg(*, to: str, since: datetime) -> str:
    """A call Twilio already created to `to` since `since` (an earlier attempt that timed out)."""
    for call in twilio_client().calls.list(to=to, start_time_after=since, limit=5):
        return call.sid
    return ""


def bridge_customer(*, customer_call_sid: str) -> str:
    """Move the waiting customer out of the queue into their call's conference."""
    twilio_client().calls(customer_call_sid).update(
        url=join_url(customer_call_sid, "customer"), method="POST"
    )
    return ""


def redirect(*, call_sid: str, url: str) -> str:
    twilio_client().calls(call_sid).update(url=url, method="POST")
    return ""


def hangup(*, call_sid: str) -> str:
    twilio_client().calls(call_sid).update(status="completed")
    return ""


def set_hold(*, conference_sid: str, call_sid: str, hold: bool, hold_url: str = "") -> str:
    """Participant hold (the conference keeps running; the held leg hears music)."""
    kwargs = {"hold": hold}
    if hold and hold_url:
        kwargs["hold_url"] = hold_url
    twilio_client().conferences(conference_sid).participants(call_sid).update(**kwargs)
    return ""


def start_recording(*, call_sid: str) -> str:
    recording = (
        twilio_client()
        .calls(call_sid)
        .recordings.create(
            recording_status_callback=twilio_url("twilio-recording"),
            # in-progress too: the call shows it is being recorded (Call.recording_since).
            recording_status_callback_event=["in-progress", "completed"],
        )
    )
    return recording.sid


def stop_recording(*, call_sid: str, recording_sid: str) -> str:
    twilio_client().calls(call_sid).recordings(recording_sid).update(status="stopped")
    return ""


def add_participant(
    *,
    conference_sid: str,
    customer_call_sid: str,
    to: str,
    label: str = "",
    muted: bool = False,
    coach_call_sid: str = "",
) -> str:
    """Dial `to` into the conference: a transfer target, or a supervisor who monitors
    (muted), whispers (coaching the agent's leg) or barges in."""
    kwargs = {
        "from_": settings.TWILIO_CALLER_ID,
        "to": to,
        "label": label or None,
        "muted": muted,
        "status_callback": _leg_status_url(customer_call_sid, direct=True),
        "status_callback_event": AGENT_LEG_EVENTS,
        "end_conference_on_exit": False,
    }
    if coach_call_sid:
        kwargs.update(coaching=True, call_sid_to_coach=coach_call_sid)
    participant = twilio_client().conferences(conference_sid).participants.create(**kwargs)
    return participant.call_sid


def remove_participant(*, conference_sid: str, call_sid: str) -> str:
    twilio_client().conferences(conference_sid).participants(call_sid).delete()
    return ""
