"""Parse Twilio's form posts into TwilioEvent records with their natural deduplication keys.

Twilio retries a request with the same `I-Twilio-Idempotency-Token`; status and conference
callbacks also carry a SequenceNumber. Keys prefer those, so a retry or duplicate maps to the
row already stored and is answered 2xx without being applied twice.
"""

from email.utils import parsedate_to_datetime

from django.utils import timezone

from callcenter.services import TwilioEvent


def _params(request) -> dict[str, str]:
    return {key: request.POST.get(key, "") for key in request.POST}


def _timestamp(value: str):
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else None


def _sequence(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def _idempotency(request) -> str:
    return request.headers.get("I-Twilio-Idempotency-Token", "")


def _context(request) -> dict:
    """Our own context from the URL we gave Twilio: the customer call, the queue."""
    context = {}
    if for_sid := request.GET.get("for") or request.GET.get("call"):
        context["for"] = for_sid
    if (queue := request.GET.get("queue", "")).isdigit():
        context["queue"] = int(queue)
    if (callback := request.GET.get("callback", "")).isdigit():
        context["callback"] = int(callback)  # the dial of a callback request,
        context["callback_leg"] = request.GET.get("leg", "")  # for the agent on this leg
    if request.GET.get("direct") == "1":
        context["direct"] = True  # an agent's leg routing did not offer (direct_legs)
    return context


def event_from(request, *, kind: str, key: str, source: str = "") -> TwilioEvent:
    params = _params(request)
    return TwilioEvent(
        call_sid=params.get("CallSid", ""),
        source=source or params.get("CallbackSource", "") or kind,
        kind=kind,
        dedup_key=key,
        at=timezone.now(),
        params=params,
        sequence_number=_sequence(params.get("SequenceNumber", "")),
        twilio_timestamp=_timestamp(params.get("Timestamp", "")),
        context=_context(request),
    )


def incoming_event(request) -> TwilioEvent:
    sid = request.POST.get("CallSid", "")
    return event_from(request, kind="incoming", key=f"{sid}:incoming")


def status_event(request) -> TwilioEvent:
    post = request.POST
    sid, source = post.get("CallSid", ""), post.get("CallbackSource") or "call-progress-events"
    seq = post.get("SequenceNumber", "")
    key = f"{sid}:{source}:{seq}" if seq.isdigit() else f"{sid}:status:{post.get('CallStatus')}"
    return event_from(request, kind="status", key=key, source=source)


def action_event(request, *, kind: str, scope: str) -> TwilioEvent:
    """An action callback (<Enqueue>, <Gather>, <Record>, <Dial>): one per idempotency token,
    or per call, scope and result when Twilio sends no token."""
    post = request.POST
    token = _idempotency(request)
    result = post.get("QueueResult") or post.get("Digits") or post.get("DialCallStatus", "")
    suffix = token or f"{scope}:{result}"
    return event_from(request, kind=kind, key=f"{post.get('CallSid', '')}:{kind}:{suffix}")


def conference_event(request) -> TwilioEvent:
    post = request.POST
    key = ":".join(
        (
            post.get("ConferenceSid", ""),
            post.get("CallSid", ""),
            post.get("StatusCallbackEvent", ""),
            post.get("SequenceNumber", ""),
        )
    )
    return event_from(request, kind="conference", key=key, source="conference")


def recording_event(request) -> TwilioEvent:
    post = request.POST
    key = f"{post.get('RecordingSid', '')}:{post.get('RecordingStatus', '')}"
    return event_from(request, kind="recording", key=key, source="recording")
