"""The claim in one statement: the best waiting caller or work item that has an eligible agent,
paired with the best such agent, offered (reservation, agent, caller, ring): one round trip.

Service order: callers, voicemails and callbacks merged by priority, then the caller's place
in the queue (call_waiting_global_order_idx for callers, the `*_waiting_idx` rows for work),
the best CANDIDATES of each locked with SKIP LOCKED so concurrent routers pass each other by.
Candidates are tried in that order (a nested loop over the materialized list, stopped by its
LIMIT at the first one that has an agent) and, for each, the queue's rules pick the agent:

- known agent first (routing.known_agent), resolved at a call's first claim attempt;
- tiers (membership level, lowest first; a queue that widens tiers by escalation only up to
  the level a step widened the call to, else its first level), then the queue's strategy
  (routing.strategies): one LIMIT 1 read per level, on agent_routable_idle_since_idx rows;
- routable, past the reject / no-answer delay (`not_before`), not one who missed this call
  (reservation_call_agent_idx; for work, a miss is forgotten after WORK_MISS_MEMORY), live on
  their dashboard for a voicemail; the agent's row locked FOR NO KEY UPDATE SKIP LOCKED
  (callcenter.locks: inserts that refer to it never wait).

The reservation is inserted ON CONFLICT DO NOTHING: a race the partial unique constraints
catch leaves no row and nothing else is written. The core domain writes the rest of the offer
(callcenter.services.offers). The statement's time (`clock`) is read as it starts executing,
after its snapshot: an offer never predates the end of an agent's previous one it sees.

SQLite, the embedded run's database, has no LATERAL and no data-modifying CTEs: there the
claim is routing.claim_embedded, built from the same fragments.
"""

from datetime import timedelta
from functools import lru_cache

from django.conf import settings

from callcenter.choices import (
    AgentActivity,
    AgentStatus,
    CallStage,
    EscalationAction,
    WorkStatus,
)
from callcenter.rows import execute
from callcenter.services.offers import OFFER_WRITES, OFFERED_COLUMNS, OFFERED_JOINS

from .dialect import POSTGRESQL
from .known_agent import preference_sql, sql_list, waits_sql
from .models import MISSED_STATUSES, OPEN_STATUSES, Reservation, ReservationStatus, WorkKind
from .strategies import ORDER_BY

# How many waiting callers (and of each kind of work) one claim looks at, best first.
CANDIDATES = 20
# How long an agent who missed a voicemail or callback is not offered it again.
WORK_MISS_MEMORY = timedelta(minutes=10)
RESERVATION_COLUMNS = tuple(field.attname for field in Reservation._meta.concrete_fields)

NOW = "(SELECT now FROM clock)"
# Predicate of agent_routable_idle_since_idx (callcenter.querysets.ROUTABLE), as written there.
ROUTABLE = (
    f"ag.status = '{AgentStatus.AVAILABLE}'"
    f" AND ag.activity IN ('{AgentActivity.IDLE}', '{AgentActivity.ON_CALL}')"
    " AND ag.active_calls < ag.max_concurrent_calls"
)
# The agent `ag` may be offered the candidate `cand` now (membership aside).
ELIGIBLE = f"""{ROUTABLE}
    AND (ag.not_before IS NULL OR ag.not_before <= {NOW})
    AND (cand.kind <> '{WorkKind.VOICEMAIL}' OR ag.last_seen_at >= %(presence_since)s)
    AND NOT EXISTS (
        SELECT 1 FROM routing_reservation x
        WHERE x.call_id = cand.call_id AND x.agent_id = ag.id
          AND x.status IN ({sql_list(MISSED_STATUSES)})
          AND (cand.kind = '{WorkKind.CALL}' OR x.ended_at >= %(work_miss_since)s))"""  # noqa: S608
AGENT = "ag.id, ag.status, ag.activity, ag.softphone_identity"

# The known agent, when the preference holds: eligible, and a member of the queue.
PREFERRED = f"""SELECT * FROM (
    SELECT {AGENT} FROM callcenter_agent ag
    WHERE known.holds AND ag.id = known.agent_id AND {ELIGIBLE}
      AND EXISTS (SELECT 1 FROM callcenter_queuemembership m
                  WHERE m.agent_id = ag.id AND m.queue_id = cand.queue_id)
    FOR NO KEY UPDATE OF ag SKIP LOCKED) preferred"""  # noqa: S608 - choices and aliases only
# The levels walked: one (no level) without tiers, else each up to the call's limit.
LEVELS = """
    SELECT NULL::int AS level WHERE NOT route.tiered
    UNION ALL
    (SELECT DISTINCT m.level FROM callcenter_queuemembership m
     WHERE route.tiered AND m.queue_id = cand.queue_id
       AND (route.level_limit IS NULL OR m.level <= route.level_limit)
     ORDER BY m.level)"""
# The best member of level `lv` by the queue's strategy: only its own arm runs (the others
# fail a one-time filter), each ordered as its strategy says.
BY_STRATEGY = " UNION ALL ".join(
    f"""SELECT * FROM (
        SELECT {AGENT} FROM callcenter_agent ag
        JOIN callcenter_queuemembership m ON m.agent_id = ag.id AND m.queue_id = cand.queue_id
        WHERE route.strategy = '{strategy}' AND (lv.level IS NULL OR m.level = lv.level)
          AND {ELIGIBLE}
        ORDER BY {order_by} LIMIT 1 FOR NO KEY UPDATE OF ag SKIP LOCKED) {strategy}"""  # noqa: S608
    for strategy, order_by in ORDER_BY.items()
)


def waiting_call(lock: str) -> str:
    """Waiting callers in service order (call_waiting_global_order_idx), the best first."""
    return f"""
    SELECT CAST('{WorkKind.CALL}' AS varchar) AS kind, 0 AS kind_rank, c.id AS item_id,
           c.id AS call_id, c.queue_id, c.priority, c.enqueued_at,
           c.preferred_agent_until IS NULL AS unresolved
    FROM callcenter_call c
    WHERE c.stage = '{CallStage.WAITING}'
    ORDER BY c.priority DESC, c.enqueued_at, c.id
    LIMIT %(candidates)s{lock}"""  # noqa: S608 - model tables, choices


def waiting_work(kind: str, rank: int, table: str, lock: str, due: str = "") -> str:
    """A kind of waiting work in the callers' order; a call that left both a voicemail and a
    callback has one offered at a time."""
    return f"""
    SELECT CAST('{kind}' AS varchar) AS kind, {rank} AS kind_rank, w.id AS item_id, w.call_id,
           w.queue_id, w.priority, w.enqueued_at, false AS unresolved
    FROM {table} w
    WHERE w.status = '{WorkStatus.WAITING}' {due}
      AND NOT EXISTS (SELECT 1 FROM routing_reservation o
                      WHERE o.call_id = w.call_id AND o.status IN ({sql_list(OPEN_STATUSES)}))
    ORDER BY w.priority DESC, w.enqueued_at, w.id
    LIMIT %(candidates)s{lock}"""  # noqa: S608 - model tables, choices


def waiting(lock: str) -> str:
    """The candidates' CTEs: callers, voicemails and callbacks merged in service order."""
    voicemail = waiting_work(WorkKind.VOICEMAIL, 1, "callcenter_voicemail", lock)
    callback = waiting_work(
        WorkKind.CALLBACK, 2, "callcenter_callbackrequest", lock,
        f"AND (w.retry_at IS NULL OR w.retry_at <= {NOW})",
    )  # fmt: skip
    return f"""waiting_call AS ({waiting_call(lock)}
), waiting_voicemail AS ({voicemail}
), waiting_callback AS ({callback}
), candidate AS MATERIALIZED (
    SELECT row_number() OVER (ORDER BY priority DESC, enqueued_at, kind_rank, item_id) AS place,
           merged.*
    FROM (SELECT * FROM waiting_call UNION ALL SELECT * FROM waiting_voicemail
          UNION ALL SELECT * FROM waiting_callback) merged
    ORDER BY place
)"""  # noqa: S608 - the fragments above


# What each candidate's agent depends on: its call, its queue, whether the queue widens tiers
# by escalation and up to which level.
ROUTE = f"""
    SELECT cl.direction, cl.from_number, cl.to_number, cl.created_at, cl.enqueued_at,
           cl.call_sid, cl.preferred_agent_id, cl.preferred_agent_until,
           q.name AS queue_name, q.strategy, q.ring_timeout_seconds,
           q.use_tiers OR widen.found AS tiered,
           CASE WHEN widen.found THEN coalesce(
               CASE WHEN (SELECT s.queue_id FROM callcenter_escalationstep s
                          WHERE s.id = cl.escalation_step_id) = q.id
                    THEN cl.max_tier_level END,
               (SELECT min(m.level) FROM callcenter_queuemembership m WHERE m.queue_id = q.id)
           ) END AS level_limit
    FROM callcenter_call cl, callcenter_queue q,
         LATERAL (SELECT EXISTS (
             SELECT 1 FROM callcenter_escalationstep s
             WHERE s.queue_id = q.id AND s.action = '{EscalationAction.WIDEN_TIER}'
         ) AS found) widen
    WHERE cl.id = cand.call_id AND q.id = cand.queue_id
    LIMIT 1"""  # noqa: S608 - model tables, choices
# Whom a call prefers (resolved now on its first attempt), and whether that holds now.
KNOWN = f"""
    SELECT pref.agent_id, pref.until,
           cand.kind = '{WorkKind.CALL}' AND pref.agent_id IS NOT NULL
           AND {NOW} < pref.until AS holds
    FROM (
        SELECT route.preferred_agent_id AS agent_id, route.preferred_agent_until AS until
        WHERE NOT cand.unresolved
        UNION ALL
        SELECT * FROM ({preference_sql("route", "cand.queue_id", NOW)}) resolved
        WHERE cand.unresolved
    ) pref
    LIMIT 1"""  # noqa: S608
WAITS = waits_sql("known.agent_id", "cand.queue_id", "cand.call_id")

CLAIM = f"""
WITH clock AS MATERIALIZED (
    SELECT clock_timestamp() AS now
), {waiting(POSTGRESQL.lock)}, pick AS (
    SELECT cand.place, cand.kind, cand.item_id, cand.call_id, cand.queue_id,
           route.call_sid, route.from_number, route.queue_name, route.ring_timeout_seconds,
           known.agent_id AS preferred_agent_id, known.until AS preferred_agent_until,
           agent.id AS agent_id, agent.status AS agent_status, agent.activity AS agent_activity,
           agent.softphone_identity
    FROM candidate cand
    -- Each LATERAL has a LIMIT: a nested loop over the candidates, in their order.
    CROSS JOIN LATERAL ({ROUTE}) route
    CROSS JOIN LATERAL ({KNOWN}) known
    CROSS JOIN LATERAL (SELECT known.holds AND {WAITS} AS waits LIMIT 1) wait
    CROSS JOIN LATERAL (
        SELECT * FROM (
            {PREFERRED}
            UNION ALL
            (SELECT chosen.* FROM ({LEVELS}) lv
             CROSS JOIN LATERAL (SELECT * FROM ({BY_STRATEGY}) arm LIMIT 1) chosen
             WHERE NOT wait.waits
             LIMIT 1)
        ) found
        LIMIT 1
    ) agent
    LIMIT 1
), reservation AS (
    INSERT INTO routing_reservation (call_id, kind, agent_id, queue_id, status, offered_at,
        expires_at, ended_at)
    SELECT call_id, kind, agent_id, queue_id, '{ReservationStatus.OFFERED}', {NOW},
           {NOW} + ring_timeout_seconds * interval '1 second', NULL
    FROM pick
    ON CONFLICT DO NOTHING
    RETURNING *
), resolved AS (
    -- The callers tried before the one offered had their first claim attempt too.
    UPDATE callcenter_call c
    SET (preferred_agent_id, preferred_agent_until) = ({preference_sql("c", "c.queue_id", NOW)})
    FROM candidate cand
    WHERE c.id = cand.call_id AND cand.unresolved
      AND cand.place < coalesce((SELECT place FROM pick), %(candidates)s * 3 + 1)
), offer AS (
    SELECT r.id AS reservation_id, r.kind, p.item_id, r.call_id, r.agent_id, r.offered_at,
           p.ring_timeout_seconds AS ring_timeout, p.agent_status AS from_status,
           p.agent_activity AS from_activity, p.call_sid, p.softphone_identity,
           p.preferred_agent_id, p.preferred_agent_until
    FROM reservation r, pick p
), {OFFER_WRITES}
SELECT {", ".join(f"r.{column}" for column in RESERVATION_COLUMNS)},
       p.queue_name, p.from_number, {OFFERED_COLUMNS}
FROM reservation r JOIN pick p ON true {OFFERED_JOINS}
"""  # noqa: S608 - model tables, choices and the fragments above


def _interval(delta: timedelta) -> str:
    return f"interval '{delta.total_seconds()} seconds'"


def settings_written_in(presence_seconds: int, window_hours: int, wait_seconds: int) -> dict:
    """The claim's settings as the fragments' %(…)s, thresholds as PostgreSQL expressions."""
    window, wait = timedelta(hours=window_hours), timedelta(seconds=wait_seconds)
    return {
        "candidates": str(CANDIDATES),
        "presence_since": f"{NOW} - {_interval(timedelta(seconds=presence_seconds))}",
        "work_miss_since": f"{NOW} - {_interval(WORK_MISS_MEMORY)}",
        "known_since": f"{NOW} - {_interval(window)}",
        "known_wait": str(wait_seconds),
        "known_enabled": "true" if window and wait else "false",
    }


@lru_cache(maxsize=8)
def _statement(presence_seconds: int, window_hours: int, wait_seconds: int) -> str:
    """The claim with these settings written in as constants."""
    return CLAIM % settings_written_in(presence_seconds, window_hours, wait_seconds)


def claim_sql() -> str:
    """The claim statement with the current settings."""
    return _statement(
        settings.PRESENCE_TIMEOUT_SECONDS,
        settings.KNOWN_AGENT_WINDOW_HOURS,
        settings.KNOWN_AGENT_WAIT_SECONDS,
    )


def execute_claim(cursor) -> tuple | None:
    """Run the claim and fetch its row (None: no offer made). It is planned once per
    connection, not per claim (planning it costs several times running it); with the settings
    written in as constants it has no parameters, so that plan serves every run."""
    execute(cursor, claim_sql())
    return cursor.fetchone()
