"""What a stored callback says happened to its call, as one small integer the database keeps
with the row (CallEvent.shape_slot, a stored generated column): computed once when the row is
written, whoever writes it, so analytics' pass over millions of callbacks compares an integer
instead of reading JSON (analytics.facts.common_shape).

1 a transfer into a queue, 2 an <Enqueue> action (the caller left a queue); in the call's
conference: 3, 4, 5 the customer joined, left, was held or unheld; 6, 7 an agent's leg joined,
left; 8 any other conference callback. NULL for every other callback, and for a transfer or
<Enqueue> action whose context names no queue (a natural number other than 0, as Python reads
`isinstance(v, int) or str(v).isdigit()`).
"""

from dataclasses import dataclass

from django.db.models import Expression, SmallIntegerField

from callcenter.participants import AGENT_LABEL_PREFIX

JOIN, LEAVE = "'participant-join'", "'participant-leave'"
HOLDS = "'participant-hold', 'participant-unhold'"


def _slot(text, queue: str) -> str:
    """The CASE, given `text(column, key)` (a JSON value as text) and the `queue` test (a
    CASE itself: the cast runs only on digits, whatever order the database evaluates in)."""
    what = text("payload", "StatusCallbackEvent")
    label = text("payload", "ParticipantLabel")
    prefix = len(AGENT_LABEL_PREFIX)
    return f"""CASE
  WHEN kind IN ('transfer', 'enqueue-action') THEN
    CASE WHEN {queue} THEN CASE kind WHEN 'transfer' THEN 1 ELSE 2 END END
  WHEN kind = 'conference' THEN
    CASE WHEN {text("payload", "CallSid")} = {text("context", "for")} THEN
           CASE WHEN {what} = {JOIN} THEN 3 WHEN {what} = {LEAVE} THEN 4
                WHEN {what} IN ({HOLDS}) THEN 5 ELSE 8 END
         WHEN substr({label}, 1, {prefix}) = '{AGENT_LABEL_PREFIX}' THEN
           CASE WHEN {what} = {JOIN} THEN 6 WHEN {what} = {LEAVE} THEN 7 ELSE 8 END
         ELSE 8 END
END"""


@dataclass(frozen=True)
class _Dialect:
    text: str  # a JSON value as text: {column}, {key}
    kind: str  # the JSON type of the context's queue
    integer: tuple[str, str]  # that type's name for an integer, and what the value must match
    string: tuple[str, str]  # the same for a string
    cast: str


_DIALECTS = {
    "postgresql": _Dialect(
        text="({column} ->> '{key}')",
        kind="jsonb_typeof(context -> 'queue')",
        integer=("'number'", "{value} ~ '^-?[0-9]{{1,18}}$'"),
        string=("'string'", "{value} ~ '^[0-9]{{1,18}}$'"),
        cast="BIGINT",
    ),
    # Built-in functions only: a generated column may not call the REGEXP Django registers.
    "sqlite": _Dialect(
        text="CAST(json_extract({column}, '$.{key}') AS TEXT)",
        kind="json_type(context, '$.queue')",
        integer=("'integer'", "length(ltrim({value}, '-')) <= 18"),
        string=(
            "'text'",
            "{value} <> '' AND {value} NOT GLOB '*[^0-9]*' AND length({value}) <= 18",
        ),
        cast="INTEGER",
    ),
}


def _sql(vendor: str) -> str:
    dialect = _DIALECTS[vendor]

    def text(column: str, key: str) -> str:
        return dialect.text.format(column=column, key=key)

    queue = text("context", "queue")
    natural = " OR ".join(
        f"({dialect.kind} = {name} AND {match.format(value=queue)})"
        for name, match in (dialect.integer, dialect.string)
    )
    return _slot(text, f"CASE WHEN {natural} THEN CAST({queue} AS {dialect.cast}) <> 0 END")


class CallbackSlot(Expression):
    """The generated column's expression (see the module's docstring). It takes no arguments,
    so makemigrations sees no change when its SQL changes: a change here needs a migration of
    its own that drops and adds the column again."""

    output_field = SmallIntegerField(null=True)

    def as_sql(self, compiler, connection):
        return _sql(connection.vendor), []
