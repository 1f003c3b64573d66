"""The claim on SQLite, the embedded run's database: the same choice as routing.claim, from the
same fragments, answering the same row.

SQLite has no LATERAL, no data-modifying CTEs and no row locks, and needs no locks: its one
writer at a time (the claim's transaction begins IMMEDIATE) serializes claims. So the pick is
one SELECT in which each candidate's agent is a correlated subquery (every candidate is looked
at, not only those before the first that has an agent: the embedded run has few), tiers are
walked by ordering the members by level before the queue's strategy, and the offer's writes
(callcenter.services.offers) run one after the other, as its steps.
"""

from datetime import timedelta
from functools import lru_cache

from django.conf import settings
from django.db import connection
from django.utils import timezone

from callcenter.choices import EscalationAction
from callcenter.services.offers import offer_statements

from .claim import (
    ELIGIBLE,
    NOW,
    RESERVATION_COLUMNS,
    WORK_MISS_MEMORY,
    settings_written_in,
    waiting,
)
from .dialect import SQLITE, register_sqlite_functions
from .known_agent import preference_sql, waits_sql
from .models import ReservationStatus, WorkKind
from .strategies import ORDER_BY

# The pick's columns, in order.
_KIND, _ITEM, _CALL, _QUEUE, _UNRESOLVED, _CALL_SID, _FROM, _QUEUE_NAME, _RING = range(1, 10)
_KNOWN_AGENT, _KNOWN_UNTIL, _AGENT, _AGENT_STATUS, _AGENT_ACTIVITY, _IDENTITY = range(10, 16)

_PREFERENCE = preference_sql("cl", "cand.queue_id", NOW, SQLITE)
_WAITS = waits_sql("cand.known_agent_id", "cand.queue_id", "cand.call_id")
# The best member by the queue's strategy, of the first tier level that has one: only the arm
# of the candidate's strategy finds anyone.
_BY_STRATEGY = " UNION ALL ".join(
    f"""SELECT * FROM (
        SELECT ag.id, CASE WHEN cand.tiered THEN m.level END AS tier
        FROM callcenter_agent ag
        JOIN callcenter_queuemembership m ON m.agent_id = ag.id AND m.queue_id = cand.queue_id
        WHERE cand.strategy = '{strategy}'
          AND (NOT cand.tiered OR cand.level_limit IS NULL OR m.level <= cand.level_limit)
          AND {ELIGIBLE}
        ORDER BY tier, {order_by} LIMIT 1)"""  # noqa: S608 - an ORDER BY cannot name `cand`
    for strategy, order_by in ORDER_BY.items()
)
PICK = f"""
WITH clock AS MATERIALIZED (
    SELECT %%s AS now, %%s AS presence_since, %%s AS work_miss_since, %%s AS known_since
), {waiting(SQLITE.lock)}, widening AS (
    SELECT cand.*, EXISTS (
        SELECT 1 FROM callcenter_escalationstep s
        WHERE s.queue_id = cand.queue_id AND s.action = '{EscalationAction.WIDEN_TIER}'
    ) AS widens
    FROM candidate cand
), route AS (
    SELECT cand.place, cand.kind, cand.item_id, cand.call_id, cand.queue_id, cand.unresolved,
           cl.call_sid, cl.from_number, q.name AS queue_name, q.ring_timeout_seconds,
           q.strategy, q.use_tiers OR cand.widens AS tiered,
           CASE WHEN cand.widens THEN coalesce(
               CASE WHEN (SELECT s.queue_id FROM callcenter_escalationstep s
                          WHERE s.id = cl.escalation_step_id) = q.id
                    THEN cl.max_tier_level END,
               (SELECT min(m.level) FROM callcenter_queuemembership m WHERE m.queue_id = q.id)
           ) END AS level_limit,
           CASE WHEN cand.unresolved THEN (SELECT agent_id FROM ({_PREFERENCE}))
                ELSE cl.preferred_agent_id END AS known_agent_id,
           CASE WHEN cand.unresolved THEN (SELECT until FROM ({_PREFERENCE}))
                ELSE cl.preferred_agent_until END AS known_until
    FROM widening cand
    JOIN callcenter_call cl ON cl.id = cand.call_id
    JOIN callcenter_queue q ON q.id = cand.queue_id
), known AS (
    SELECT route.*, route.kind = '{WorkKind.CALL}' AND route.known_agent_id IS NOT NULL
                    AND {NOW} < route.known_until AS holds
    FROM route
), chosen AS (
    SELECT cand.*, coalesce(
        (SELECT ag.id FROM callcenter_agent ag
         WHERE cand.holds AND ag.id = cand.known_agent_id AND {ELIGIBLE}
           AND EXISTS (SELECT 1 FROM callcenter_queuemembership m
                       WHERE m.agent_id = ag.id AND m.queue_id = cand.queue_id)),
        CASE WHEN NOT (cand.holds AND {_WAITS}) THEN (SELECT id FROM ({_BY_STRATEGY}) LIMIT 1) END
    ) AS agent_id
    FROM known cand
)
SELECT cand.place, cand.kind, cand.item_id, cand.call_id, cand.queue_id, cand.unresolved,
       cand.call_sid, cand.from_number, cand.queue_name, cand.ring_timeout_seconds,
       cand.known_agent_id, cand.known_until,
       ag.id, ag.status, ag.activity, ag.softphone_identity
FROM chosen cand LEFT JOIN callcenter_agent ag ON ag.id = cand.agent_id
ORDER BY cand.place"""  # noqa: S608 - model tables, choices and the fragments above

_RESERVE = f"""
INSERT INTO routing_reservation (call_id, kind, agent_id, queue_id, status, offered_at,
    expires_at, ended_at)
VALUES (%s, %s, %s, %s, '{ReservationStatus.OFFERED}', %s, %s, NULL)
ON CONFLICT DO NOTHING
RETURNING {", ".join(RESERVATION_COLUMNS)}"""  # noqa: S608 - model table, choices
_RESOLVE = (
    "UPDATE callcenter_call SET preferred_agent_id = %s, preferred_agent_until = %s WHERE id = %s"
)


@lru_cache(maxsize=8)
def _pick_sql(presence_seconds: int, window_hours: int, wait_seconds: int) -> str:
    written = settings_written_in(presence_seconds, window_hours, wait_seconds)
    # The thresholds are the clock's, computed by the caller.
    for name in ("presence_since", "work_miss_since", "known_since"):
        written[name] = f"(SELECT {name} FROM clock)"  # noqa: S608 - the names above
    return PICK % written


def execute_claim(cursor) -> tuple | None:
    """routing.claim.execute_claim on SQLite: the same row, or None."""
    register_sqlite_functions()
    now = timezone.now()
    text = connection.ops.adapt_datetimefield_value

    def since(delta: timedelta) -> str:
        return text(now - delta)

    cursor.execute(
        _pick_sql(
            settings.PRESENCE_TIMEOUT_SECONDS,
            settings.KNOWN_AGENT_WINDOW_HOURS,
            settings.KNOWN_AGENT_WAIT_SECONDS,
        ),
        [
            text(now),
            since(timedelta(seconds=settings.PRESENCE_TIMEOUT_SECONDS)),
            since(WORK_MISS_MEMORY),
            since(timedelta(hours=settings.KNOWN_AGENT_WINDOW_HOURS)),
        ],
    )
    candidates = cursor.fetchall()
    pick = next((row for row in candidates if row[_AGENT] is not None), None)
    # The callers tried before the one offered had their first claim attempt too.
    tried = candidates[: candidates.index(pick)] if pick else candidates
    resolved = [row for row in tried if row[_UNRESOLVED]]
    if resolved:
        cursor.executemany(
            _RESOLVE, [(row[_KNOWN_AGENT], row[_KNOWN_UNTIL], row[_CALL]) for row in resolved]
        )
    if pick is None:
        return None
    offered_at = text(now)
    cursor.execute(
        _RESERVE,
        [pick[_CALL], pick[_KIND], pick[_AGENT], pick[_QUEUE], offered_at,
         text(now + timedelta(seconds=pick[_RING]))],
    )  # fmt: skip
    reservation = cursor.fetchone()
    if reservation is None:
        return None
    offer = [
        reservation[RESERVATION_COLUMNS.index("id")], pick[_KIND], pick[_ITEM], pick[_CALL],
        pick[_AGENT], offered_at, pick[_RING], pick[_AGENT_STATUS], pick[_AGENT_ACTIVITY],
        pick[_CALL_SID], pick[_IDENTITY], pick[_KNOWN_AGENT], pick[_KNOWN_UNTIL],
    ]  # fmt: skip
    offered = []
    for statement, width in offer_statements():
        cursor.execute(statement, offer)
        row = cursor.fetchone() if width else None
        offered += row if row is not None else [None] * width
    return (*reservation, pick[_QUEUE_NAME], pick[_FROM], *offered)
