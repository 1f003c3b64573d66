"""The common shape of a customer call, derived in one pass over its callbacks.

Nearly every call has this shape: no transfer, at most one <Enqueue> action (in the call's own
queue when the Call row names one), in the conference at most one join and one leave of the
customer and one agent leg with at most one join and one leave, and no hold. For such a call
every rule of derivation.py collapses to one entry that a GROUP BY of its callbacks gives, so
the general steps (windows over each call's markers and moves, sorted per call) run only for
the calls of another shape. `tests/analytics/test_fact_derivation.py` holds the two ways equal
on random calls, and both equal to the replay of the rules.

`shapes_cte` reads `calls` (the calls in scope) and gives, per call with callbacks, what its
markers and conference moves add up to (SHAPE_COLUMNS), and `one_pass` tells from it whether
a call has the common shape. The calls in scope are stored with their shapes
(derivation.DERIVED_CALLS), then `answered_ctes` read them: `general_calls`, those the
general steps derive, and `one_pass_answered`, the common-shape calls' entries with their
answer, in the columns of derivation.py's `answered_entries`.
"""

from analytics import dialect as d
from callcenter.models import Agent, CallEvent, Queue
from callcenter.participants import AGENT_LABEL_PREFIX


# FILTER rather than a CASE in the aggregate: the condition decides whether the aggregate
# runs at all (8% of the pass over four million callbacks).
def _count(condition: str) -> str:
    return f"count(*) FILTER (WHERE {condition})"


def _last(column: str, condition: str, aggregate: str = "max") -> str:
    """The value of `column` on the group's row matching `condition` (at most one does)."""
    return f"{aggregate}({column}) FILTER (WHERE {condition})"


SHAPE_COLUMNS = (
    "exits", "exit_queue", "exit_at", "exit_waited", "exit_result", "conference_events",
    "customer_joins", "customer_joined", "customer_join_id", "customer_leaves",
    "customer_left_at", "customer_left_id", "agent_joins", "agent_joined", "agent_join_id",
    "agent_identity", "agent_leaves", "agent_left_at", "agent_left_id",
)  # fmt: skip


def shapes_cte() -> str:
    """`shapes AS (…)`, to follow `calls` in a WITH: what each call's callbacks add up to
    (SHAPE_COLUMNS and what `one_pass` reads), a row per call with such callbacks.

    One GROUP BY of the calls' callbacks, compared by their stored slot (CallEvent.shape_slot:
    1 transfer, 2 <Enqueue> action, 3/4/5 the customer's join, leave or hold, 6/7 an agent
    leg's join or leave, 8 another conference callback). A FILTER decides whether an
    aggregate runs at all, so a callback's JSON and instant are read only by the few
    aggregates of its own slot: no expression is computed for every row and every aggregate,
    and the pass needs no fence (it may run in parallel workers)."""
    label = len(AGENT_LABEL_PREFIX)
    slot = lambda n: f"e.shape_slot = {n}"  # noqa: E731
    exit_, customer_join, customer_leave, agent_join, agent_leave = map(slot, (2, 3, 4, 6, 7))
    agent_move = "e.shape_slot IN (6, 7)"
    at = d.us("coalesce(e.twilio_timestamp, e.received_at)")
    sid = f"coalesce({d.json_text('e.payload', 'CallSid')}, '')"
    identity = f"substr(coalesce({d.json_text('e.payload', 'ParticipantLabel')}, ''), {label + 1})"
    return f"""
shapes AS (
  SELECT e.call_id,
         {_count(slot(1))} AS transfers, {_count(exit_)} AS exits,
         {_last(d.json_natural("e.context", "queue", signed=True), exit_)} AS exit_queue,
         {_last(at, exit_)} AS exit_at,
         {_last(d.json_natural("e.payload", "QueueTime"), exit_)} AS exit_waited,
         {_last(f"coalesce({d.json_text('e.payload', 'QueueResult')}, '')", exit_)}
           AS exit_result,
         {_count("e.shape_slot >= 3")} AS conference_events,
         {_count(slot(5))} AS holds,
         {_count(customer_join)} AS customer_joins,
         {_last(at, customer_join)} AS customer_joined,
         {_last("e.id", customer_join)} AS customer_join_id,
         {_count(customer_leave)} AS customer_leaves,
         {_last(at, customer_leave)} AS customer_left_at,
         {_last("e.id", customer_leave)} AS customer_left_id,
         {_last(sid, agent_move, "min")} AS agent_sid,
         {_last(sid, agent_move)} AS last_agent_sid,
         {_count(agent_join)} AS agent_joins, {_last(at, agent_join)} AS agent_joined,
         {_last("e.id", agent_join)} AS agent_join_id,
         {_last(identity, agent_join)} AS agent_identity,
         {_count(agent_leave)} AS agent_leaves, {_last(at, agent_leave)} AS agent_left_at,
         {_last("e.id", agent_leave)} AS agent_left_id
  FROM {CallEvent._meta.db_table} e
  WHERE e.kind IN ('transfer', 'enqueue-action', 'conference')
    AND e.call_id IN (SELECT id FROM calls)
  GROUP BY e.call_id
)"""  # noqa: S608 - model tables and our expressions


def one_pass(*, enabled: bool = True) -> str:
    """1 when the call `c` (a row of `calls`) has no callbacks (no `shapes` row `s`) or has
    the common shape by them, else 0 (`enabled=False`: 0 for every call with callbacks)."""
    common = (
        "s.transfers = 0 AND s.exits <= 1 AND (s.exits = 0 OR c.queue_id IS NULL"
        " OR c.queue_id = s.exit_queue) AND s.holds = 0 AND s.customer_joins <= 1"
        " AND s.customer_leaves <= 1 AND s.agent_joins <= 1 AND s.agent_leaves <= 1"
        " AND (s.agent_sid IS NULL OR s.agent_sid = s.last_agent_sid)"
    )
    if not enabled:
        common = "FALSE"
    return f"CASE WHEN s.call_id IS NULL OR ({common}) THEN 1 ELSE 0 END"


def answered_ctes(calls_table: str) -> str:
    """`general_calls` and `one_pass_answered` (see above) of the calls stored in
    `calls_table` with their shapes."""
    # A leave counts only after its leg's join, in (at, id) order; a leg still open is FAR.
    customer_left = d.least(
        f"CASE WHEN customer_leaves = 1 AND (customer_left_at, customer_left_id)"
        f" > (customer_joined, customer_join_id) THEN customer_left_at ELSE {d.FAR_US} END",
        "s.ended",
    )
    agent_left = (
        "CASE WHEN agent_leaves = 1 AND (agent_left_at, agent_left_id) > (agent_joined,"
        f" agent_join_id) THEN agent_left_at ELSE {d.FAR_US} END"
    )
    entered = (
        "CASE WHEN s.exits = 1 THEN CASE WHEN s.enqueued IS NOT NULL AND s.queue_id = s.exit_queue"
        f" THEN {d.least('s.enqueued', 's.exit_at')}"
        f" ELSE s.exit_at - coalesce(s.exit_waited, 0) * {d.SECOND_US} END"
        " ELSE coalesce(s.enqueued, s.created) END"
    )
    meets = d.greatest("o.customer_joined", "o.agent_joined", "o.entered")
    met = f"o.legs = 2 AND {meets} < {d.least('o.customer_left', 'o.agent_left', 'o.end_at')}"
    answered_by_row = "o.answered IS NOT NULL AND o.entered <= o.answered AND o.answered < o.end_at"
    return f"""
general_calls AS (SELECT * FROM {calls_table} WHERE one_pass = 0),
one_pass_entries AS (
  SELECT s.id AS call_id, q.id AS queue_id, {entered} AS entered, s.exit_at,
         coalesce(s.exit_result, '') AS exit_result, s.ended AS end_at, s.answered,
         s.agent_id AS call_agent_id, s.hold_seconds AS call_hold, s.outcome AS call_outcome,
         q.service_level_seconds, q.short_abandon_seconds, q.time_zone,
         coalesce(s.conference_events, 0) > 0 AS by_conference,
         coalesce(s.customer_joins, 0) + coalesce(s.agent_joins, 0) AS legs,
         s.customer_joined, {customer_left} AS customer_left, s.agent_joined,
         {agent_left} AS agent_left, s.agent_identity
  FROM {calls_table} s JOIN {Queue._meta.db_table} q
    ON q.id = CASE WHEN s.exits = 1 THEN s.exit_queue ELSE s.queue_id END
  WHERE s.one_pass = 1
),
-- A common-shape entry is answered where both legs were first in together (the conference),
-- or, without conference callbacks, by the Call row's answer within the entry.
one_pass_answered AS (
  SELECT o.call_id, 0 AS seq, o.queue_id, o.entered, o.exit_at, o.exit_result,
         CAST(NULL AS BIGINT) AS next_start, NULL AS next_kind, o.end_at, o.answered,
         o.call_agent_id, o.call_hold, o.call_outcome, o.service_level_seconds,
         o.short_abandon_seconds, o.time_zone, o.by_conference,
         CASE WHEN o.by_conference THEN CASE WHEN {met} THEN {meets} END
              WHEN {answered_by_row} THEN o.answered END AS answered_at,
         CASE WHEN o.by_conference THEN CASE WHEN {met} THEN ag.id END
              WHEN {answered_by_row} THEN o.call_agent_id END AS agent_id
  FROM one_pass_entries o
  LEFT JOIN {Agent._meta.db_table} ag ON ag.softphone_identity = o.agent_identity
)"""  # noqa: S608 - model tables and our expressions
