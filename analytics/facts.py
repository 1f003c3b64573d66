"""Queue-entry facts derived from what Telephony and Routing persisted.

A customer call's queue entries are read from its stored callbacks (`CallEvent`):
- `enqueue-action` (Twilio's <Enqueue> action: `QueueResult`, `QueueTime`, our `queue`) ends
  an entry; a `leave` followed by an entry elsewhere is an overflow;
- `transfer` (the customer redirected into another queue by an agent's transfer, an
  escalation step or a supervisor's move) starts an entry in its `queue`;
- `conference` participant joins and holds say who answered each entry, when, and the hold;
completed by the Call row (its last queue and `enqueued_at`, end, outcome, and its answer,
agent and hold when there are no conference events). Wrap-up is the agent's `wrap_up`
activity (`AgentStatusEvent`) that began when the entry's service ended. Missed offers are the
call's rejected or timed-out reservations. Only ended calls have facts.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import psycopg
from django.db import connection
from django.db.models import OuterRef, Q, Subquery
from psycopg.types.json import Jsonb

from callcenter.choices import AgentActivity, CallOutcome
from callcenter.models import Agent, AgentStatusEvent, Call, CallEvent, Queue
from callcenter.participants import AGENT_LABEL_PREFIX
from routing.models import MISSED_STATUSES, Reservation

from . import kpis
from .models import EntryOutcome, MissedOfferFact, QueueEntryFact

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
    if not agent_ids:
        return spans
    rows = (
        AgentStatusEvent.objects.filter(
            agent_id__in=agent_ids,
            occurred_at__gte=since,
            occurred_at__lte=until + WRAP_UP_LONGEST,
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


def rebuild_call_facts(call_ids) -> tuple[set, set, set]:
    """Replace the facts of `call_ids` (customer calls) by freshly derived ones.

    Returns the keys whose rollups changed: {(queue, interval)}, {(queue, date)},
    {(agent, interval)} of the old and the new facts. Five queries per batch whatever its size."""
    call_ids = sorted(set(call_ids))
    old = list(
        QueueEntryFact.objects.filter(call_id__in=call_ids).values_list(
            "queue_id", "interval_start", "local_date", "agent_id", "agent_interval_start"
        )
    )
    old_missed = list(
        MissedOfferFact.objects.filter(call_id__in=call_ids).values_list(
            "agent_id", "interval_start"
        )
    )
    calls = [
        CallRow(*row)
        for row in Call.objects.filter(
            pk__in=call_ids, parent__isnull=True, ended_at__isnull=False
        ).values_list(*CALL_FIELDS)
    ]
    ended_ids = [c.pk for c in calls]
    events_by_call: dict[int, list] = defaultdict(list)
    for event in CallEvent.objects.filter(
        call_id__in=ended_ids, kind__in=("transfer", "enqueue-action", "conference")
    ).only("id", "call_id", "kind", "payload", "context", "twilio_timestamp", "received_at"):
        events_by_call[event.call_id].append(event)
    queues = Queue.objects.in_bulk()
    identities = {
        e.payload.get("ParticipantLabel", "").removeprefix(AGENT_LABEL_PREFIX)
        for events in events_by_call.values()
        for e in events
        if e.kind == "conference"
        and e.payload.get("ParticipantLabel", "").startswith(AGENT_LABEL_PREFIX)
    }
    agents_by_identity = (
        dict(
            Agent.objects.filter(softphone_identity__in=identities).values_list(
                "softphone_identity", "id"
            )
        )
        if identities
        else {}
    )
    agent_ids = {c.agent_id for c in calls if c.agent_id} | set(agents_by_identity.values())
    span = [c.ended_at for c in calls]
    wrap_ups = (
        _wrap_up_spans(agent_ids, min(span) - timedelta(hours=6), max(span) + WRAP_UP_MATCH)
        if span
        else {}
    )
    facts = [
        fact
        for call in calls
        for fact in derive_call_facts(
            call, events_by_call.get(call.pk, []), queues, agents_by_identity, wrap_ups
        )
    ]
    missed = [
        MissedOfferFact(
            reservation_id=r.pk,
            call_id=r.call_id,
            agent_id=r.agent_id,
            queue_id=r.queue_id,
            offered_at=r.offered_at,
            interval_start=floor_interval(r.offered_at),
        )
        for r in Reservation.objects.filter(call_id__in=ended_ids, status__in=MISSED_STATUSES).only(
            "id", "call_id", "agent_id", "queue_id", "offered_at"
        )
    ]
    _save(call_ids, facts, missed)
    queue_intervals = {(q, i) for q, i, _, _, _ in old}
    queue_days = {(q, d) for q, _, d, _, _ in old}
    agent_intervals = {(a, i) for _, _, _, a, i in old if a and i} | set(old_missed)
    for f in facts:
        queue_intervals.add((f.queue_id, f.interval_start))
        queue_days.add((f.queue_id, f.local_date))
        if f.agent_id and f.agent_interval_start:
            agent_intervals.add((f.agent_id, f.agent_interval_start))
    agent_intervals |= {(m.agent_id, m.interval_start) for m in missed}
    return queue_intervals, queue_days, agent_intervals


FACT_FIELDS = [
    f.name for f in QueueEntryFact._meta.concrete_fields if f.name not in ("id", "call", "seq")
]


def _save(call_ids, facts: list[SimpleNamespace], missed: list[MissedOfferFact]) -> None:
    """Upsert the facts (a row keeps its id when re-derived) and delete those that vanished."""
    if connection.vendor == "postgresql":
        _upsert_facts_postgresql(facts)
    else:
        QueueEntryFact.objects.bulk_create(
            [QueueEntryFact(**vars(f)) for f in facts], batch_size=2000,
            update_conflicts=True, unique_fields=["call", "seq"], update_fields=FACT_FIELDS,
        )  # fmt: skip
    counts: dict[int, int] = dict.fromkeys(call_ids, 0)
    for fact in facts:
        counts[fact.call_id] += 1
    by_count: dict[int, list] = defaultdict(list)
    for call_id, n in counts.items():
        by_count[n].append(call_id)
    vanished = Q(pk__in=[])
    for n, ids in by_count.items():
        vanished |= Q(call_id__in=ids, seq__gte=n)
    QueueEntryFact.objects.filter(vanished).delete()
    MissedOfferFact.objects.bulk_create(
        missed, batch_size=2000, update_conflicts=True, unique_fields=["reservation_id"],
        update_fields=["call", "agent", "queue", "offered_at", "interval_start"],
    )  # fmt: skip
    MissedOfferFact.objects.filter(call_id__in=call_ids).exclude(
        reservation_id__in=[m.reservation_id for m in missed]
    ).delete()


def _upsert_facts_postgresql(facts: list[SimpleNamespace]) -> None:
    unnest_upsert(QueueEntryFact, ("call", "seq"), FACT_FIELDS, facts)


def unnest_upsert(model, unique: tuple[str, ...], update: list[str], records) -> None:
    """PostgreSQL: one INSERT … SELECT FROM unnest(one array per column) ON CONFLICT DO
    UPDATE; bulk_create's upsert with a parameter per column instead of one per value (5x
    faster). `records` have the fields' attnames as attributes."""
    if not records:
        return
    fields = [model._meta.get_field(name) for name in (*unique, *update)]
    columns = [f.column for f in fields]
    types = [f.db_type(connection).split("(")[0] for f in fields]
    arrays = [[getattr(record, f.attname) for record in records] for f in fields]
    for i, kind in enumerate(types):
        if kind == "double precision":  # one element type per array (0 is an int)
            arrays[i] = [None if v is None else float(v) for v in arrays[i]]
        elif kind == "jsonb":
            arrays[i] = [Jsonb(v) for v in arrays[i]]
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns[len(unique) :])
    sql = (
        f"INSERT INTO {model._meta.db_table} ({', '.join(columns)})"  # noqa: S608 - model columns
        f" SELECT * FROM unnest({', '.join(f'%s::{t}[]' for t in types)})"
        f" ON CONFLICT ({', '.join(columns[: len(unique)])}) DO UPDATE SET {updates}"
    )
    connection.ensure_connection()
    # Server-side binding: the arrays travel as parameters, not as quoted literals.
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, arrays, binary=True)


def calls_of_events(event_filter: Q) -> set[int]:
    """The customer calls the matching CallEvents are about (an agent's leg → its parent)."""
    rows = CallEvent.objects.filter(event_filter, call__isnull=False).values_list(
        "call_id", "call__parent_id"
    )
    return {parent or call for call, parent in rows}


def calls_of_wrap_ups_ended(since: datetime, until: datetime) -> set[int]:
    """The calls whose wrap-up a wrap-up that ended in (since, until] may be: an agent's
    answered entries whose service ended within the match window of that wrap-up's start (a
    wrap-up counts once complete, so only its end changes a fact). Two queries."""
    began = (
        AgentStatusEvent.objects.filter(
            agent_id=OuterRef("agent_id"),
            to_activity=AgentActivity.WRAP_UP,
            occurred_at__lte=OuterRef("occurred_at"),
        )
        .exclude(from_activity=AgentActivity.WRAP_UP)
        .order_by("-occurred_at", "-id")
        .values("occurred_at")[:1]
    )
    ends = (
        AgentStatusEvent.objects.filter(
            from_activity=AgentActivity.WRAP_UP, occurred_at__gt=since, occurred_at__lte=until
        )
        .exclude(to_activity=AgentActivity.WRAP_UP)
        .annotate(began=Subquery(began))
        .values_list("agent_id", "began")
    )
    windows = Q(pk__in=[])
    for agent_id, start in ends:
        if start is not None:
            windows |= Q(
                agent_id=agent_id,
                service_ended_at__gte=start - WRAP_UP_MATCH,
                service_ended_at__lte=start + WRAP_UP_EARLY,
            )
    return set(QueueEntryFact.objects.filter(windows).values_list("call_id", flat=True))
