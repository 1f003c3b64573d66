"""Rollup rows recomputed from the facts in SQL: queues' 15-minute and daily rows, agents'
15-minute rows (their time replayed by agent_time). Each row of the given keys is recomputed
whole, and a key left without facts loses its row. Keys come as a `Keys` source: explicit
pairs (the one-minute run: upserted, unchanged rows not written) or every key of a time
window (a recompute: the window's rows replaced), so a million facts never travel through
Python. A 15-minute queue row holds its histograms as bucket lists (kpis.from_bucket_list),
a day packed ones."""

from dataclasses import dataclass
from datetime import date, datetime

from django.db import connection

from analytics import dialect as d
from analytics.kpis import PERCENTILES
from analytics.models import (
    AGENT_COUNTERS,
    DAY_PERCENTILE_COLUMNS,
    QUEUE_COUNTERS,
    AgentInterval,
    MissedOfferFact,
    QueueDay,
    QueueEntryFact,
    QueueInterval,
)
from callcenter.models import Agent, AgentStatusEvent

from .agent_time import TIME_COLUMNS, agent_time

ROLLUP_LOCK = 0x414E_4C59  # "ANLY": one rollup at a time across beats and workers
FACTS = QueueEntryFact._meta.db_table
MISSED = MissedOfferFact._meta.db_table
ANSWERED = "f.outcome = 'answered'"
HISTOGRAMS = (("wait", "wait_bucket"), ("handle", "handle_bucket"))
QUEUE_SUMS = {
    "offered": "count(*)",
    "answered": f"sum(CASE WHEN {ANSWERED} THEN 1 ELSE 0 END)",
    "answered_within_sl": "sum(CASE WHEN f.within_service_level THEN 1 ELSE 0 END)",
    "abandoned": "sum(CASE WHEN f.outcome = 'abandoned' THEN 1 ELSE 0 END)",
    "short_abandoned": "sum(CASE WHEN f.outcome = 'short_abandoned' THEN 1 ELSE 0 END)",
    "transfers": "sum(CASE WHEN f.transferred_out THEN 1 ELSE 0 END)",
    "moved": "sum(CASE WHEN f.outcome = 'transferred' THEN 1 ELSE 0 END)",
    "overflows": "sum(CASE WHEN f.outcome = 'overflowed' THEN 1 ELSE 0 END)",
    "voicemails": "sum(CASE WHEN f.outcome = 'voicemail' THEN 1 ELSE 0 END)",
    "callbacks": "sum(CASE WHEN f.outcome = 'callback' THEN 1 ELSE 0 END)",
    "failed": "sum(CASE WHEN f.outcome = 'failed' THEN 1 ELSE 0 END)",
    "wait_answered_sum": f"sum(CASE WHEN {ANSWERED} THEN f.wait_seconds ELSE 0 END)",
    "abandon_wait_sum": "sum(CASE WHEN f.outcome = 'abandoned' THEN f.wait_seconds ELSE 0 END)",
    "talk_sum": "sum(f.talk_seconds)",
    "hold_sum": "sum(f.hold_seconds)",
    "wrap_up_sum": "sum(f.wrap_up_seconds)",
    "handle_sum": "sum(f.handle_seconds)",
    "longest_wait": "max(f.wait_seconds)",
}
assert tuple(QUEUE_SUMS)[:-1] == QUEUE_COUNTERS
AGENT_FACT_SUMS = {
    "answered": "count(*)",
    "talk_sum": "sum(f.talk_seconds)",
    "hold_sum": "sum(f.hold_seconds)",
    "wrap_up_sum": "sum(f.wrap_up_seconds)",
    "handle_sum": "sum(f.handle_seconds)",
}


@dataclass(frozen=True)
class Keys:
    """A SELECT of (owner, key) rows: the rollup rows to recompute. `span`, when set, are the
    bounds (adapted; None for no bound) of a window whose every fact is a key, so the facts
    are read by a range instead of a join with the keys (a recompute)."""

    sql: str
    params: tuple = ()
    span: tuple | None = None

    def scope(self, table: str, alias: str, owner: str, key: str) -> tuple[str, str, tuple]:
        """(FROM, WHERE, params) of the rows of `table` whose (owner, key) is one of these."""
        if self.span is None:
            join = f"{table} {alias} JOIN ({self.sql}) k ON {alias}.{owner} = k.owner"
            return f"{join} AND {alias}.{key} = k.key", "TRUE", self.params
        where, params = _within(f"{alias}.{key}", *self.span)
        return f"{table} {alias}", f"{alias}.{owner} IS NOT NULL AND {where}", params


def _adapt(bound):
    if bound is None or isinstance(bound, str):
        return bound
    if isinstance(bound, datetime):
        return connection.ops.adapt_datetimefield_value(bound)
    return connection.ops.adapt_datefield_value(bound)


def _within(column: str, begin, end) -> tuple[str, tuple]:
    conditions, params = [f"{column} IS NOT NULL"], []
    for bound, op in ((begin, ">="), (end, "<")):
        if bound is not None:
            conditions.append(f"{column} {op} %s")
            params.append(bound)
    return " AND ".join(conditions), tuple(params)


def key_pairs(pairs, kind: str) -> Keys:
    """Explicit (owner id, key) pairs; `kind` is "timestamptz" or "date"."""
    pairs = sorted(set(pairs))
    owners, values = [p[0] for p in pairs], [_adapt(p[1]) for p in pairs]
    if d.is_postgresql():
        return Keys(
            f"SELECT DISTINCT * FROM unnest(%s::bigint[], %s::{kind}[]) AS k(owner, key)",  # noqa: S608
            (owners, values),
        )
    return Keys(
        "SELECT DISTINCT json_extract(value, '$[0]') AS owner, json_extract(value, '$[1]') AS key"
        " FROM json_each(%s)",
        (d.id_list([[o, str(v)] for o, v in zip(owners, values, strict=True)]),),
    )


def keys_between(sources, begin: datetime | date | None, end: datetime | date | None) -> Keys:
    """Every (owner, key) of the `sources` ([(table, owner column, key column)]) whose key is
    in [begin, end) (no bound when None)."""
    span = (_adapt(begin), _adapt(end))
    parts, params = [], []
    for table, owner, key in sources:
        where, bounds = _within(key, *span)
        parts.append(f"SELECT {owner} AS owner, {key} AS key FROM {table}"  # noqa: S608
                     f" WHERE {owner} IS NOT NULL AND {where}")  # fmt: skip
        params += bounds
    return Keys(" UNION ".join(parts), tuple(params), span)


# --- queue rollups ----------------------------------------------------------------------------


def _queue_rows(field: str, keys: Keys, *, bucket_lists: bool) -> tuple[str, tuple]:
    """SELECT (queue_id, `field`, QUEUE_SUMS..., wait_histogram, handle_histogram) of the keys'
    facts: bucket lists computed with the counters in one pass, or packed histograms (a
    GROUP BY per histogram, joined to the counters) followed by their percentiles' buckets
    (DAY_PERCENTILE_COLUMNS)."""
    sums = ", ".join(f"{sql} AS {name}" for name, sql in QUEUE_SUMS.items())
    scoped, where, params = keys.scope(FACTS, "f", "queue_id", field)
    grouped = f"FROM {scoped} WHERE {where} GROUP BY f.queue_id, f.{field}"
    if bucket_lists:
        lists = ", ".join(f"{d.bucket_list(f'f.{bucket}', ANSWERED)} AS {name}_histogram"
                          for name, bucket in HISTOGRAMS)  # fmt: skip
        return f"SELECT f.queue_id, f.{field}, {sums}, {lists} {grouped}", params
    # A bucket holds the p-th percentile (nearest rank ⌈p·n/100⌉) when it is the first whose
    # running count reaches p·n/100 (kpis.percentiles).
    ranks = ", ".join(f"min(b) FILTER (WHERE cum * 100 >= {p} * total) AS p{p}"
                      for p in PERCENTILES)  # fmt: skip
    within = f"PARTITION BY f.queue_id, f.{field}"
    histograms = [
        f"""{name}_buckets AS (
  SELECT f.queue_id, f.{field} AS key, f.{bucket} AS b, count(*) AS n,
         lag(f.{bucket}, 1, -1) OVER ({within} ORDER BY f.{bucket}) AS prev,
         CAST(sum(count(*)) OVER ({within} ORDER BY f.{bucket}) AS BIGINT) AS cum,
         CAST(sum(count(*)) OVER ({within}) AS BIGINT) AS total
  FROM {scoped} WHERE {where} AND {ANSWERED} GROUP BY f.queue_id, f.{field}, f.{bucket}
), {name}s AS (
  SELECT queue_id, key, {d.histogram("b", "n", "prev")} AS h, {ranks}
  FROM {name}_buckets GROUP BY queue_id, key
)"""  # noqa: S608 - model tables and columns
        for name, bucket in HISTOGRAMS
    ]
    empty = d.empty_histogram()
    percentiles = ", ".join(
        f"{alias}.p{p} AS {column}"
        for alias, name in (("w", "wait"), ("h", "handle"))
        for p, column in zip(PERCENTILES, DAY_PERCENTILE_COLUMNS[name], strict=True)
    )
    computed = f"""
WITH counters AS (SELECT f.queue_id, f.{field} AS key, {sums} {grouped}), {", ".join(histograms)}
SELECT c.queue_id, c.key AS {field}, {", ".join(f"c.{name}" for name in QUEUE_SUMS)},
       coalesce(w.h, {empty}) AS wait_histogram, coalesce(h.h, {empty}) AS handle_histogram,
       {percentiles}
FROM counters c
LEFT JOIN waits w ON w.queue_id = c.queue_id AND w.key = c.key
LEFT JOIN handles h ON h.queue_id = c.queue_id AND h.key = c.key
"""  # noqa: S608 - model tables and columns
    return computed, params * 3


def _rollup_queue(model, field: str, keys: Keys, *, bucket_lists: bool) -> None:
    """Write the keys' rows from their facts (counters and histograms), none for a key
    without facts."""
    d.prepare()
    table = model._meta.db_table
    columns = ["queue_id", field, *QUEUE_SUMS, "wait_histogram", "handle_histogram"]
    if not bucket_lists:
        columns += [*DAY_PERCENTILE_COLUMNS["wait"], *DAY_PERCENTILE_COLUMNS["handle"]]
    computed, params = _queue_rows(field, keys, bucket_lists=bucket_lists)
    _write_rows(table, columns, computed, params, keys)


def _write_rows(table: str, columns: list[str], computed: str, params: tuple, keys: Keys) -> None:
    """Make the keys' rows of `table` those `computed` selects (`columns`, by name; the first
    two are the owner and the key). A recompute (keys over a window) deletes the window's
    rows and inserts the new ones: every row is new, and a plain INSERT costs a fraction of
    an upsert. The one-minute run upserts its few keys (an unchanged row is not written) and
    deletes the keys' rows left without a computed one."""
    owner, key, *values = columns
    old, old_where, old_params = keys.scope(table, "r", owner, key)
    delete = f"DELETE FROM {table} WHERE id IN (SELECT r.id FROM {old} WHERE {old_where}"  # noqa: S608

    def insert(source: str) -> str:
        names = ", ".join(columns)
        return f"INSERT INTO {table} ({names}) SELECT * FROM {source} WHERE TRUE"  # noqa: S608

    with connection.cursor() as cursor:
        if keys.span == (None, None) and d.is_postgresql():
            # Every row: TRUNCATE leaves no dead rows for the inserts' unique checks to visit
            # (readers of the table wait for the recompute's commit instead of reading old rows).
            cursor.execute(f"TRUNCATE {table}")
            cursor.execute(insert(f"({computed}) x"), params)
            return
        if keys.span is not None:
            _, window, window_params = keys.scope(table, table, owner, key)
            cursor.execute(f"DELETE FROM {table} WHERE {window}", window_params)  # noqa: S608
            cursor.execute(insert(f"({computed}) x"), params)
            return
        changed = " OR ".join(d.distinct(f"{table}.{c}", f"excluded.{c}") for c in values)
        sets = ", ".join(f"{c} = excluded.{c}" for c in values)
        upsert = f" ON CONFLICT ({owner}, {key}) DO UPDATE SET {sets} WHERE {changed}"
        matched = f"x.{owner} = r.{owner} AND x.{key} = r.{key}"
        vanished = f" AND NOT EXISTS (SELECT 1 FROM {{}} x WHERE {matched}))"  # noqa: S608
        if d.is_postgresql():  # one statement: the rows computed once
            cursor.execute(
                f"WITH computed AS ({computed}), upserted AS ({insert('computed')}{upsert}"
                f" RETURNING 1) {delete}{vanished.format('computed')}",
                params + old_params,
            )
        else:
            cursor.execute(insert(f"({computed}) c") + upsert, params)
            cursor.execute(delete + vanished.format(f"({computed})"), params + old_params)


def rollup_queue_intervals(keys: Keys) -> None:
    _rollup_queue(QueueInterval, "interval_start", keys, bucket_lists=True)


def rollup_queue_days(keys: Keys) -> None:
    _rollup_queue(QueueDay, "local_date", keys, bucket_lists=False)
    _fill_day_gaps(keys)


def _fill_day_gaps(keys: Keys) -> None:
    """Keep the keys' queues' days dense: a row (zeros if need be) for every local day from
    the queue's first to its last day with entries, none outside. So a report over a period
    reads the same rows whatever the volume, and the rows depend on the facts alone
    (incremental runs and a full recompute agree)."""
    table = QueueDay._meta.db_table
    ranges = f"""
SELECT queue_id, min(local_date) AS lo, max(local_date) AS hi FROM {table}
WHERE offered > 0 AND queue_id IN (SELECT owner FROM ({keys.sql}) k) GROUP BY queue_id
"""  # noqa: S608
    zeros = dict.fromkeys(QUEUE_COUNTERS, "0") | {"longest_wait": "0"}
    empty = d.empty_histogram()
    if d.is_postgresql():
        days = (
            "SELECT r.queue_id, generate_series(r.lo, r.hi, interval '1 day')::date AS day"
            " FROM ranges r"
        )
    else:
        days = """SELECT * FROM (WITH RECURSIVE days(queue_id, day, hi) AS (
  SELECT queue_id, lo, hi FROM ranges
  UNION ALL SELECT queue_id, date(day, '+1 day'), hi FROM days WHERE day < hi
) SELECT queue_id, day FROM days)"""
    missing = (
        f"SELECT * FROM ({days}) m WHERE NOT EXISTS (SELECT 1 FROM {table} x"  # noqa: S608
        " WHERE x.queue_id = m.queue_id AND x.local_date = m.day)"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH ranges AS ({ranges}) DELETE FROM {table} WHERE offered = 0"  # noqa: S608
            f" AND queue_id IN (SELECT owner FROM ({keys.sql}) k) AND NOT EXISTS (SELECT 1 FROM"
            f" ranges r WHERE r.queue_id = {table}.queue_id AND {table}.local_date"
            " BETWEEN r.lo AND r.hi)",
            keys.params + keys.params,
        )
        cursor.execute(
            f"WITH ranges AS ({ranges}) INSERT INTO {table} (queue_id, local_date,"  # noqa: S608
            f" {', '.join(zeros)}, wait_histogram, handle_histogram)"
            f" SELECT m.*, {', '.join(zeros.values())}, {empty}, {empty} FROM ({missing}) m"
            " WHERE TRUE ON CONFLICT (queue_id, local_date) DO NOTHING",
            keys.params,
        )


# --- agent rollups ----------------------------------------------------------------------------


def rollup_agent_intervals(keys: Keys, cutoff: datetime, accruing=frozenset()) -> None:
    """Recompute the agents' rows of `keys` (and of the `accruing` pairs): answered entries
    and missed offers from the facts, time from the status events before `cutoff`
    (agent_time); no row for a key left with nothing. A recompute's `accruing` holds every
    pair of its window in which time accrued, so the keys' other pairs have none to replay."""
    d.prepare()
    pairs = set(accruing) if keys.span is not None else _fetch(keys, cutoff) | set(accruing)
    time = agent_time(pairs, cutoff)
    time_rows = [
        [k[0], _adapt(k[1]), *(round(v[c], 3) for c in TIME_COLUMNS)]
        for k, v in time.items()
        if any(v.values())
    ]
    names = ("owner", "key", *TIME_COLUMNS)
    if d.is_postgresql():
        arrays = list(map(list, zip(*time_rows, strict=True))) or [[] for _ in names]
        floats = ", ".join(["%s::float8[]"] * len(TIME_COLUMNS))
        unnest = f"unnest(%s::bigint[], %s::timestamptz[], {floats})"
        time_sql = f"SELECT * FROM {unnest} AS t({', '.join(names)})"  # noqa: S608
        time_params = tuple(arrays)
    else:
        extracted = ", ".join(f"json_extract(value, '$[{i}]') AS {name}"
                              for i, name in enumerate(names))  # fmt: skip
        time_sql = f"SELECT {extracted} FROM json_each(%s)"  # noqa: S608 - our expressions
        time_params = (d.id_list(time_rows),)
    columns = [*TIME_COLUMNS, *AGENT_FACT_SUMS, "missed_offers"]
    assert sorted(columns) == sorted(AGENT_COUNTERS)
    fact_sums = ", ".join(f"{sql} AS {name}" for name, sql in AGENT_FACT_SUMS.items())
    facts, facts_where, facts_params = keys.scope(FACTS, "f", "agent_id", "agent_interval_start")
    missed, missed_where, missed_params = keys.scope(MISSED, "m", "agent_id", "interval_start")
    sources = {"t": TIME_COLUMNS, "f": AGENT_FACT_SUMS, "m": ("missed_offers",)}
    values = ", ".join(f"coalesce({alias}.{c}, 0) AS {c}" for alias, counters in sources.items()
                       for c in counters)  # fmt: skip
    # Each source holds a key once: FULL JOINs pair them (a GROUP BY of their UNION summed
    # fourteen columns over every key, and spilled at a million keys).
    computed = f"""
SELECT coalesce(f.owner, m.owner, t.owner) AS agent_id,
       coalesce(f.key, m.key, t.key) AS interval_start, {values}
FROM (
  SELECT f.agent_id AS owner, f.agent_interval_start AS key, {fact_sums}
  FROM {facts} WHERE {facts_where} AND {ANSWERED}
  GROUP BY f.agent_id, f.agent_interval_start
) f
FULL JOIN (
  SELECT m.agent_id AS owner, m.interval_start AS key, count(*) AS missed_offers
  FROM {missed} WHERE {missed_where} GROUP BY m.agent_id, m.interval_start
) m ON m.owner = f.owner AND m.key = f.key
FULL JOIN ({time_sql}) t
  ON t.owner = coalesce(f.owner, m.owner) AND t.key = coalesce(f.key, m.key)"""  # noqa: S608
    params = facts_params + missed_params + time_params
    table = AgentInterval._meta.db_table
    _write_rows(table, ["agent_id", "interval_start", *columns], computed, params, keys)


def _fetch(keys: Keys, cutoff: datetime) -> set[tuple[int, datetime]]:
    """The (agent, interval) pairs of `keys` before `cutoff` whose agent has status events
    then: the only ones agent_time may find time in (it replays them in Python)."""
    bound = connection.ops.adapt_datetimefield_value(cutoff)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT owner, key FROM ({keys.sql}) k WHERE key < %s AND owner IN"  # noqa: S608
            f" (SELECT a.id FROM {Agent._meta.db_table} a WHERE EXISTS (SELECT 1 FROM"
            f" {AgentStatusEvent._meta.db_table} e WHERE e.agent_id = a.id"
            " AND e.occurred_at < %s))",
            (*keys.params, bound, bound),
        )
        rows = cursor.fetchall()
    if d.is_postgresql():
        return set(rows)
    convert = connection.ops.convert_datetimefield_value
    return {(owner, convert(key, None, connection)) for owner, key in rows}
