"""Twilio's voice webhooks (DESIGN.md §5). Thin: validate, parse, call the flow or a service.

TwiML endpoints answer text/xml; callbacks answer 204 once the event is stored (or was
already stored: duplicates are not errors).
"""

from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404

from callcenter import services
from callcenter.models import Call, Queue

from . import events, outbox, voice
from .security import twilio_webhook


def _twiml(document: str) -> HttpResponse:
    return HttpResponse(document, content_type="text/xml")


def _no_content() -> HttpResponse:
    return HttpResponse(status=204)


def _queue(request) -> Queue:
    queue_id = request.GET.get("queue", "")
    return get_object_or_404(Queue, pk=int(queue_id) if queue_id.isdigit() else 0)


def _store_then_apply(event) -> HttpResponse:
    """Store the callback once, queued in the outbox by the same statement (committed on
    return: views run in autocommit), and answer at once; the drainer applies it. A
    duplicate is answered the same and applied no more."""
    if services.call_event_record(event, apply_later=True) is not None:
        transaction.on_commit(outbox.wake)
    return _no_content()


def _call(request) -> Call | None:
    return Call.objects.filter(call_sid=request.POST.get("CallSid", "")).first()


@twilio_webhook
def incoming(request):
    return _twiml(voice.incoming(events.incoming_event(request)))


@twilio_webhook
def menu(request):
    attempt = request.GET.get("attempt", "1")
    attempt = int(attempt) if attempt.isdigit() else 1
    event = events.action_event(request, kind="menu", scope=str(attempt))
    return _twiml(voice.menu_choice(event, attempt=attempt))


@twilio_webhook
def wait(request):
    return _twiml(voice.waiting(_call(request), _queue(request)))


@twilio_webhook
def queue_choice(request):
    return _twiml(
        voice.queue_choice(_call(request), _queue(request), request.POST.get("Digits", ""))
    )


@twilio_webhook
def enqueue_action(request):
    queue = _queue(request)
    event = events.action_event(request, kind="enqueue-action", scope=str(queue.pk))
    return _twiml(voice.left_queue(event, queue))


@twilio_webhook
def transfer(request):
    queue = _queue(request)
    event = events.action_event(request, kind="transfer", scope=str(queue.pk))
    return _twiml(voice.transferred(event, queue))


@twilio_webhook
def voicemail_done(request):
    return _twiml(voice.twiml.hangup(voice.TEXT["goodbye"]))


@twilio_webhook
def recording(request):
    return _store_then_apply(events.recording_event(request))


@twilio_webhook
def status(request):
    return _store_then_apply(events.status_event(request))


@twilio_webhook
def conference(request):
    return _store_then_apply(events.conference_event(request))


@twilio_webhook
def join(request):
    return _twiml(
        voice.join(
            # A customer leg we dialed out names its conference after itself.
            request.GET.get("call") or request.POST.get("CallSid", ""),
            request.GET.get("role", "agent"),
            to=request.POST.get("To", ""),
            coach_call_sid=request.GET.get("coach", ""),
        )
    )
