"""Facts written: a batch of calls re-derived and upserted, and which calls a run must
re-derive (their callbacks arrived, or a wrap-up of theirs ended)."""

from collections import defaultdict
from datetime import datetime, timedelta
from types import SimpleNamespace

import psycopg
from django.db import connection
from django.db.models import OuterRef, Q, Subquery
from psycopg.types.json import Jsonb

from analytics.models import MissedOfferFact, QueueEntryFact
from callcenter.choices import AgentActivity
from callcenter.models import Agent, AgentStatusEvent, Call, CallEvent, Queue
from callcenter.participants import AGENT_LABEL_PREFIX
from routing.models import MISSED_STATUSES, Reservation

from .entries import (
    CALL_FIELDS,
    WRAP_UP_EARLY,
    WRAP_UP_LONGEST,
    WRAP_UP_MATCH,
    CallRow,
    derive_call_facts,
    floor_interval,
)


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
