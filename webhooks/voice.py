"""The voice flow: what a caller hears at each step, decided from our own data.

Each function takes the request's call and returns a TwiML document (telephony.twiml);
state changes go through callcenter.services.
"""

from django.db import transaction
from django.utils import timezone

from callcenter import selectors, services
from callcenter.choices import MaxWaitAction, QueueExit
from callcenter.models import Call, Menu, PhoneNumber, Queue
from callcenter.participants import CLIENT_PREFIX, agent_participant_label
from callcenter.services import TwilioEvent
from routing.tasks import routing_run_task
from telephony import twiml
from telephony.webhook_urls import twilio_url

MENU_ATTEMPTS = 2
CALLBACK_DIGIT = "1"
TEXT = {
    "not_in_service": "Sorry, this number is not in service. Goodbye.",
    "invalid_choice": "Sorry, that is not one of the options.",
    "closed": "We are closed right now. Please leave a message after the tone.",
    "voicemail": "All of our agents are busy. Please leave a message after the tone.",
    "callback_offer": "To be called back without losing your place, press 1.",
    "callback_confirm": "Thank you. We will call you back as soon as an agent is free. Goodbye.",
    "error": "Sorry, something went wrong. Please leave a message after the tone.",
    "goodbye": "Thank you for your message. Goodbye.",
    "calling_back": "Calling the customer back. Please hold.",
}
# How long an agent's leg waits for a callback's customer leg to be set up before giving up.
CALLBACK_HOLD_SECONDS = 90


def _minutes(seconds: int) -> str:
    minutes = max(1, round(seconds / 60))
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def number_for(to: str) -> PhoneNumber | None:
    return PhoneNumber.objects.select_related("default_queue", "menu").filter(e164=to).first()


def incoming(event: TwilioEvent) -> str:
    call, _ = services.call_start_inbound(event)
    number = number_for(event.params.get("To", ""))
    if number is None:
        return twiml.hangup(TEXT["not_in_service"])
    if number.menu_id:
        services.call_enter_menu(call_sid=call.call_sid)
        return _menu(number.menu, greeting=number.greeting, attempt=1)
    return to_queue(event, call, number.default_queue, greeting=number.greeting)


def _menu(menu: Menu, *, greeting: str, attempt: int) -> str:
    return twiml.menu(
        greeting=greeting,
        prompt=menu.prompt,
        timeout=menu.timeout_seconds,
        action_url=twilio_url("twilio-menu", attempt=attempt),
    )


def menu_choice(event: TwilioEvent, *, attempt: int) -> str:
    call = Call.objects.filter(call_sid=event.call_sid).first()
    number = number_for(event.params.get("To", ""))
    if call is None or number is None or number.menu is None:
        return twiml.hangup(TEXT["not_in_service"])
    services.call_event_record(event, call)
    menu = number.menu
    option = (
        menu.options.select_related("queue").filter(digit=event.params.get("Digits", "")).first()
    )
    if option is not None:
        return to_queue(event, call, option.queue)
    if attempt < MENU_ATTEMPTS:
        return _menu(menu, greeting=TEXT["invalid_choice"], attempt=attempt + 1)
    fallback = menu.fallback_queue or (first.queue if (first := menu.options.first()) else None)
    if fallback is None:
        return twiml.hangup(TEXT["not_in_service"])
    return to_queue(event, call, fallback)


def to_queue(event: TwilioEvent, call: Call, queue: Queue, *, greeting: str = "") -> str:
    """Enqueue the caller, unless the queue is closed (voicemail) or full (its max-wait action)."""
    if not queue.is_open(timezone.now()):
        return voicemail(call, queue, TEXT["closed"])
    if queue.max_size and selectors.queue_waiting_count(queue.pk) >= queue.max_size:
        return _instead_of_waiting(event, call, queue)
    services.call_enqueue(event, queue=queue)
    transaction.on_commit(routing_run_task.delay)  # a new caller: offer it if someone is free
    return twiml.enqueue(
        queue_name=queue.twilio_queue_name,
        greeting=greeting or queue.greeting,
        action_url=twilio_url("twilio-enqueue-action", queue=queue.pk),
        wait_url=twilio_url("twilio-wait", queue=queue.pk),
    )


def _instead_of_waiting(event: TwilioEvent, call: Call, queue: Queue) -> str:
    if queue.max_wait_action == MaxWaitAction.CALLBACK:
        services.call_request_callback(call_sid=call.call_sid, queue=queue)
        return twiml.hangup(TEXT["callback_confirm"])
    if queue.max_wait_action == MaxWaitAction.OVERFLOW and queue.overflow_queue_id:
        return to_queue(event, call, queue.overflow_queue)
    return voicemail(call, queue, TEXT["voicemail"])


def voicemail(call: Call, queue: Queue, prompt: str) -> str:
    services.call_send_to_voicemail(call_sid=call.call_sid, queue=queue)
    return twiml.voicemail(
        prompt=prompt,
        action_url=twilio_url("twilio-voicemail-done", queue=queue.pk),
        recording_status_url=twilio_url("twilio-recording", queue=queue.pk),
    )


def waiting(call: Call | None, queue: Queue) -> str:
    """The waitUrl: leave when the wait is over the limit, else announce and play music."""
    offer = queue.max_wait_action == MaxWaitAction.CALLBACK
    if call is None or call.queue_id != queue.pk or call.enqueued_at is None:
        return twiml.wait(announcement="", hold_music_url=queue.hold_music_url)
    waited = (timezone.now() - call.enqueued_at).total_seconds()
    if queue.max_wait_seconds and waited >= queue.max_wait_seconds:
        exit = {
            MaxWaitAction.CALLBACK: QueueExit.CALLBACK,
            MaxWaitAction.OVERFLOW: QueueExit.OVERFLOW,
        }.get(queue.max_wait_action, QueueExit.VOICEMAIL)
        services.call_request_queue_exit(call_sid=call.call_sid, exit=exit)
        return twiml.leave()
    announcement = ""
    if queue.announce_position:
        position = selectors.queue_position(call)
        estimate = selectors.queue_estimated_wait_seconds(queue, position)
        announcement = (
            f"You are number {position} in line. Your estimated wait is about {_minutes(estimate)}."
        )
    return twiml.wait(
        announcement=announcement,
        hold_music_url=queue.hold_music_url,
        callback_url=twilio_url("twilio-queue-choice", queue=queue.pk) if offer else "",
        callback_prompt=TEXT["callback_offer"],
        pause_seconds=queue.announce_interval_seconds,
    )


def queue_choice(call: Call | None, queue: Queue, digits: str) -> str:
    if call is not None and digits == CALLBACK_DIGIT:
        services.call_request_queue_exit(call_sid=call.call_sid, exit=QueueExit.CALLBACK)
        return twiml.leave()
    return twiml.wait(
        announcement="",
        hold_music_url=queue.hold_music_url,
        pause_seconds=queue.announce_interval_seconds,
    )


def left_queue(event: TwilioEvent, queue: Queue) -> str:
    """The <Enqueue> action: handle every QueueResult Twilio documents."""
    call = services.call_left_queue(event)
    result = event.params.get("QueueResult", "")
    if result == "leave":
        if call.queue_exit == QueueExit.CALLBACK:
            return twiml.hangup(TEXT["callback_confirm"])
        if call.queue_exit == QueueExit.OVERFLOW and queue.overflow_queue_id:
            return to_queue(event, call, queue.overflow_queue)
        return voicemail(call, queue, TEXT["voicemail"])
    if result in ("queue-full",):
        return voicemail(call, queue, TEXT["voicemail"])
    if result in ("error", "system-error"):
        return voicemail(call, queue, TEXT["error"])
    # bridged, bridging-in-process, redirected: the call goes on elsewhere; hangup: it is over.
    return twiml.hangup() if result in ("bridged", "hangup") else twiml.empty()


def transferred(event: TwilioEvent, queue: Queue) -> str:
    """The customer, redirected out of their conference by a transfer, enters `queue`."""
    call = Call.objects.filter(call_sid=event.call_sid).first()
    if call is None:
        return twiml.hangup()
    return to_queue(event, call, queue)


def join(call_sid: str, role: str, *, to: str, coach_call_sid: str = "") -> str:
    """A leg joining the conference of the customer call `call_sid`; an agent's leg (To is
    its softphone) is labelled so conference callbacks name the agent."""
    if role == "callback":  # the agent is on the line first; the customer is dialed now
        return twiml.hold(TEXT["calling_back"], seconds=CALLBACK_HOLD_SECONDS)
    label = ""
    if role == "agent" and to.startswith(CLIENT_PREFIX):
        label = agent_participant_label(to.removeprefix(CLIENT_PREFIX))
    return twiml.join_conference(
        name=call_sid,
        label=label,
        status_callback_url=twilio_url("twilio-conference", call=call_sid),
        # Only the customer leaving ends the conference: agents come and go (transfers), and
        # the last agent hanging up hangs the customer up (follow_agent_leg).
        end_on_exit=role == "customer",
        muted=role == "monitor",
        coach_call_sid=coach_call_sid if role == "whisper" else "",
    )
