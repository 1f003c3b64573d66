"""The queue-entry facts of a set of calls as one SELECT (the rules: see the package).

Every step is a window or a join over all the calls at once, so PostgreSQL derives a million
calls' facts in one pass. Instants are integer microseconds (analytics.dialect) until the
final SELECT turns them back into datetimes.

How a call's entries are cut from its markers (`transfer` and `enqueue-action` callbacks
naming a queue, in (at, id) order): a transfer always starts an entry; an exit starts one when
it is the first marker or names another queue than the marker before it; otherwise it ends
the current entry (the first exit after a transfer) or repeats it. So an entry is a run of
markers, numbered by a running count of the starting ones. The Call row adds a last entry
when the markers did not end in its queue.
"""

from analytics import dialect as d
from analytics.models import MissedOfferFact, QueueEntryFact
from callcenter.choices import AgentActivity, CallOutcome
from callcenter.models import Agent, AgentStatusEvent, Call, CallEvent, Queue
from callcenter.participants import AGENT_LABEL_PREFIX
from routing.models import MISSED_STATUSES, Reservation

from . import common_shape

S = d.SECOND_US
# A wrap-up belongs to the entry whose service ended at most 120 s before it began (or 5 s
# after); longer wrap-ups than 4 hours are not counted (an agent who never pressed "ready").
WRAP_UP_MATCH_US, WRAP_UP_EARLY_US, WRAP_UP_LONGEST_US = 120 * S, 5 * S, 4 * 3600 * S
QUEUE_FAILURES = ("error", "system-error")
FINAL_CALL_OUTCOMES = (CallOutcome.VOICEMAIL, CallOutcome.CALLBACK, CallOutcome.FAILED)
FACT_COLUMNS = (
    "call_id", "seq", "queue_id", "agent_id", "outcome", "transferred_out", "entered_at",
    "answered_at", "left_at", "service_ended_at", "wait_seconds", "talk_seconds",
    "hold_seconds", "wrap_up_seconds", "handle_seconds", "within_service_level",
    "interval_start", "local_date", "agent_interval_start", "wait_bucket", "handle_bucket",
)  # fmt: skip
# Off: every call goes through the general steps (the tests compare both ways).
ONE_PASS = True
# The calls a derivation is about, with their shapes: a temporary table (calls_select).
DERIVED_CALLS = "analytics_derived_calls"
MISSED_COLUMNS = ("reservation_id", "call_id", "agent_id", "queue_id", "offered_at",
                  "interval_start")  # fmt: skip


def _quoted(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


def calls_select(scope: str) -> str:
    """SELECT of the ended customer calls `c` matching `scope` with their shapes
    (common_shape.shapes_cte; `one_pass` is 1 for a call without callbacks), to be stored in
    DERIVED_CALLS for facts_select. Stored, the rest of the derivation is planned on their
    real number and not on a guess at a CTE's (a guess that nested or merged a million)."""
    shape = ", ".join(f"s.{column}" for column in common_shape.SHAPE_COLUMNS)
    # NOT MATERIALIZED: each reference reads the calls table itself, so the join with the
    # callbacks may hash it (a materialized CTE offers only a scan of its rows).
    return f"""
WITH calls AS NOT MATERIALIZED (
  SELECT c.id, c.call_sid, c.queue_id, c.agent_id, c.hold_seconds, c.outcome,
         {d.us("c.created_at")} AS created, {d.us("c.enqueued_at")} AS enqueued,
         {d.us("c.answered_at")} AS answered, {d.us("c.ended_at")} AS ended
  FROM {Call._meta.db_table} c
  WHERE c.parent_id IS NULL AND c.ended_at IS NOT NULL AND {scope}
),{common_shape.shapes_cte()}
SELECT c.*, {shape}, {common_shape.one_pass(enabled=ONE_PASS)} AS one_pass
FROM calls c LEFT JOIN shapes s ON s.call_id = c.id
"""  # noqa: S608 - model tables and our expressions


def facts_select() -> str:
    """SELECT of the facts (FACT_COLUMNS) of the calls stored in DERIVED_CALLS (the calls of
    the common shape derived in one pass, unless ONE_PASS is off)."""
    secs = lambda a, b: d.greatest("0", f"({b} - {a}) / {S}")  # noqa: E731 - int(seconds) ≥ 0
    label = len(AGENT_LABEL_PREFIX)
    first_leave = "min(CASE WHEN what = 'participant-leave' THEN at END)"
    held = f"{d.least('h.released', 'e.end_at')} - {d.greatest('h.held', 'e.answered_at')}"
    served = "FROM answered_entries WHERE answered_at IS NOT NULL"
    wrap_up_reach = WRAP_UP_MATCH_US + WRAP_UP_LONGEST_US
    gone = "coalesce(e.next_start, e.exit_at, e.end_at)"
    call_columns = ("c.enqueued, c.ended, c.answered, c.agent_id, c.queue_id AS call_queue_id,"
                    " c.hold_seconds AS call_hold, c.outcome AS call_outcome")  # fmt: skip
    return f"""
WITH {common_shape.answered_ctes(DERIVED_CALLS)},
-- The general steps, for the calls of another shape.
events AS (
  SELECT e.id, e.call_id, e.kind, e.payload, e.context,
         {d.us("coalesce(e.twilio_timestamp, e.received_at)")} AS at
  FROM {CallEvent._meta.db_table} e JOIN general_calls c ON c.id = e.call_id
  WHERE e.kind IN ('transfer', 'enqueue-action', 'conference')
),
markers AS (
  SELECT m.*, lag(m.queue_id) OVER (PARTITION BY m.call_id ORDER BY m.at, m.id) AS queue_before
  FROM (
    SELECT id, call_id, kind, at, {d.json_natural("context", "queue", signed=True)} AS queue_id,
           {d.json_natural("payload", "QueueTime")} AS waited,
           coalesce({d.json_text("payload", "QueueResult")}, '') AS result
    FROM events WHERE kind IN ('transfer', 'enqueue-action')
  ) m
  WHERE m.queue_id <> 0
),
runs AS (
  SELECT m.*, sum(CASE WHEN kind = 'transfer' OR queue_before IS NULL
                       OR queue_before <> queue_id THEN 1 ELSE 0 END)
                OVER (PARTITION BY call_id ORDER BY at, id) AS n
  FROM markers m
),
ranked AS (
  SELECT r.*, row_number() OVER (PARTITION BY call_id, n ORDER BY at, id) AS i,
         first_value(kind) OVER (PARTITION BY call_id, n ORDER BY at, id) AS opened_by
  FROM runs r
),
-- The exit of a run: its opening exit, or the first exit after the transfer that opened it.
marker_entries AS (
  SELECT call_id, n, max(opened_by) AS kind, max(queue_id) AS queue_id,
         max(CASE WHEN i = 1 THEN at END) AS start_at,
         max(CASE WHEN i = 1 THEN waited END) AS waited,
         max(CASE WHEN (i = 1 AND kind = 'enqueue-action') OR (i = 2 AND opened_by = 'transfer')
                  THEN at END) AS exit_at,
         coalesce(max(CASE WHEN (i = 1 AND kind = 'enqueue-action')
                             OR (i = 2 AND opened_by = 'transfer') THEN result END), '')
           AS exit_result
  FROM ranked GROUP BY call_id, n
),
-- A call's last marker entry (a window: a subquery per entry would rescan them all).
last_marker_entries AS (
  SELECT call_id, n, queue_id FROM (
    SELECT call_id, n, queue_id, max(n) OVER (PARTITION BY call_id) AS last_n
    FROM marker_entries
  ) m WHERE n = last_n
),
-- Each entry carries its call's columns (joined once).
all_entries AS (
  SELECT m.call_id, m.n, m.kind, m.queue_id, m.start_at, m.waited, m.exit_at, m.exit_result,
         {call_columns}
  FROM marker_entries m JOIN general_calls c ON c.id = m.call_id
  UNION ALL
  SELECT c.id, coalesce(l.n, 0) + 1, 'call', c.queue_id, coalesce(c.enqueued, c.created),
         NULL, NULL, '', {call_columns}
  FROM general_calls c LEFT JOIN last_marker_entries l ON l.call_id = c.id
  WHERE c.queue_id IS NOT NULL AND (l.call_id IS NULL OR l.queue_id <> c.queue_id)
),
-- Where an entry began before the call row's correction: a transfer at its instant; an exit
-- QueueTime before it, not before the previous entry's exit (or start), or the call's own
-- enqueue instant for its first queue; the call row's queue at its enqueue instant.
chained AS (
  SELECT a.*, lag(coalesce(a.exit_at, a.start_at)) OVER w AS previous_end
  FROM all_entries a
  WINDOW w AS (PARTITION BY a.call_id ORDER BY a.n)
),
started AS (
  SELECT ch.*, CASE
    WHEN kind = 'transfer' THEN start_at
    WHEN kind = 'call' THEN
      CASE WHEN previous_end IS NULL THEN start_at ELSE {d.greatest("start_at", "previous_end")} END
    WHEN previous_end IS NOT NULL THEN
      {d.greatest(f"start_at - coalesce(waited, 0) * {S}", "previous_end")}
    WHEN call_queue_id = queue_id AND enqueued IS NOT NULL THEN enqueued
    ELSE start_at - coalesce(waited, 0) * {S} END AS began
  FROM chained ch
),
-- An entry ends where the next begins (a transfer, or an overflow); the last entry, when the
-- call row agrees on its queue, begins at the call's enqueue instant (capped by its exit).
linked AS (
  SELECT s.*, lead(began) OVER w AS next_start, lead(kind) OVER w AS next_kind,
         CASE WHEN lead(n) OVER w IS NULL AND kind <> 'call' AND enqueued IS NOT NULL
                   AND queue_id = call_queue_id
                   AND (n = 1 OR enqueued >= lag(began) OVER w)
              THEN {d.least("enqueued", "coalesce(exit_at, enqueued)")} ELSE began END AS entered
  FROM started s
  WINDOW w AS (PARTITION BY call_id ORDER BY n)
),
entries AS (
  SELECT l.call_id, row_number() OVER (PARTITION BY l.call_id ORDER BY l.n) - 1 AS seq,
         l.queue_id, l.entered, l.exit_at, l.exit_result, l.next_start,
         CASE WHEN l.next_kind = 'transfer' THEN 'transfer'
              WHEN l.next_kind IS NOT NULL THEN 'overflow' END AS next_kind,
         coalesce(l.next_start, l.ended) AS end_at, l.answered, l.agent_id AS call_agent_id,
         l.call_hold, l.call_outcome,
         q.service_level_seconds, q.short_abandon_seconds, q.time_zone
  FROM linked l JOIN {Queue._meta.db_table} q ON q.id = l.queue_id
),
conference AS (
  SELECT e.call_id, e.id, e.at,
         coalesce({d.json_text("e.payload", "StatusCallbackEvent")}, '') AS what,
         coalesce({d.json_text("e.payload", "CallSid")}, '') AS sid,
         coalesce({d.json_text("e.payload", "ParticipantLabel")}, '') AS label,
         c.call_sid, c.ended
  FROM events e JOIN general_calls c ON c.id = e.call_id
  WHERE e.kind = 'conference'
),
customer_moves AS (
  SELECT call_id, at, what, ended,
         sum(CASE WHEN what = 'participant-join' THEN 1 ELSE 0 END)
           OVER (PARTITION BY call_id ORDER BY at, id) AS leg
  FROM conference WHERE sid = call_sid AND what IN ('participant-join', 'participant-leave')
),
customer_legs AS (
  SELECT call_id, leg, min(CASE WHEN what = 'participant-join' THEN at END) AS joined,
         {d.least(f"coalesce({first_leave}, {d.FAR_US})", "max(ended)")} AS left_at
  FROM customer_moves WHERE leg > 0 GROUP BY call_id, leg
),
hold_moves AS (
  SELECT call_id, id, at, what, ended,
         lag(what) OVER (PARTITION BY call_id ORDER BY at, id) AS what_before
  FROM conference WHERE sid = call_sid AND what IN ('participant-hold', 'participant-unhold')
),
hold_turns AS (
  SELECT call_id, at, what, ended, lead(at) OVER (PARTITION BY call_id ORDER BY at, id) AS next_at
  FROM hold_moves WHERE what_before IS NULL OR what_before <> what
),
holds AS (
  SELECT call_id, at AS held, coalesce(next_at, ended) AS released
  FROM hold_turns WHERE what = 'participant-hold'
),
agent_moves AS (
  SELECT call_id, id, at, what, sid, substr(label, {label + 1}) AS identity,
         row_number() OVER (PARTITION BY call_id, sid ORDER BY at, id) AS ord
  FROM conference
  WHERE sid <> call_sid AND substr(label, 1, {label}) = '{AGENT_LABEL_PREFIX}'
    AND what IN ('participant-join', 'participant-leave')
),
-- An agent leg: its first join, until its last leave after that join. Windows and a GROUP
-- BY over each leg's moves, never a join of the moves with themselves (a million legs).
agent_marked AS (
  SELECT m.*, min(CASE WHEN what = 'participant-join' THEN ord END)
                OVER (PARTITION BY call_id, sid) AS first_join
  FROM agent_moves m
),
agent_legs AS (
  SELECT call_id, max(CASE WHEN ord = first_join THEN id END) AS id,
         max(CASE WHEN ord = first_join THEN at END) AS joined,
         max(CASE WHEN ord = first_join THEN identity END) AS identity,
         coalesce(max(CASE WHEN what = 'participant-leave' AND ord > first_join THEN at END),
                  {d.FAR_US}) AS left_at
  FROM agent_marked WHERE first_join IS NOT NULL GROUP BY call_id, sid
),
-- The first instant of an entry at which the customer and an agent were both in.
conference_answers AS (
  SELECT call_id, seq, meets, identity FROM (
    SELECT en.call_id, en.seq, al.identity,
           {d.greatest("cl.joined", "al.joined", "en.entered")} AS meets,
           row_number() OVER (PARTITION BY en.call_id, en.seq ORDER BY
             {d.greatest("cl.joined", "al.joined", "en.entered")}, cl.leg, al.joined, al.id) AS pick
    FROM entries en
    JOIN customer_legs cl ON cl.call_id = en.call_id
    JOIN agent_legs al ON al.call_id = en.call_id
    WHERE {d.greatest("cl.joined", "al.joined", "en.entered")}
          < {d.least("cl.left_at", "al.left_at", "en.end_at")}
  ) x WHERE pick = 1
),
conferenced AS (SELECT DISTINCT call_id FROM conference),
general_answered AS (
  SELECT en.*, cf.call_id IS NOT NULL AS by_conference,
         CASE WHEN cf.call_id IS NOT NULL THEN ca.meets
              WHEN en.answered IS NOT NULL AND en.entered <= en.answered
                   AND en.answered < en.end_at THEN en.answered END AS answered_at,
         CASE WHEN cf.call_id IS NOT NULL THEN ag.id
              WHEN en.answered IS NOT NULL AND en.entered <= en.answered
                   AND en.answered < en.end_at THEN en.call_agent_id END AS agent_id
  FROM entries en
  LEFT JOIN conferenced cf ON cf.call_id = en.call_id
  LEFT JOIN conference_answers ca ON ca.call_id = en.call_id AND ca.seq = en.seq
  LEFT JOIN {Agent._meta.db_table} ag ON ag.softphone_identity = ca.identity
),
answered_entries AS (
  SELECT * FROM general_answered UNION ALL SELECT * FROM one_pass_answered
),
entry_holds AS (
  SELECT e.call_id, e.seq,
         CAST(sum({d.greatest("0", held)}) AS BIGINT) / {S}
           AS held
  FROM answered_entries e JOIN holds h ON h.call_id = e.call_id
  WHERE e.answered_at IS NOT NULL AND e.by_conference
  GROUP BY e.call_id, e.seq
),
wrap_edges AS (
  SELECT s.agent_id, s.id, {d.us("s.occurred_at")} AS at,
         CASE WHEN s.to_activity = '{AgentActivity.WRAP_UP}' THEN 1 ELSE 0 END AS begins
  FROM {AgentStatusEvent._meta.db_table} s
  WHERE (s.to_activity = '{AgentActivity.WRAP_UP}') <> (s.from_activity = '{AgentActivity.WRAP_UP}')
    AND s.agent_id IN (SELECT agent_id FROM answered_entries WHERE answered_at IS NOT NULL)
    AND s.occurred_at >= {d.instant(f"(SELECT min(end_at) {served}) - {WRAP_UP_EARLY_US}")}
    AND s.occurred_at <= {d.instant(f"(SELECT max(end_at) {served}) + {wrap_up_reach}")}
),
-- A completed wrap-up: a change into wrap-up whose next change in or out of it leaves it.
wrap_ups AS (
  SELECT agent_id, at AS began, next_at AS ended FROM (
    SELECT agent_id, at, begins, lead(at) OVER w AS next_at, lead(begins) OVER w AS next_begins
    FROM wrap_edges WINDOW w AS (PARTITION BY agent_id ORDER BY at, id)
  ) x WHERE begins = 1 AND next_begins = 0 AND next_at - at <= {WRAP_UP_LONGEST_US}
),
entry_wrap_ups AS (
  SELECT call_id, seq, wrap FROM (
    SELECT e.call_id, e.seq, {secs("w.began", "w.ended")} AS wrap,
           row_number() OVER (PARTITION BY e.call_id, e.seq ORDER BY w.began) AS pick
    FROM answered_entries e JOIN wrap_ups w ON w.agent_id = e.agent_id
    WHERE e.answered_at IS NOT NULL
      AND w.began BETWEEN e.end_at - {WRAP_UP_EARLY_US} AND e.end_at + {WRAP_UP_MATCH_US}
  ) x WHERE pick = 1
),
timed AS (
  SELECT e.*, h.held, w.wrap,
         coalesce(e.answered_at, {d.least(gone, "e.end_at")}) AS left_at
  FROM answered_entries e
  LEFT JOIN entry_holds h ON h.call_id = e.call_id AND h.seq = e.seq
  LEFT JOIN entry_wrap_ups w ON w.call_id = e.call_id AND w.seq = e.seq
),
measured AS (
  SELECT t.*, {secs("t.entered", "t.left_at")} AS wait,
         CASE WHEN t.answered_at IS NULL THEN 0
              WHEN t.by_conference THEN coalesce(t.held, 0) ELSE t.call_hold END AS hold
  FROM timed t
),
facts AS (
  SELECT m.*,
         CASE WHEN answered_at IS NULL THEN 0
              ELSE {d.greatest("0", f"{secs('m.answered_at', 'm.end_at')} - m.hold")} END AS talk,
         CASE WHEN answered_at IS NULL THEN 0 ELSE coalesce(m.wrap, 0) END AS wrap_up,
         CASE WHEN answered_at IS NOT NULL THEN 'answered'
              WHEN next_kind = 'transfer' THEN 'transferred'
              WHEN next_kind = 'overflow' THEN 'overflowed'
              WHEN call_outcome IN ({_quoted(FINAL_CALL_OUTCOMES)}) THEN call_outcome
              WHEN exit_result IN ({_quoted(QUEUE_FAILURES)}) THEN 'failed'
              WHEN wait < short_abandon_seconds THEN 'short_abandoned'
              ELSE 'abandoned' END AS outcome
  FROM measured m
)
SELECT call_id, seq, queue_id, agent_id, outcome,
       CASE WHEN outcome = 'answered' AND next_kind = 'transfer' THEN TRUE ELSE FALSE END
         AS transferred_out,
       {d.instant("entered")} AS entered_at, {d.instant("answered_at")} AS answered_at,
       {d.instant("left_at")} AS left_at,
       CASE WHEN outcome = 'answered' THEN {d.instant("end_at")} END AS service_ended_at,
       wait AS wait_seconds, talk AS talk_seconds, hold AS hold_seconds,
       wrap_up AS wrap_up_seconds, talk + hold + wrap_up AS handle_seconds,
       CASE WHEN outcome = 'answered' AND wait <= service_level_seconds THEN TRUE ELSE FALSE END
         AS within_service_level,
       {d.instant(f"entered - entered %% {d.INTERVAL_US}")} AS interval_start,
       {d.local_date("entered", "time_zone")} AS local_date,
       CASE WHEN outcome = 'answered'
            THEN {d.instant(f"answered_at - answered_at %% {d.INTERVAL_US}")} END
         AS agent_interval_start,
       {d.bucket("wait")} AS wait_bucket,
       CASE WHEN outcome = 'answered' THEN {d.bucket("talk + hold + wrap_up")} END AS handle_bucket
FROM facts
"""  # noqa: S608 - model tables and our expressions


def missed_select(scope: str) -> str:
    """SELECT of the missed offers (MISSED_COLUMNS) of the ended customer calls in `scope`."""
    offered = d.us("r.offered_at")
    return f"""
SELECT r.id, r.call_id, r.agent_id, r.queue_id, r.offered_at,
       {d.instant(f"{offered} - {offered} %% {d.INTERVAL_US}")}
FROM {Reservation._meta.db_table} r JOIN {Call._meta.db_table} c ON c.id = r.call_id
WHERE c.parent_id IS NULL AND c.ended_at IS NOT NULL AND {scope}
  AND r.status IN ({_quoted(MISSED_STATUSES)})
"""  # noqa: S608 - model tables


FACTS_TABLE = QueueEntryFact._meta.db_table
MISSED_TABLE = MissedOfferFact._meta.db_table
