"""SQL the ORM has no portable spelling for, written once per backend (PostgreSQL for real,
SQLite for the embedded run): a queue's local midnight, seconds between two instants, and a
JSON array aggregate (several values from one correlated subquery)."""

from datetime import UTC, datetime

from django.db.models import Aggregate, DateTimeField, FloatField, Func, JSONField

from callcenter.business_hours import zone

SQLITE_LOCAL_MIDNIGHT = "switchboard_local_midnight"


class LocalMidnight(Func):
    """The instant the day of `at` began in time zone `tz` (an expression, e.g. a queue's
    `time_zone` column), so each queue's "today" starts at its own midnight."""

    arity = 2
    output_field = DateTimeField()

    def as_postgresql(self, compiler, connection, **extra_context):
        at, at_params = compiler.compile(self.source_expressions[0])
        tz, tz_params = compiler.compile(self.source_expressions[1])
        # timestamptz AT TIME ZONE tz → local wall time; truncated; AT TIME ZONE tz → instant.
        # A sub-SELECT of outer columns only is an InitPlan: computed once per outer row (per
        # queue), not once per call row it is compared with.
        sql = f"(SELECT DATE_TRUNC('day', ({at}) AT TIME ZONE ({tz})) AT TIME ZONE ({tz}))"
        return sql, (*at_params, *tz_params, *tz_params)

    def as_sqlite(self, compiler, connection, **extra_context):
        register_sqlite_functions(connection)
        return self.as_sql(compiler, connection, function=SQLITE_LOCAL_MIDNIGHT, **extra_context)


def register_sqlite_functions(connection) -> None:
    """Give the SQLite connection LocalMidnight's function (Django's own date functions take
    a constant time zone; ours reads it from a column). Cheap: re-registering replaces it."""
    connection.ensure_connection()
    connection.connection.create_function(
        SQLITE_LOCAL_MIDNIGHT, 2, _sqlite_local_midnight, deterministic=True
    )


def _sqlite_local_midnight(at: str | None, tz: str | None) -> str | None:
    # SQLite keeps naive UTC text; answer in the same form so comparisons stay textual.
    if at is None or not tz:
        return None
    instant = datetime.fromisoformat(at)
    instant = instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant
    local = instant.astimezone(zone(tz))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0, fold=0)
    return midnight.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


class Seconds(Func):
    """Seconds from `start` to `end` (instants), as a number."""

    arity = 2
    output_field = FloatField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler, connection, template="EXTRACT(EPOCH FROM (%(expressions)s))",
            arg_joiner=" - ", **extra_context,
        )  # fmt: skip

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler, connection, template="((JULIANDAY(%(expressions)s)) * 86400.0)",
            arg_joiner=") - JULIANDAY(", **extra_context,
        )  # fmt: skip


class JSONList(Aggregate):
    """The rows' values as one JSON array (order not guaranteed)."""

    function = "JSONB_AGG"
    output_field = JSONField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, function="JSON_GROUP_ARRAY", **extra_context)
