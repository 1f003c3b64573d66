"""The few SQL expressions analytics writes differently for PostgreSQL and for SQLite (the
embedded run), so facts and rollups are one SQL text on both.

Instants travel through the statements as integer microseconds since the epoch (`us`), so
arithmetic and comparisons are plain integer ones on both databases; `instant` turns them back
into the column's type. On SQLite, whose datetimes are naive UTC text, a few Python functions
are registered on the connection (`prepare`).
"""

import json
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from django.db import connection

from analytics import kpis
from callcenter.business_hours import zone

EPOCH = datetime(1970, 1, 1)
# A leg or a hold still open: later than any instant (9999-12-31).
FAR_US = 253_402_300_799_000_000
SECOND_US = 1_000_000
INTERVAL_US = 900 * SECOND_US


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def us(column: str) -> str:
    """An instant column as integer microseconds since the epoch."""
    if is_postgresql():
        return f"(extract(epoch FROM {column}) * 1000000)::bigint"
    return f"analytics_us({column})"


def instant(micros: str) -> str:
    """Integer microseconds back to the datetime column's type."""
    if is_postgresql():
        return f"('epoch'::timestamptz + ({micros}) * interval '1 microsecond')"
    return f"analytics_instant({micros})"


def local_date(micros: str, time_zone: str) -> str:
    """The date of an instant in a time zone read from a column."""
    if is_postgresql():
        return f"(({instant(micros)}) AT TIME ZONE {time_zone})::date"
    return f"analytics_local_date({micros}, {time_zone})"


def bucket(seconds: str) -> str:
    """The histogram bucket of `seconds` (kpis.bucket)."""
    if is_postgresql():
        edges = ", ".join(map(str, kpis.EDGES))
        return f"(width_bucket({seconds}, ARRAY[{edges}]) - 1)"
    return f"analytics_bucket({seconds})"


def greatest(*args: str) -> str:
    """The largest of non-null arguments."""
    return f"{'greatest' if is_postgresql() else 'max'}({', '.join(args)})"


def least(*args: str) -> str:
    return f"{'least' if is_postgresql() else 'min'}({', '.join(args)})"


def json_text(column: str, key: str) -> str:
    """A JSON object's value at `key` as text (NULL when absent)."""
    if is_postgresql():
        return f"({column} ->> '{key}')"
    return f"CAST(json_extract({column}, '$.{key}') AS TEXT)"


def json_natural(column: str, key: str, *, signed: bool = False) -> str:
    """The value at `key` as an integer when it is a JSON integer (negative ones only when
    `signed`) or a string of ASCII digits, else NULL: Python's `isinstance(v, int)` or
    `str(v).isdigit()` on the decoded value."""
    digits = "^-?[0-9]{1,18}$" if signed else "^[0-9]{1,18}$"
    text = json_text(column, key)
    if is_postgresql():
        kind = f"jsonb_typeof({column} -> '{key}')"
        number, string, match = "'number'", "'string'", f"{text} ~ '{{}}'"
    else:
        kind = f"json_type({column}, '$.{key}')"
        number, string, match = "'integer'", "'text'", f"{text} REGEXP '{{}}'"
    return (
        f"(CASE WHEN ({kind} = {number} AND {match.format(digits)})"
        f" OR ({kind} = {string} AND {match.format('^[0-9]{1,18}$')})"
        f" THEN CAST({text} AS BIGINT) END)"
    )


def histogram(index: str, count: str, previous: str) -> str:
    """Aggregate: the packed histogram (kpis.to_bytes: one little-endian 32-bit count per
    bucket) of a group's (bucket `index`, `count`) rows, `previous` being the group's
    preceding bucket (-1 for the first). PostgreSQL concatenates the zero gaps and counts;
    SQLite calls a registered aggregate."""
    if not is_postgresql():
        return f"analytics_histogram({index}, {count})"
    n = f"({count})::int"
    # The count's bytes swapped, sent big-endian: its little-endian bytes (int4 shifts wrap).
    swapped = " | ".join(f"((({n} >> {8 * i}) & 255) << {8 * (3 - i)})" for i in range(4))
    zeros = f"'\\x{'00' * 4 * len(kpis.EDGES)}'::bytea"
    gap = f"substring({zeros}, 1, 4 * ({index} - {previous} - 1))"
    tail = f"substring({zeros}, 1, 4 * ({len(kpis.EDGES) - 1} - max({index})))"
    return f"(string_agg({gap} || int4send({swapped}), ''::bytea ORDER BY {index}) || {tail})"


def bucket_list(index: str, condition: str) -> str:
    """Aggregate: the bucket list (kpis.from_bucket_list) of a group's rows matching
    `condition`: each row's bucket `index` as one byte, ascending (b'' when none). One pass
    with the group's counters, where the packed histogram needs a GROUP BY of its own."""
    if not is_postgresql():
        return f"analytics_bucket_list(CASE WHEN {condition} THEN {index} END)"
    byte = f"set_byte('\\x00'::bytea, 0, {index})"
    ordered = f"string_agg({byte}, ''::bytea ORDER BY {index})"
    return f"coalesce({ordered} FILTER (WHERE {condition}), ''::bytea)"


def empty_histogram() -> str:
    size = 4 * len(kpis.EDGES)
    return f"'\\x{'00' * size}'::bytea" if is_postgresql() else f"zeroblob({size})"


def distinct(a: str, b: str) -> str:
    """NULL-safe inequality."""
    return f"({a} IS DISTINCT FROM {b})" if is_postgresql() else f"({a} IS NOT {b})"


def id_list(ids) -> object:
    """A parameter holding ids for `in_ids`."""
    ids = list(ids)
    return ids if is_postgresql() else json.dumps(ids)


def in_ids(column: str, param: str = "%s") -> str:
    """`column` is one of the ids of the parameter `id_list` made."""
    if is_postgresql():
        return f"{column} = ANY({param}::bigint[])"
    return f"{column} IN (SELECT value FROM json_each({param}))"  # noqa: S608 - a parameter


def histograms(column: str) -> str:
    """Aggregate: a group's packed histograms as one bytes value, for kpis.sum_packed
    (PostgreSQL: concatenated, one value to send where an array of thousands costs more to
    encode and parse than to sum; SQLite: already merged)."""
    if is_postgresql():
        return f"string_agg({column}, ''::bytea)"
    return f"analytics_histogram_merge({column})"


def week_start(column: str) -> str:
    """The Monday of a date column's week."""
    if is_postgresql():
        return f"date_trunc('week', {column})::date"
    return f"date({column}, 'weekday 0', '-6 days')"


def register() -> None:
    """SQLite: register the functions the expressions above call (a no-op on PostgreSQL)."""
    if is_postgresql():
        return
    connection.ensure_connection()
    raw = connection.connection
    raw.create_function("analytics_us", 1, _sqlite_us, deterministic=True)
    raw.create_function("analytics_instant", 1, _sqlite_instant, deterministic=True)
    raw.create_function("analytics_local_date", 2, _sqlite_local_date, deterministic=True)
    raw.create_function("analytics_bucket", 1, _sqlite_bucket, deterministic=True)
    raw.create_aggregate("analytics_histogram", 2, _SqliteHistogram)
    raw.create_aggregate("analytics_histogram_merge", 1, _SqliteHistogramMerge)
    raw.create_aggregate("analytics_bucket_list", 1, _SqliteBucketList)


def prepare() -> None:
    """Before analytics' writes. PostgreSQL: for the rest of the transaction, no JIT (these
    statements' row estimates are far off, and compiling costs more than it saves) and room
    to sort in memory. SQLite: register()."""
    if is_postgresql():
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('jit', 'off', true),"
                           " set_config('work_mem', '256MB', true)")  # fmt: skip
        return
    register()


def hash_joins():
    """PostgreSQL: no nested loops for the statements inside (the derivation over many
    calls). Its joins pair rows of the same calls, so hash or merge joins suit them; the
    planner cannot estimate its filters on JSON and, left to guess one row, nests loops
    over a million."""
    return _planner_off("enable_nestloop")


def sorted_groups():
    """PostgreSQL: groups formed in order, not in a hash table, for the statements inside
    (the calls' shapes: a GROUP BY of their callbacks). The callbacks' call_id index gives each
    call's rows together, in parallel workers; a hash of a million calls' groups spilled to
    disk and was merged in one process (13 to 15 s against 11 to 13 s at a million calls)."""
    return _planner_off("enable_hashagg")


@contextmanager
def _planner_off(setting: str):
    if not is_postgresql():
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, 'off', true)", [setting])
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"RESET {setting}")


def to_us(at: datetime) -> int:
    """An aware datetime as microseconds since the epoch (exact)."""
    delta = at.astimezone(UTC).replace(tzinfo=None) - EPOCH
    return (delta.days * 86_400 + delta.seconds) * SECOND_US + delta.microseconds


def from_us(micros: int) -> datetime:
    return (EPOCH + timedelta(microseconds=micros)).replace(tzinfo=UTC)


def _sqlite_us(text: str | None) -> int | None:
    if text is None:
        return None
    at = datetime.fromisoformat(text)
    return to_us(at if at.tzinfo else at.replace(tzinfo=UTC))


def _sqlite_instant(micros: int | None) -> str | None:
    # The text Django's SQLite backend writes for a datetime (naive UTC, str()).
    return None if micros is None else str(EPOCH + timedelta(microseconds=micros))


def _sqlite_local_date(micros: int | None, time_zone: str | None) -> str | None:
    if micros is None or not time_zone:
        return None
    return str(from_us(micros).astimezone(zone(time_zone)).date())


def _sqlite_bucket(seconds: int | None) -> int | None:
    return None if seconds is None else kpis.bucket(seconds)


class _SqliteHistogram:
    """analytics_histogram(bucket, count): the packed histogram (kpis.to_bytes) of a group."""

    def __init__(self):
        self.counts = kpis.empty_histogram()

    def step(self, index, count):
        if index is not None:
            self.counts[index] += count

    def finalize(self):
        return kpis.to_bytes(self.counts)


class _SqliteHistogramMerge:
    """analytics_histogram_merge(histogram): the bucket-by-bucket sum of packed histograms."""

    def __init__(self):
        self.blobs = []

    def step(self, blob):
        self.blobs.append(blob)

    def finalize(self):
        return kpis.to_bytes(kpis.sum_histograms(self.blobs))


class _SqliteBucketList:
    """analytics_bucket_list(bucket): the group's non-null buckets, one byte each, ascending."""

    def __init__(self):
        self.buckets = []

    def step(self, index):
        if index is not None:
            self.buckets.append(index)

    def finalize(self):
        return bytes(sorted(self.buckets))
