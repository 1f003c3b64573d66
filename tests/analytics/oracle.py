"""The test oracle: the queue-entry rules written as a plain Python replay of one call at a
time (the derivation analytics used before it moved to SQL). Tests check that
analytics.facts.derivation gives exactly these facts."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from analytics import kpis
from analytics.facts.derivation import FACT_COLUMNS
from analytics.models import EntryOutcome, QueueEntryFact
from callcenter.choices import AgentActivity, CallOutcome
from callcenter.models import Agent, AgentStatusEvent, Call, CallEvent, Queue
from callcenter.participants import AGENT_LABEL_PREFIX

INTERVAL = timedelta(minutes=15)
# A wrap-up belongs to the entry whose service ended at most this long before it began.
WRAP_UP_MATCH = timedelta(seconds=120)
WRAP_UP_EARLY = timedelta(seconds=5)
# Longer wrap-ups are not counted (an agent who never pressed "ready").
WRAP_UP_LONGEST = timedelta(hours=4)
QUEUE_FAILURES = frozenset({"error", "system-error"})
FAR = datetime.max.replace(tzinfo=UTC)


def floor_interval(at: datetime) -> datetime:
    """The start of the 15-minute interval holding `at` (aligned in UTC, hence in every zone)."""
    at = at.astimezone(UTC)
    return at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)


def local_date(at: datetime, tz: ZoneInfo) -> date:
    return at.astimezone(tz).date()


def _seconds(a: datetime, b: datetime) -> int:
    return max(0, int((b - a).total_seconds()))


@dataclass
class _Entry:
    queue_id: int
    entered_at: datetime
    exit_at: datetime | None = None
    exit_result: str = ""
    next_start: datetime | None = None
    next_kind: str = ""  # "transfer" or "overflow"


@dataclass
class _Conference:
    customer: list = field(default_factory=list)  # [join, leave]
    agents: list = field(default_factory=list)  # [join, leave, identity]
    holds: list = field(default_factory=list)  # [start, end]


def _at(event: CallEvent) -> datetime:
    return event.twilio_timestamp or event.received_at


def _queue_of(event: CallEvent) -> int | None:
    queue = (event.context or {}).get("queue")
    return int(queue) if isinstance(queue, int) or str(queue).isdigit() else None


def _entries(call: Call, events: list[CallEvent]) -> list[_Entry]:
    entries: list[_Entry] = []
    markers = [e for e in events if e.kind in ("transfer", "enqueue-action") and _queue_of(e)]
    for event in sorted(markers, key=lambda e: (_at(e), e.id)):
        at, queue = _at(event), _queue_of(event)
        current = entries[-1] if entries else None
        if event.kind == "transfer":
            if current is not None and current.next_start is None:
                current.next_start, current.next_kind = at, "transfer"
            entries.append(_Entry(queue, at))
            continue
        waited = str(event.payload.get("QueueTime", ""))
        waited = int(waited) if waited.isdigit() else None
        result = event.payload.get("QueueResult", "")
        if current is not None and current.queue_id == queue and current.exit_at is None:
            current.exit_at, current.exit_result = at, result
            continue
        if current is not None and current.queue_id == queue:
            continue  # the same exit told twice (another token)
        entered = at - timedelta(seconds=waited) if waited is not None else at
        if current is not None:
            entered = max(entered, current.exit_at or current.entered_at)
            if current.next_start is None:
                current.next_start, current.next_kind = entered, "overflow"
        elif call.queue_id == queue and call.enqueued_at:
            entered = call.enqueued_at
        entries.append(_Entry(queue, entered, exit_at=at, exit_result=result))
    if call.queue_id and (not entries or entries[-1].queue_id != call.queue_id):
        previous = entries[-1] if entries else None
        entered = call.enqueued_at or call.created_at
        if previous is not None:
            entered = max(entered, previous.exit_at or previous.entered_at)
            if previous.next_start is None:
                previous.next_start, previous.next_kind = entered, "overflow"
        entries.append(_Entry(call.queue_id, entered))
    elif entries and call.enqueued_at and entries[-1].queue_id == call.queue_id:
        last = entries[-1]
        if len(entries) == 1 or call.enqueued_at >= entries[-2].entered_at:
            last.entered_at = min(call.enqueued_at, last.exit_at or call.enqueued_at)
    return entries


def _conference(call: Call, events: list[CallEvent]) -> _Conference | None:
    conference_events = sorted(
        (e for e in events if e.kind == "conference"), key=lambda e: (_at(e), e.id)
    )
    if not conference_events:
        return None
    out = _Conference()
    open_agents: dict[str, list] = {}
    held_since = None
    for event in conference_events:
        params, at = event.payload, _at(event)
        kind, sid = params.get("StatusCallbackEvent", ""), params.get("CallSid", "")
        label = params.get("ParticipantLabel", "")
        if sid == call.call_sid:
            if kind == "participant-join":
                out.customer.append([at, FAR])
            elif kind == "participant-leave" and out.customer:
                out.customer[-1][1] = min(out.customer[-1][1], at)
            elif kind == "participant-hold" and held_since is None:
                held_since = at
            elif kind == "participant-unhold" and held_since is not None:
                out.holds.append([held_since, at])
                held_since = None
        elif label.startswith(AGENT_LABEL_PREFIX):
            if kind == "participant-join" and sid not in open_agents:
                leg = [at, FAR, label.removeprefix(AGENT_LABEL_PREFIX)]
                open_agents[sid] = leg
                out.agents.append(leg)
            elif kind == "participant-leave" and sid in open_agents:
                open_agents[sid][1] = at
    if held_since is not None:
        out.holds.append([held_since, call.ended_at or FAR])
    for interval in out.customer:
        interval[1] = min(interval[1], call.ended_at or FAR)
    return out


def _answer(conference: _Conference, start: datetime, end: datetime):
    """The first moment in [start, end) a customer and an agent were both in: (at, identity)."""
    best = None
    for c_join, c_leave in conference.customer:
        for a_join, a_leave, identity in conference.agents:
            meets = max(c_join, a_join, start)
            if meets < min(c_leave, a_leave, end) and (best is None or meets < best[0]):
                best = (meets, identity)
    return best


def _hold(conference: _Conference, start: datetime, end: datetime) -> int:
    total = sum(
        max(0.0, (min(e, end) - max(s, start)).total_seconds()) for s, e in conference.holds
    )
    return int(total)


def _final_outcome(call: Call, entry: _Entry, wait: int, threshold: int) -> str:
    if call.outcome in (CallOutcome.VOICEMAIL, CallOutcome.CALLBACK, CallOutcome.FAILED):
        return call.outcome
    if entry.exit_result in QUEUE_FAILURES:
        return EntryOutcome.FAILED
    return EntryOutcome.SHORT_ABANDONED if wait < threshold else EntryOutcome.ABANDONED


CALL_FIELDS = ("id", "call_sid", "queue_id", "agent_id", "created_at", "enqueued_at",
               "answered_at", "ended_at", "hold_seconds", "outcome")  # fmt: skip


@dataclass(slots=True)
class CallRow:
    """What facts read of a Call row (a plain record: model instances cost 10x to build)."""

    id: int
    call_sid: str
    queue_id: int | None
    agent_id: int | None
    created_at: datetime
    enqueued_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    hold_seconds: int
    outcome: str

    @property
    def pk(self) -> int:
        return self.id


def derive_call_facts(
    call: CallRow,
    events: list[CallEvent],
    queues: dict[int, Queue],
    agents_by_identity: dict[str, int],
    wrap_ups: dict[int, list[tuple[datetime, datetime]]],
) -> list[SimpleNamespace]:
    """The queue-entry facts of one ended customer call (QueueEntryFact's attributes)."""
    if call.ended_at is None:
        return []
    entries = [e for e in _entries(call, events) if e.queue_id in queues]
    conference = _conference(call, events)
    facts = []
    for seq, entry in enumerate(entries):
        queue = queues[entry.queue_id]
        end = entry.next_start or call.ended_at
        answered_at, agent_id, hold = None, None, 0
        if conference is not None:
            found = _answer(conference, entry.entered_at, end)
            if found is not None:
                answered_at, agent_id = found[0], agents_by_identity.get(found[1])
                hold = _hold(conference, answered_at, end)
        elif call.answered_at and entry.entered_at <= call.answered_at < end:
            answered_at, agent_id, hold = call.answered_at, call.agent_id, call.hold_seconds
        left = answered_at or min(entry.next_start or entry.exit_at or end, end)
        wait = _seconds(entry.entered_at, left)
        talk = wrap = 0
        if answered_at is not None:
            outcome = EntryOutcome.ANSWERED
            talk = max(0, _seconds(answered_at, end) - hold)
            wrap = _wrap_up(wrap_ups.get(agent_id, ()), end)
        elif entry.next_kind == "transfer":
            outcome = EntryOutcome.TRANSFERRED
        elif entry.next_kind == "overflow":
            outcome = EntryOutcome.OVERFLOWED
        else:
            outcome = _final_outcome(call, entry, wait, queue.short_abandon_seconds)
        handle = talk + hold + wrap
        answered = outcome == EntryOutcome.ANSWERED
        facts.append(
            SimpleNamespace(
                call_id=call.pk,
                seq=seq,
                queue_id=queue.pk,
                agent_id=agent_id,
                outcome=outcome,
                transferred_out=answered and entry.next_kind == "transfer",
                entered_at=entry.entered_at,
                answered_at=answered_at,
                left_at=left,
                service_ended_at=end if answered else None,
                wait_seconds=wait,
                talk_seconds=talk,
                hold_seconds=hold,
                wrap_up_seconds=wrap,
                handle_seconds=handle,
                within_service_level=answered and wait <= queue.service_level_seconds,
                interval_start=floor_interval(entry.entered_at),
                local_date=local_date(entry.entered_at, queue.tz),
                agent_interval_start=floor_interval(answered_at) if answered else None,
                wait_bucket=kpis.bucket(wait),
                handle_bucket=kpis.bucket(handle) if answered else None,
            )
        )
    return facts


def _wrap_up(spans, service_end: datetime) -> int:
    for start, end in spans:
        if service_end - WRAP_UP_EARLY <= start <= service_end + WRAP_UP_MATCH:
            return _seconds(start, end)
    return 0


def _wrap_up_spans(agent_ids, since: datetime, until: datetime):
    """Each agent's completed wrap-up spans beginning in [since, until]: {agent: [(start, end)]}."""
    spans: dict[int, list] = defaultdict(list)
    rows = (
        AgentStatusEvent.objects.filter(
            agent_id__in=agent_ids, occurred_at__gte=since, occurred_at__lte=until + WRAP_UP_LONGEST
        )
        .order_by("agent_id", "occurred_at", "id")
        .values_list("agent_id", "from_activity", "to_activity", "occurred_at")
    )
    started: dict[int, datetime] = {}
    for agent_id, before, after, at in rows:
        if after == AgentActivity.WRAP_UP and before != AgentActivity.WRAP_UP:
            if at <= until:
                started[agent_id] = at
        elif before == AgentActivity.WRAP_UP != after and agent_id in started:
            start = started.pop(agent_id)
            if at - start <= WRAP_UP_LONGEST:
                spans[agent_id].append((start, at))
    return spans


def oracle_facts(call_ids) -> list[SimpleNamespace]:
    """The facts of `call_ids` as the Python replay derives them, in (call, seq) order."""
    calls = [
        CallRow(*row)
        for row in Call.objects.filter(pk__in=call_ids, parent__isnull=True, ended_at__isnull=False)
        .order_by("id")
        .values_list(*CALL_FIELDS)
    ]
    events_by_call: dict[int, list] = defaultdict(list)
    for event in CallEvent.objects.filter(
        call_id__in=[c.pk for c in calls], kind__in=("transfer", "enqueue-action", "conference")
    ):
        events_by_call[event.call_id].append(event)
    queues = Queue.objects.in_bulk()
    agents_by_identity = dict(Agent.objects.values_list("softphone_identity", "id"))
    # A service ends at its call's end or where the next entry begins: a marker's instant,
    # which callbacks may stamp after the call's end.
    ends = [c.ended_at for c in calls] + [
        e.twilio_timestamp or e.received_at for events in events_by_call.values() for e in events
    ]
    wrap_ups = (
        _wrap_up_spans(list(Agent.objects.values_list("id", flat=True)),
                       min(ends) - timedelta(hours=6), max(ends) + WRAP_UP_MATCH)
        if ends
        else {}
    )  # fmt: skip
    return [
        fact
        for call in calls
        for fact in derive_call_facts(
            call, events_by_call.get(call.pk, []), queues, agents_by_identity, wrap_ups
        )
    ]


def assert_stored_facts_match(call_ids) -> None:
    """The facts stored for `call_ids` are exactly those the replay derives."""
    stored = QueueEntryFact.objects.filter(call_id__in=call_ids).order_by("call_id", "seq")
    expected = [tuple(getattr(f, c) for c in FACT_COLUMNS) for f in oracle_facts(call_ids)]
    assert [tuple(r) for r in stored.values_list(*FACT_COLUMNS)] == expected
