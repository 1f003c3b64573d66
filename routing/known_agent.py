"""Known-agent routing: a returning caller is offered first to the agent they last spoke with.

Resolved once per call, at its first claim attempt (`Call.preferred_agent`, and until when the
preference holds, `Call.preferred_agent_until`, which also marks the call resolved): the agent
of the caller's latest answered call within KNOWN_AGENT_WINDOW_HOURS (72), when that agent is a
member of the call's queue. For KNOWN_AGENT_WAIT_SECONDS (20) after the caller entered the
queue, the call is offered to that agent only, and waits for them while they are available
but busy (ringing, talking, wrapping up, in a reject delay); it goes to the queue's strategy at
once when they are logged off or away, or already missed this call, and to anyone after it.

The rules are SQL fragments of the claim statement (routing.claim), which applies them; `now`
is the statement's expression for the current time, and the claim fills in the settings
(%(known_since)s: now less the window, %(known_wait)s in seconds, %(known_enabled)s: off when
either is zero).
"""

from callcenter.choices import AgentStatus, CallDirection

from .dialect import POSTGRESQL, Dialect
from .models import MISSED_STATUSES

OUTBOUND = (CallDirection.OUTBOUND_API, CallDirection.OUTBOUND_DIAL)
# KNOWN_AGENT (callcenter.models.calls) in SQL: the known-agent indexes' predicate.
_ANSWERED = "k.parent_id IS NULL AND k.agent_id IS NOT NULL AND k.answered_at IS NOT NULL"


def sql_list(values) -> str:
    """Choices as an SQL list of literals."""
    return ", ".join(f"'{value}'" for value in values)


def preference_sql(call: str, queue_id: str, now: str, dialect: Dialect = POSTGRESQL) -> str:
    """One row (agent_id, until): whom the call aliased `call` prefers in queue `queue_id` and
    until when, resolved now. The agent of the latest call answered with the customer's number
    (call_known_agent_inbound_idx for their calls, call_known_agent_outbound_idx for ours)
    when a member of the queue; none (until now) otherwise."""
    number = (
        f"(CASE WHEN {call}.direction = '{CallDirection.INBOUND}'"
        f" THEN {call}.from_number ELSE {call}.to_number END)"
    )
    since = "%(known_since)s"
    start = f"{dialect.greatest}(coalesce({call}.enqueued_at, {now}), {call}.created_at)"
    return f"""
        SELECT known.agent_id,
               CASE WHEN known.agent_id IS NULL THEN {now}
                    ELSE {dialect.later(start, "%(known_wait)s")} END AS until
        FROM (SELECT (
            SELECT latest.agent_id FROM (
                SELECT * FROM (
                    SELECT k.answered_at, k.agent_id FROM callcenter_call k
                    WHERE {_ANSWERED} AND k.direction = '{CallDirection.INBOUND}'
                      AND k.from_number = {number} AND k.answered_at >= {since}
                    ORDER BY k.answered_at DESC LIMIT 1) inbound
                UNION ALL
                SELECT * FROM (
                    SELECT k.answered_at, k.agent_id FROM callcenter_call k
                    WHERE {_ANSWERED} AND k.direction IN ({sql_list(OUTBOUND)})
                      AND k.to_number = {number} AND k.answered_at >= {since}
                    ORDER BY k.answered_at DESC LIMIT 1) outbound
                ORDER BY 1 DESC, 2 DESC LIMIT 1
            ) latest
            WHERE %(known_enabled)s AND substr({number}, 1, 1) = '+'
              AND EXISTS (SELECT 1 FROM callcenter_queuemembership m
                          WHERE m.queue_id = {queue_id} AND m.agent_id = latest.agent_id)
        ) AS agent_id{dialect.once}) known"""  # noqa: S608 - choices and aliases; once: one lookup


def waits_sql(agent_id: str, queue_id: str, call_id: str) -> str:
    """Whether a call waits for its known agent `agent_id`, who is not free right now: they
    are available (logged in, taking calls) in the queue and have not missed this call."""
    return f"""EXISTS (
        SELECT 1 FROM callcenter_agent p
        JOIN callcenter_queuemembership m ON m.agent_id = p.id AND m.queue_id = {queue_id}
        WHERE p.id = {agent_id} AND p.status = '{AgentStatus.AVAILABLE}'
          AND NOT EXISTS (SELECT 1 FROM routing_reservation x
                          WHERE x.call_id = {call_id} AND x.agent_id = p.id
                            AND x.status IN ({sql_list(MISSED_STATUSES)})))"""  # noqa: S608
