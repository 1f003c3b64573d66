"""What an ended or connected call's facts add up to: answer, agent, hold, talk, outcome.

Everything here is recomputed from the call's stored rows and events, never accumulated, so
the result is the same whatever order Twilio's callbacks arrived in.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import Exists, OuterRef

from callcenter import notifications
from callcenter.choices import CallDirection, CallOutcome, CallStage
from callcenter.locks import CALLS
from callcenter.models import Agent, Call, CallbackRequest, CallEvent, Voicemail
from callcenter.participants import AGENT_LABEL_PREFIX, CLIENT_PREFIX
from telephony.models import Operation, OperationKind

# <Enqueue> results after which the caller is no longer waiting for an agent.
QUEUE_FAILURES = frozenset({"error", "system-error"})


def agent_for(to: str) -> Agent | None:
    """The agent whose softphone a leg rings (`client:<identity>`)."""
    if not to.startswith(CLIENT_PREFIX):
        return None
    return Agent.objects.filter(softphone_identity=to.removeprefix(CLIENT_PREFIX)).first()


def save_fields(call: Call, *fields: str) -> None:
    """The one place a call's changes are saved: dashboards hear of each after commit."""
    CALLS.update(call, set(fields))
    notifications.call_changed(call)


@dataclass
class _Presence:
    joined: datetime | None = None
    left: datetime | None = None
    label: str = ""
    held_since: datetime | None = None
    held_seconds: float = 0.0
    # Where the join and the leave fall in the replay: Twilio's timestamps are whole seconds,
    # so two events of one second are ordered by the conference's SequenceNumber instead.
    joined_rank: int = 0
    left_rank: int = 0
    # The latest join, and its conference: a customer moved to another queue joins another.
    last_joined: datetime | None = None
    conference: str = ""

    def join_key(self) -> tuple:
        return (self.joined, self.joined_rank)


def _conference_presence(call: Call) -> dict[str, _Presence]:
    """Each participant's join, leave and hold time, replayed in Twilio's time order."""
    events = CallEvent.objects.filter(call=call, kind="conference").only(
        "payload", "twilio_timestamp", "received_at", "sequence_number", "id"
    )
    presence: dict[str, _Presence] = {}
    replay = sorted(
        events,
        key=lambda e: (e.twilio_timestamp or e.received_at, e.sequence_number or 0, e.id),
    )
    for rank, event in enumerate(replay):
        at, params = event.twilio_timestamp or event.received_at, event.payload
        who = presence.setdefault(params.get("CallSid", ""), _Presence())
        who.label = who.label or params.get("ParticipantLabel", "")
        kind = params.get("StatusCallbackEvent", "")
        if kind == "participant-join" and (who.last_joined is None or at >= who.last_joined):
            who.last_joined, who.conference = at, params.get("ConferenceSid", "")
        if kind == "participant-join" and (who.joined is None or at < who.joined):
            who.joined, who.joined_rank = at, rank
        elif kind == "participant-leave" and (who.left is None or at >= who.left):
            who.left, who.left_rank = at, rank
        elif kind == "participant-hold":
            who.held_since = who.held_since or at
        elif kind == "participant-unhold" and who.held_since is not None:
            who.held_seconds += (at - who.held_since).total_seconds()
            who.held_since = None
    return presence


def apply_conference_facts(call: Call) -> None:
    """The customer is answered when an agent's leg and the customer are both in the
    conference: at the later of the two joins, for the first agent who overlapped."""
    presence = _conference_presence(call)
    customer = presence.get(call.call_sid)
    answered_at, agent = None, None
    if customer is not None and customer.joined is not None:
        never = datetime.max.replace(tzinfo=UTC)
        ends = [(customer.left, customer.left_rank)] if customer.left else []
        ends.append((call.ended_at, 10**9) if call.ended_at else (never, 0))  # after all
        gone = min(ends)
        for leg in sorted(presence.values(), key=lambda p: p.join_key() if p.joined else gone):
            if not leg.label.startswith(AGENT_LABEL_PREFIX) or leg.joined is None:
                continue
            meets = max(customer.join_key(), leg.join_key())
            left = (leg.left, leg.left_rank) if leg.left else (never, 0)
            if meets < gone and left > customer.join_key():
                answered_at = max(meets[0], call.created_at)
                agent = agent_for(CLIENT_PREFIX + leg.label.removeprefix(AGENT_LABEL_PREFIX))
                break
    hold, held_since = 0.0, None
    if customer is not None:
        hold = customer.held_seconds
        if customer.held_since is not None and call.ended_at:
            hold += max(0.0, (call.ended_at - customer.held_since).total_seconds())
        # On hold now: a hold that no unhold, leave of the customer or end of the call ended.
        held = customer.held_since
        if held is not None and not call.ended_at and not (customer.left and customer.left >= held):
            held_since = held
    call.answered_at, call.agent, call.hold_seconds = answered_at, agent, int(hold)
    call.held_since = held_since
    fields = ["answered_at", "agent", "hold_seconds", "held_since"]
    if customer is not None and customer.conference and customer.conference != call.conference_sid:
        call.conference_sid = customer.conference  # call control follows the customer there
        fields.append("conference_sid")
    # Connected while the customer is in a conference: not by a late callback of one they left
    # (moved to another queue, they wait there).
    present = customer is not None and customer.last_joined is not None
    present = present and not (customer.left and customer.left >= customer.last_joined)
    stages = (CallStage.WAITING, CallStage.OFFERED, CallStage.NEW)
    if answered_at and present and call.stage in stages:
        call.stage = CallStage.CONNECTED
        fields.append("stage")
    save_fields(call, *fields)


# A recording's callbacks that say it is over.
RECORDING_OVER = frozenset({"completed", "absent", "failed"})


def apply_recording_facts(call: Call) -> None:
    """Whether a recording we started on the call runs now, from all its recording callbacks
    stored so far (so not from their delivery order): since the first one that started and
    has not ended; none once the call has ended."""
    started: dict[str, datetime] = {}
    over: set[str] = set()
    events = CallEvent.objects.filter(call=call, kind="recording").only(
        "payload", "context", "twilio_timestamp", "received_at"
    )
    for event in events:
        if event.context.get("queue"):
            continue  # a voicemail's
        sid, status = event.payload.get("RecordingSid", ""), event.payload.get("RecordingStatus")
        if status in RECORDING_OVER:
            over.add(sid)
        elif status == "in-progress":
            at = event.twilio_timestamp or event.received_at
            started[sid] = min(at, started.get(sid, at))
    running = [at for sid, at in started.items() if sid not in over]
    since = min(running) if running and not call.ended_at else None
    if call.recording_since != since:
        call.recording_since = since
        save_fields(call, "recording_since")


def settle(call: Call) -> None:
    """Derive the ended call's talk time and outcome from its facts (order-independent)."""
    if call.stage != CallStage.ENDED:
        return
    if call.conference_sid:
        apply_conference_facts(call)  # the end bounds the answer and an open hold
    fields = []
    if call.direction == CallDirection.INBOUND and call.answered_at and call.ended_at:
        talk = max(0, int((call.ended_at - call.answered_at).total_seconds()) - call.hold_seconds)
        if call.talk_seconds != talk:
            call.talk_seconds = talk
            fields.append("talk_seconds")
    if call.queue_id and call.wait_seconds is None and call.enqueued_at:
        left = call.answered_at or call.ended_at
        call.wait_seconds = max(0, int((left - call.enqueued_at).total_seconds()))
        fields.append("wait_seconds")
    outcome = _outcome(call)
    if outcome != call.outcome:
        call.outcome = outcome
        fields.append("outcome")
    if call.recording_since is not None:
        call.recording_since = None  # Twilio ends a call's recordings with it
        fields.append("recording_since")
    if fields:
        save_fields(call, *fields)


def _outcome(call: Call) -> str:
    if call.queue_id is None:
        return ""  # outcomes describe queue entries (agents' legs, menu hang-ups: none)
    if call.answered_at:
        return CallOutcome.ANSWERED
    # One query for the facts an unanswered queue entry's outcome depends on.
    callback, voicemail, threshold = (
        Call.objects.filter(pk=call.pk)
        .annotate(
            callback=Exists(CallbackRequest.objects.filter(call=OuterRef("pk"))),
            voicemail=Exists(Voicemail.objects.filter(call=OuterRef("pk"))),
        )
        .values_list("callback", "voicemail", "queue__short_abandon_seconds")
        .get()
    )
    if callback:
        return CallOutcome.CALLBACK
    if voicemail:
        return CallOutcome.VOICEMAIL
    if call.queue_result in QUEUE_FAILURES:
        return CallOutcome.FAILED
    if call.queue_result == "redirected" and _hung_up_by_us(call):
        # Taken out of the queue for an agent who then was not there, and hung up by us:
        # lost by us, not abandoned by the caller.
        return CallOutcome.FAILED
    if call.wait_seconds is not None and call.wait_seconds < threshold:
        return CallOutcome.SHORT_ABANDONED
    return CallOutcome.ABANDONED


def _hung_up_by_us(call: Call) -> bool:
    return Operation.objects.filter(call_sid=call.call_sid, kind=OperationKind.HANGUP).exists()
