"""Rollup rows recomputed from the facts: queues' 15-minute and daily rows, agents' 15-minute
rows (time replayed from AgentStatusEvent). Each row is recomputed whole and upserted."""

from collections import defaultdict
from datetime import date, datetime, timedelta
from itertools import islice
from types import SimpleNamespace

from django.conf import settings
from django.db import connection
from django.db.models import Count, Max, Min, OuterRef, Q, Subquery, Sum

from analytics import kpis
from analytics.facts import INTERVAL, floor_interval, unnest_upsert
from analytics.models import (
    AGENT_COUNTERS,
    QUEUE_COUNTERS,
    AgentInterval,
    EntryOutcome,
    MissedOfferFact,
    QueueDay,
    QueueEntryFact,
    QueueInterval,
)
from callcenter.choices import AgentActivity, AgentStatus
from callcenter.models import Agent, AgentStatusEvent

ROLLUP_LOCK = 0x414E_4C59  # "ANLY": one rollup at a time across beats and workers
BATCH = 2000
ANSWERED = Q(outcome=EntryOutcome.ANSWERED)
QUEUE_AGGREGATES = {
    "offered": Count("id"),
    "answered": Count("id", filter=ANSWERED),
    "answered_within_sl": Count("id", filter=Q(within_service_level=True)),
    "abandoned": Count("id", filter=Q(outcome=EntryOutcome.ABANDONED)),
    "short_abandoned": Count("id", filter=Q(outcome=EntryOutcome.SHORT_ABANDONED)),
    "transfers": Count("id", filter=Q(transferred_out=True)),
    "moved": Count("id", filter=Q(outcome=EntryOutcome.TRANSFERRED)),
    "overflows": Count("id", filter=Q(outcome=EntryOutcome.OVERFLOWED)),
    "voicemails": Count("id", filter=Q(outcome=EntryOutcome.VOICEMAIL)),
    "callbacks": Count("id", filter=Q(outcome=EntryOutcome.CALLBACK)),
    "failed": Count("id", filter=Q(outcome=EntryOutcome.FAILED)),
    "wait_answered_sum": Sum("wait_seconds", filter=ANSWERED, default=0),
    "abandon_wait_sum": Sum("wait_seconds", filter=Q(outcome=EntryOutcome.ABANDONED), default=0),
    "talk_sum": Sum("talk_seconds", default=0),
    "hold_sum": Sum("hold_seconds", default=0),
    "wrap_up_sum": Sum("wrap_up_seconds", default=0),
    "handle_sum": Sum("handle_seconds", default=0),
    "longest_wait": Max("wait_seconds"),
}
AGENT_FACT_AGGREGATES = {
    "answered": Count("id"),
    "talk_sum": Sum("talk_seconds", default=0),
    "hold_sum": Sum("hold_seconds", default=0),
    "wrap_up_sum": Sum("wrap_up_seconds", default=0),
    "handle_sum": Sum("handle_seconds", default=0),
}
TIME_COLUMNS = ("logged_in_seconds", "available_idle_seconds", "offered_seconds",
                "on_call_seconds", "wrap_up_seconds", "away_seconds")  # fmt: skip


def _overlap() -> timedelta:
    return timedelta(seconds=settings.ANALYTICS_ROLLUP_OVERLAP_SECONDS)


def _chunks(items, size=BATCH):
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def _keys_filter(keys, field: str, owner: str = "queue_id") -> Q:
    """A superset of the rows whose (owner, field) is in `keys`: owners x values. Callers sort
    keys by (value, owner) before chunking, so a chunk is a few values x every owner."""
    owners = sorted({k[0] for k in keys})
    values = sorted({k[1] for k in keys})
    return Q(**{f"{owner}__in": owners, f"{field}__in": values})


def _by_value(keys):
    return sorted(keys, key=lambda k: (k[1], k[0]))


# --- queue rollups ----------------------------------------------------------------------------


def _queue_rows(field: str, facts) -> dict[tuple, dict]:
    """Counters and dense histograms of the `facts` queryset, per (queue, key)."""
    facts = facts.order_by()
    rows = {}
    for r in facts.values("queue_id", field).annotate(**QUEUE_AGGREGATES):
        key = (r.pop("queue_id"), r.pop(field))
        r["longest_wait"] = r["longest_wait"] or 0
        rows[key] = {**r, "wait_histogram": kpis.empty_histogram(),
                     "handle_histogram": kpis.empty_histogram()}  # fmt: skip
    for column, bucket in (
        ("wait_histogram", "wait_bucket"),
        ("handle_histogram", "handle_bucket"),
    ):
        for queue_id, value, index, n in (
            facts.filter(ANSWERED)
            .values("queue_id", field, bucket)
            .annotate(n=Count("id"))
            .values_list("queue_id", field, bucket, "n")
        ):
            rows[(queue_id, value)][column][index] = n
    for row in rows.values():
        row["wait_histogram"] = kpis.to_bytes(row["wait_histogram"])
        row["handle_histogram"] = kpis.to_bytes(row["handle_histogram"])
    return rows


def _upsert(model, field: str, owner: str, rows: dict[tuple, dict], scope: Q, keys=None) -> None:
    """Write `rows` (insert or update in place: ids kept); delete the rows in `scope` (only
    those whose key is in `keys`, when given) that are not among them."""
    columns = [*(QUEUE_COUNTERS if owner == "queue" else AGENT_COUNTERS)]
    if owner == "queue":
        columns += ["longest_wait", "wait_histogram", "handle_histogram"]
    if connection.vendor == "postgresql":
        records = [
            SimpleNamespace(**{f"{owner}_id": k[0], field: k[1]}, **v) for k, v in rows.items()
        ]
        unnest_upsert(model, (owner, field), columns, records)
    else:
        objs = [model(**{f"{owner}_id": k[0], field: k[1]}, **v) for k, v in rows.items()]
        for chunk in _chunks(objs):
            model.objects.bulk_create(
                chunk, update_conflicts=True, unique_fields=[owner, field], update_fields=columns
            )
    stale = [
        pk
        for pk, owner_id, value in model.objects.filter(scope).values_list(
            "pk", f"{owner}_id", field
        )
        if (owner_id, value) not in rows and (keys is None or (owner_id, value) in keys)
    ]
    if stale:
        model.objects.filter(pk__in=stale).delete()


def _rollup_queue(model, field: str, keys) -> int:
    """Recompute every row of `keys` (and of the chunks' owners x values, all as correct)."""
    if connection.vendor == "postgresql":
        for chunk in _chunks(_by_value(keys), 20 * BATCH):
            _rollup_queue_postgresql(model, field, chunk)
        return len(keys)
    for chunk in _chunks(_by_value(keys)):
        where = _keys_filter(chunk, field)
        rows = _queue_rows(field, QueueEntryFact.objects.filter(where))
        _upsert(model, field, "queue", rows, where)
    return len(keys)


def _rollup_queue_postgresql(model, field: str, keys) -> int:
    """The same rows in four statements whatever the number of keys: the ORM's aggregates
    and histogram counts over exactly the keys' facts (a tuple IN over two arrays), one
    INSERT … ON CONFLICT DO UPDATE of them all, one DELETE of the keys' rows left without
    facts."""
    if not keys:
        return 0
    key_type = "timestamptz" if field == "interval_start" else "date"
    scope = f"(queue_id, {field}) IN (SELECT * FROM unnest(%s::bigint[], %s::{key_type}[]))"  # noqa: S608 - model columns
    ordered = sorted(keys)
    params = [[k[0] for k in ordered], [k[1] for k in ordered]]
    facts = QueueEntryFact.objects.extra(where=[scope], params=params)  # noqa: S610 - see scope
    rows = _queue_rows(field, facts)
    columns = [*QUEUE_COUNTERS, "longest_wait", "wait_histogram", "handle_histogram"]
    records = [SimpleNamespace(queue_id=k[0], **{field: k[1]}, **v) for k, v in rows.items()]
    unnest_upsert(model, ("queue", field), columns, records)
    delete = (
        f"DELETE FROM {model._meta.db_table} r"  # noqa: S608 - model tables and columns
        f" USING unnest(%s::bigint[], %s::{key_type}[]) k(q, v)"
        f" WHERE r.queue_id = k.q AND r.{field} = k.v AND NOT EXISTS (SELECT 1 FROM"
        f" {QueueEntryFact._meta.db_table} f WHERE f.queue_id = r.queue_id"
        f" AND f.{field} = r.{field})"
    )
    with connection.cursor() as cursor:
        cursor.execute(delete, params)
    return len(keys)


def rollup_queue_intervals(keys: set[tuple[int, datetime]]) -> int:
    return _rollup_queue(QueueInterval, "interval_start", keys)


def rollup_queue_days(keys: set[tuple[int, date]]) -> int:
    count = _rollup_queue(QueueDay, "local_date", keys)
    _fill_day_gaps({queue_id for queue_id, _ in keys})
    return count


def _fill_day_gaps(queue_ids: set[int]) -> None:
    """Keep each queue's days dense: a row (zeros if need be) for every local day from its
    first to its last day with entries, none outside. So a report over a period reads the
    same rows whatever the volume, and the rows depend on the facts alone (incremental runs
    and a full recompute agree). Three queries, plus one insert when a gap opened."""
    if not queue_ids:
        return
    days = QueueDay.objects.filter(queue_id__in=queue_ids)
    ranges = {
        q: (lo, hi)
        for q, lo, hi in days.filter(offered__gt=0)
        .order_by()
        .values("queue_id")
        .annotate(lo=Min("local_date"), hi=Max("local_date"))
        .values_list("queue_id", "lo", "hi")
    }
    inside = Q(pk__in=[])
    for q, (lo, hi) in ranges.items():
        inside |= Q(queue_id=q, local_date__gte=lo, local_date__lte=hi)
    days.filter(offered=0).exclude(inside).delete()
    counts = dict(
        days.order_by().values("queue_id").annotate(n=Count("pk")).values_list("queue_id", "n")
    )
    holed = [q for q, (lo, hi) in ranges.items() if counts.get(q, 0) < (hi - lo).days + 1]
    if not holed:
        return
    present = set(days.filter(queue_id__in=holed).values_list("queue_id", "local_date"))
    zeros = _empty_counters()
    missing = [
        QueueDay(queue_id=q, local_date=ranges[q][0] + timedelta(days=i), **zeros)
        for q in holed
        for i in range((ranges[q][1] - ranges[q][0]).days + 1)
        if (q, ranges[q][0] + timedelta(days=i)) not in present
    ]
    QueueDay.objects.bulk_create(missing, batch_size=2000, ignore_conflicts=True)


# --- agent rollups ----------------------------------------------------------------------------


def _state_columns(status: str, activity: str) -> tuple[str, ...]:
    columns = []
    if status != AgentStatus.OFFLINE:
        columns.append("logged_in_seconds")
    if status == AgentStatus.AVAILABLE and activity == AgentActivity.IDLE:
        columns.append("available_idle_seconds")
    if status == AgentStatus.AWAY:
        columns.append("away_seconds")
    column = {
        AgentActivity.OFFERED: "offered_seconds",
        AgentActivity.ON_CALL: "on_call_seconds",
        AgentActivity.WRAP_UP: "wrap_up_seconds",
    }.get(activity)
    if column:
        columns.append(column)
    return tuple(columns)


def agent_time(keys: set[tuple[int, datetime]], cutoff: datetime) -> dict[tuple, dict]:
    """Seconds per status/activity column of each (agent, interval) in `keys`, replayed from
    AgentStatusEvent up to `cutoff` (the open state counts until then). Two queries."""
    out: dict[tuple, dict] = {}
    if not keys:
        return out
    wanted: dict[int, set] = defaultdict(set)
    for agent_id, start in keys:
        wanted[agent_id].add(start)
    since = min(start for _, start in keys)
    before = AgentStatusEvent.objects.filter(
        agent_id=OuterRef("agent_id"), occurred_at__lt=since
    ).order_by("-occurred_at", "-id")
    states = {
        r["agent_id"]: (r["s"], r["a"])
        for r in AgentStatusEvent.objects.filter(agent_id__in=wanted, occurred_at__lt=since)
        .order_by()
        .values("agent_id")
        .distinct()
        .annotate(
            s=Subquery(before.values("to_status")[:1]), a=Subquery(before.values("to_activity")[:1])
        )
    }
    events = defaultdict(list)
    for agent_id, at, status, activity in (
        AgentStatusEvent.objects.filter(
            agent_id__in=wanted, occurred_at__gte=since, occurred_at__lt=cutoff
        )
        .order_by("agent_id", "occurred_at", "id")
        .values_list("agent_id", "occurred_at", "to_status", "to_activity")
    ):
        events[agent_id].append((at, status, activity))
    for agent_id, starts in wanted.items():
        state = states.get(agent_id, (AgentStatus.OFFLINE, AgentActivity.IDLE))
        at = since
        for next_at, status, activity in [*events[agent_id], (cutoff, None, None)]:
            _spread(out, agent_id, starts, at, next_at, _state_columns(*state))
            at, state = next_at, (status, activity)
    return out


def _spread(out, agent_id, starts, begin: datetime, end: datetime, columns) -> None:
    if not columns or end <= begin:
        return
    slot = floor_interval(begin)
    while slot < end:
        if slot in starts:
            seconds = (min(end, slot + INTERVAL) - max(begin, slot)).total_seconds()
            row = out.setdefault((agent_id, slot), dict.fromkeys(TIME_COLUMNS, 0.0))
            for column in columns:
                row[column] += seconds
        slot += INTERVAL


def rollup_agent_intervals(keys: set[tuple[int, datetime]], cutoff: datetime) -> int:
    for chunk in _chunks(_by_value(keys), 5 * BATCH):
        chunk = set(chunk)
        empty = dict.fromkeys(AGENT_COUNTERS, 0)
        rows = {k: {**empty, **v} for k, v in agent_time(chunk, cutoff).items()}
        where = _keys_filter(chunk, "agent_interval_start", "agent_id")
        for r in (
            QueueEntryFact.objects.filter(where, ANSWERED)
            .order_by()
            .values("agent_id", "agent_interval_start")
            .annotate(**AGENT_FACT_AGGREGATES)
        ):
            key = (r.pop("agent_id"), r.pop("agent_interval_start"))
            rows.setdefault(key, dict(empty)).update(r)
        scope = _keys_filter(chunk, "interval_start", "agent_id")
        for agent_id, start, n in (
            MissedOfferFact.objects.filter(scope)
            .order_by()
            .values("agent_id", "interval_start")
            .annotate(n=Count("pk"))
            .values_list("agent_id", "interval_start", "n")
        ):
            rows.setdefault((agent_id, start), dict(empty))["missed_offers"] = n
        rows = {k: v for k, v in rows.items() if k in chunk and any(v.values())}
        for row in rows.values():
            for column in TIME_COLUMNS:
                row[column] = round(row[column], 3)
        _upsert(AgentInterval, "interval_start", "agent", rows, scope, keys=chunk)
    return len(keys)


def _slots(begin: datetime, end: datetime) -> list[datetime]:
    slot, out = floor_interval(begin), []
    while slot < end:
        out.append(slot)
        slot += INTERVAL
    return out


def _accruing_slots(start: datetime, cutoff: datetime) -> set[tuple[int, datetime]]:
    """(agent, interval) pairs in [start, cutoff) in which an agent's state accrued time
    (replayed from the events: the rows a recompute writes, not agents x every interval)."""
    accruing = _agents_not_idle_offline_at(start)
    since = dict.fromkeys(accruing, start)
    keys: set[tuple[int, datetime]] = set()
    for agent_id, at, status, activity in (
        AgentStatusEvent.objects.filter(occurred_at__gte=start, occurred_at__lt=cutoff)
        .order_by("agent_id", "occurred_at", "id")
        .values_list("agent_id", "occurred_at", "to_status", "to_activity")
    ):
        if agent_id in since:
            keys.update((agent_id, slot) for slot in _slots(since.pop(agent_id), at))
        keys.add((agent_id, floor_interval(at)))
        if _state_columns(status, activity):
            since[agent_id] = at
    for agent_id, begin in since.items():
        keys.update((agent_id, slot) for slot in _slots(begin, cutoff))
    return keys


def _agents_not_idle_offline_at(at: datetime) -> set[int]:
    """Agents whose state at `at` accrues time (anything but offline and idle), from the event
    log: one probe of agent_status_event_agent_idx per agent."""
    last = AgentStatusEvent.objects.filter(agent_id=OuterRef("pk"), occurred_at__lte=at).order_by(
        "-occurred_at", "-id"
    )
    rows = Agent.objects.order_by().annotate(
        s=Subquery(last.values("to_status")[:1]), a=Subquery(last.values("to_activity")[:1])
    )
    return {
        pk
        for pk, status, activity in rows.filter(s__isnull=False).values_list("pk", "s", "a")
        if not (status == AgentStatus.OFFLINE and activity == AgentActivity.IDLE)
    }


def _empty_counters() -> dict:
    return {**dict.fromkeys(QUEUE_COUNTERS, 0), "longest_wait": 0,
            "wait_histogram": kpis.to_bytes(kpis.empty_histogram()),
            "handle_histogram": kpis.to_bytes(kpis.empty_histogram())}  # fmt: skip
