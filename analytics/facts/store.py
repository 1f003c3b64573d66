"""Facts written: the derivation (derivation.py) upserted for a set of calls, the facts that
vanished deleted, and which calls a run must re-derive (their callbacks arrived, or a wrap-up
of theirs ended)."""

from contextlib import contextmanager, nullcontext
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import OuterRef, Q, Subquery

from analytics import dialect as d
from analytics.models import MissedOfferFact, QueueEntryFact
from callcenter.choices import AgentActivity
from callcenter.models import AgentStatusEvent, Call, CallEvent

from .derivation import (
    DERIVED_CALLS,
    FACT_COLUMNS,
    FACTS_TABLE,
    MISSED_COLUMNS,
    MISSED_TABLE,
    WRAP_UP_EARLY_US,
    WRAP_UP_MATCH_US,
    calls_select,
    facts_select,
    missed_select,
)

CALLS_TABLE = Call._meta.db_table
# Above this many calls, nested loops over the derivation's steps (quadratic) cost more than
# hash joins that scan the callbacks once: 2,000 calls took 0.87 s nested against 0.13 s
# over 100,000 callbacks, 10,000 calls 23 s against 0.5 s.
BULK_CALLS = 2_000


def rebuild_call_facts(call_ids) -> tuple[set, set, set]:
    """Replace the facts of `call_ids` (customer calls) by freshly derived ones.

    Returns the keys whose rollups changed: {(queue, interval)}, {(queue, date)},
    {(agent, interval)} of the old and the new facts."""
    call_ids = sorted(set(call_ids))
    if not call_ids:
        return set(), set(), set()
    ids = d.id_list(call_ids)
    before = _keys(ids)
    # A backlog (the beat down for a while) is derived as a recompute is: by hash joins.
    with d.hash_joins() if len(call_ids) > BULK_CALLS else nullcontext():
        rebuild_facts(d.in_ids("c.id"), [ids], d.in_ids("call_id"))
    after = _keys(ids)
    return tuple(a | b for a, b in zip(before, after, strict=True))


def rebuild_facts(scope: str, params: list, owned: str | None = None) -> None:
    """Upsert the derived facts and missed offers of the calls `c` matching `scope` (a row
    keeps its id when re-derived; unchanged rows are not written) and delete those of theirs
    that vanished. `owned`: the same calls as a condition on a fact's `call_id`, with the
    same parameters (an id list probes the facts' index where a subquery may scan them)."""
    d.prepare()
    calls = f"SELECT c.id FROM {CALLS_TABLE} c WHERE {scope}"  # noqa: S608 - our SQL
    owned = owned or f"call_id IN ({calls})"
    with connection.cursor() as cursor, _calls_in_scope(cursor, scope, params):
        if d.is_postgresql():
            cursor.execute(
                f"WITH derived AS MATERIALIZED ({facts_select()}),"  # noqa: S608
                f" upserted AS ({_upsert(FACTS_TABLE, FACT_COLUMNS, 'derived', 2)} RETURNING 1),"
                f" vanished AS ({_delete_vanished(owned, 'derived')} RETURNING 1)"
                " SELECT (SELECT count(*) FROM upserted), (SELECT count(*) FROM vanished)",
                params,
            )
        else:
            cursor.execute("DROP TABLE IF EXISTS temp.analytics_derived")
            cursor.execute(f"CREATE TEMP TABLE analytics_derived AS {facts_select()}", [])
            cursor.execute(_upsert(FACTS_TABLE, FACT_COLUMNS, "analytics_derived", 2))
            cursor.execute(_delete_vanished(owned, "analytics_derived"), params)
            cursor.execute("DROP TABLE temp.analytics_derived")
        cursor.execute(
            f"INSERT INTO {MISSED_TABLE} ({', '.join(MISSED_COLUMNS)}) {missed_select(scope)}"
            f" {_on_conflict(MISSED_TABLE, MISSED_COLUMNS, 1)}",
            params,
        )
        cursor.execute(
            f"DELETE FROM {MISSED_TABLE} WHERE {owned} AND reservation_id NOT IN"  # noqa: S608
            f" (SELECT x.id FROM ({missed_select(scope)}) x)",
            params + params,
        )


def replace_facts(scope: str, params: list, *, everything: bool = False) -> None:
    """A recompute's rewrite: delete the facts and missed offers of the calls matching
    `scope` (`everything`: all of them, `scope` covering every ended call), then insert them
    derived afresh. Every row is new, so plain INSERTs replace the upserts' conflict checks
    and the vanished rows' anti-joins."""
    d.prepare()
    with connection.cursor() as cursor:
        for table in (FACTS_TABLE, MISSED_TABLE):
            if everything:
                # PostgreSQL: TRUNCATE, which frees the table at once (only analytics reads
                # facts, behind the rollup lock). SQLite has no TRUNCATE.
                cursor.execute(f"{'TRUNCATE' if d.is_postgresql() else 'DELETE FROM'} {table}")
            else:
                calls = f"SELECT c.id FROM {CALLS_TABLE} c WHERE {scope}"  # noqa: S608
                cursor.execute(f"DELETE FROM {table} WHERE call_id IN ({calls})", params)  # noqa: S608
        with d.hash_joins(), _calls_in_scope(cursor, scope, params):
            cursor.execute(
                f"INSERT INTO {FACTS_TABLE} ({', '.join(FACT_COLUMNS)})"  # noqa: S608
                f" SELECT {', '.join(FACT_COLUMNS)} FROM ({facts_select()}) x",
                [],  # no parameters, but its %% are read as %
            )
        cursor.execute(
            f"INSERT INTO {MISSED_TABLE} ({', '.join(MISSED_COLUMNS)}) {missed_select(scope)}",
            params,
        )


@contextmanager
def _calls_in_scope(cursor, scope: str, params: list):
    """Around a derivation: the calls `c` matching `scope` stored with their shapes in
    DERIVED_CALLS (calls_select), their statistics taken, and dropped after."""
    cursor.execute(f"DROP TABLE IF EXISTS {DERIVED_CALLS}")
    with d.sorted_groups():
        cursor.execute(f"CREATE TEMP TABLE {DERIVED_CALLS} AS {calls_select(scope)}", params)
    if d.is_postgresql():
        cursor.execute(f"ANALYZE {DERIVED_CALLS}")
    yield
    cursor.execute(f"DROP TABLE {DERIVED_CALLS}")


def _upsert(table: str, columns, source: str, unique: int) -> str:
    names = ", ".join(columns)
    return (
        f"INSERT INTO {table} ({names}) SELECT {names} FROM {source} WHERE TRUE"  # noqa: S608
        f" {_on_conflict(table, columns, unique)}"
    )


def _on_conflict(table: str, columns, unique: int) -> str:
    """ON CONFLICT on the first `unique` columns: update the others, only when they differ."""
    keys, rest = columns[:unique], columns[unique:]
    changed = " OR ".join(d.distinct(f"{table}.{c}", f"excluded.{c}") for c in rest)
    return (
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET"
        f" {', '.join(f'{c} = excluded.{c}' for c in rest)} WHERE {changed}"
    )


def _delete_vanished(owned: str, source: str) -> str:
    return (
        f"DELETE FROM {FACTS_TABLE} WHERE {owned} AND NOT EXISTS"  # noqa: S608
        f" (SELECT 1 FROM {source} x WHERE x.call_id = {FACTS_TABLE}.call_id"
        f" AND x.seq = {FACTS_TABLE}.seq)"
    )


def _keys(ids) -> tuple[set, set, set]:
    """Rollup keys of the facts and missed offers of the calls `ids` (an id_list)."""
    queue_intervals, queue_days, agent_intervals = set(), set(), set()
    facts = QueueEntryFact.objects.extra(where=[d.in_ids("call_id")], params=[ids])  # noqa: S610
    for queue_id, interval, day, agent_id, agent_interval in facts.values_list(
        "queue_id", "interval_start", "local_date", "agent_id", "agent_interval_start"
    ):
        queue_intervals.add((queue_id, interval))
        queue_days.add((queue_id, day))
        if agent_id and agent_interval:
            agent_intervals.add((agent_id, agent_interval))
    missed = MissedOfferFact.objects.extra(where=[d.in_ids("call_id")], params=[ids])  # noqa: S610
    agent_intervals |= set(missed.values_list("agent_id", "interval_start"))
    return queue_intervals, queue_days, agent_intervals


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
    match, early = (
        timedelta(microseconds=WRAP_UP_MATCH_US),
        timedelta(microseconds=WRAP_UP_EARLY_US),
    )
    windows = Q(pk__in=[])
    for agent_id, start in ends:
        if start is not None:
            windows |= Q(
                agent_id=agent_id,
                service_ended_at__gte=start - match,
                service_ended_at__lte=start + early,
            )
    return set(QueueEntryFact.objects.filter(windows).values_list("call_id", flat=True))
