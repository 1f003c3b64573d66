"""Routing claims: latency of one claim at 100 and at 100,000 agents, the ORM claim against the
same claim as one hand-written SQL statement, and assignments per second with 1, 4 and 8
concurrent routers.

Every arm runs routing.services.routing_claim_next itself (the claim statement of
routing.claim, then the offer's event). The latency arms roll each claim back: no on_commit
hook fires (so no Celery task and no Twilio request), and every repetition sees the same data.
The concurrency arm commits real claims with the ring's task (telephony) stubbed out.
"""

from __future__ import annotations

import statistics
import threading
import time
from unittest import mock

from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import Count, F
from django.test.utils import CaptureQueriesContext

from bench import datagen
from callcenter.models import Agent, Call
from routing.claim import execute_claim
from routing.models import OPEN_STATUSES, Reservation
from routing.services import routing_claim_next

NAME = "routing_claims"
SMALL_AGENTS, FULL_AGENTS = 100, 100_000
QUEUES, WAITING, CALLS_PER_AGENT = 20, 200, 10
LATENCY_SAMPLES = 300
ROUTERS, ROUNDS = (1, 4, 8), 3
SNAPSHOT = "bench_routing_claims_agents"

# The same claim in one statement: the best waiting call, the longest-idle routable member of
# its queue who has not missed it, the reservation, the agent and the call.
CLAIM_SQL = """
WITH c AS (
    SELECT id, queue_id FROM {call}
    WHERE stage = 'waiting'
    ORDER BY priority DESC, enqueued_at, id
    LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED
), a AS (
    SELECT ag.id FROM {agent} ag
    JOIN {membership} m ON m.agent_id = ag.id
    JOIN c ON m.queue_id = c.queue_id
    WHERE ag.status = 'available' AND ag.activity IN ('idle', 'on_call')
      AND ag.active_calls < ag.max_concurrent_calls
      AND NOT EXISTS (
          SELECT 1 FROM {reservation} r
          WHERE r.call_id = c.id AND r.agent_id = ag.id AND r.status IN ('rejected', 'timed_out'))
    ORDER BY ag.idle_since, ag.id
    LIMIT 1 FOR NO KEY UPDATE OF ag SKIP LOCKED
), r AS (
    INSERT INTO {reservation} (call_id, kind, agent_id, queue_id, status, offered_at, expires_at)
    SELECT c.id, 'call', a.id, c.queue_id, 'offered', now(),
           now() + q.ring_timeout_seconds * interval '1 second'
    FROM c, a, {queue} q WHERE q.id = c.queue_id
    RETURNING id, call_id, agent_id
), ua AS (
    UPDATE {agent} SET active_calls = active_calls + 1, activity = 'offered',
        activity_changed_at = now(), last_offered_at = now(), wrap_up_until = NULL
    FROM r WHERE {agent}.id = r.agent_id
    RETURNING {agent}.id
), uc AS (
    UPDATE {call} SET stage = 'offered' FROM r WHERE {call}.id = r.call_id
    RETURNING {call}.id
)
SELECT r.call_id, r.agent_id FROM r
"""


def run(ctx) -> list[dict]:
    rows = []
    small = _world(ctx, SMALL_AGENTS)
    small_ms = _latencies(ctx, _claim_orm_rolled_back, LATENCY_SAMPLES)
    rows += _latency_rows("small", small, small_ms)
    ctx.log(f"{NAME}: flushing the {SMALL_AGENTS}-agent world")
    call_command("flush", interactive=False, verbosity=0)
    big_agents = max(SMALL_AGENTS, round(FULL_AGENTS * ctx.scale))
    big = _world(ctx, big_agents)
    big_ms = _latencies(ctx, _claim_orm_rolled_back, LATENCY_SAMPLES)
    rows += _latency_rows("large", big, big_ms)
    rows.insert(0, _row(
        "latency.p50_ratio", statistics.median(big_ms) / statistics.median(small_ms), "x",
        f"p50 at {big_agents:,} agents / p50 at {SMALL_AGENTS} agents (target <= 1.5); "
        "sequential worlds (flush between), claim rolled back"))  # fmt: skip
    rows += _orm_vs_sql(ctx)
    rows += _concurrency(ctx)
    return rows


def _world(ctx, agents: int) -> str:
    sizes = {"agents": agents, "queues": QUEUES, "calls": agents * CALLS_PER_AGENT}
    ctx.log(f"{NAME}: generating {sizes}, {WAITING} waiting")
    made = datagen.generate(ctx.connection, **sizes, waiting=WAITING, seed=1)
    routable = Agent.objects.routable().count()
    ctx.log(f"{NAME}: generated {made['rows']:,} rows in {made['seconds']}s; {routable} routable")
    return (f"{agents:,} agents ({routable:,} routable), {QUEUES} queues, {WAITING} waiting, "
            f"{made['calls'] + made['live_calls']:,} calls")  # fmt: skip


# --- claims ---------------------------------------------------------------------------------


def _claim_orm_rolled_back():
    """routing_claim_next itself (callers and waiting work, known agent, the ring request's
    Operation and the offer's event), inside a transaction rolled back: on_commit hooks (the
    ring request) never fire."""
    with transaction.atomic():
        try:
            reservation = routing_claim_next()
            return (reservation.call_id, reservation.agent_id) if reservation else None
        finally:
            transaction.set_rollback(True)


def _claim_statement_rolled_back():
    """routing_claim_next's statement alone, rolled back (for where the claim's time goes)."""
    with transaction.atomic(), connection.cursor() as cur:
        try:
            found = execute_claim(cur)
        finally:
            transaction.set_rollback(True)
    return found


def _claim_sql_rolled_back():
    with transaction.atomic(), connection.cursor() as cur:
        try:
            cur.execute(_claim_sql())
            found = cur.fetchone()
        finally:
            transaction.set_rollback(True)
    return tuple(found) if found else None


def _claim_sql() -> str:
    from callcenter.models import Queue, QueueMembership

    tables = {"call": Call, "agent": Agent, "membership": QueueMembership, "queue": Queue,
              "reservation": Reservation}  # fmt: skip
    return CLAIM_SQL.format(**{k: m._meta.db_table for k, m in tables.items()})


def _claim_committed() -> bool:
    """routing_claim_next committed; whether it made an offer (a lost race is no offer)."""
    return routing_claim_next() is not None


# --- 1. latency -----------------------------------------------------------------------------


def _latencies(ctx, claim, samples: int) -> list[float]:
    """Milliseconds of `samples` claims (after a few untimed ones)."""
    for _ in range(5):
        if claim() is None:
            raise AssertionError("no claim possible on the generated data")
    out = []
    for _ in range(samples):
        start = time.perf_counter()
        claim()
        out.append((time.perf_counter() - start) * 1000)
    return out


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def _latency_rows(label: str, world: str, ms: list[float]) -> list[dict]:
    note = f"{world}; {len(ms)} claims, each rolled back"
    return [
        _row(f"latency.{label}.p50_ms", statistics.median(ms), "ms", note),
        _row(f"latency.{label}.p99_ms", _p99(ms), "ms", note),
    ]


# --- 2. ORM vs SQL --------------------------------------------------------------------------


def _orm_vs_sql(ctx) -> list[dict]:
    ctx.log(f"{NAME}: ORM vs SQL")
    with CaptureQueriesContext(connection) as queries:
        orm_pair = _claim_orm_rolled_back()
    sql_pair = _claim_sql_rolled_back()
    call = Call.objects.select_related("queue").get(pk=orm_pair[0])
    orm_ms, sql_ms, statement_ms = [], [], []
    for _ in range(LATENCY_SAMPLES // 50):  # interleaved blocks: drift hits the arms alike
        orm_ms += _latencies(ctx, _claim_orm_rolled_back, 50)
        sql_ms += _latencies(ctx, _claim_sql_rolled_back, 50)
        statement_ms += _latencies(ctx, _claim_statement_rolled_back, 50)
    orm, sql = statistics.median(orm_ms), statistics.median(sql_ms)
    statement = statistics.median(statement_ms)
    pairs = f"ORM claims call/agent {orm_pair}, SQL {sql_pair}"
    return [
        _row("orm_vs_sql.ratio", orm / sql, "x",
             "p50 ORM claim / p50 one-statement CTE (target <= 1.5); same data, both rolled "
             "back; the ORM also writes the agent audit row and the telephony Operation"),
        _row("orm_vs_sql.orm_p50_ms", orm, "ms",
             f"p99 {_p99(orm_ms):.2f} ms; {len(queries)} statements per claim incl. "
             "BEGIN/ROLLBACK/savepoints", sql=[q["sql"] for q in queries.captured_queries]),
        _row("orm_vs_sql.sql_p50_ms", sql, "ms", f"p99 {_p99(sql_ms):.2f} ms"),
        _row("orm_vs_sql.claim_statement_p50_ms", statement, "ms",
             f"{statement / sql:.2f}x the CTE; the claim's own statement alone (routing.claim), "
             "without the offer's event-log write (realtime) and notifications"),
        _row("orm_vs_sql.same_pair", orm_pair == sql_pair, "bool",
             f"{pairs}; queue strategy {call.queue.strategy}, tiers {call.queue.use_tiers} "
             "(the SQL orders by idle_since only)"),
    ]  # fmt: skip


# --- 3. concurrent routers ------------------------------------------------------------------


def _concurrency(ctx) -> list[dict]:
    waiting_ids = list(Call.objects.waiting().values_list("pk", flat=True))
    agent_table = Agent._meta.db_table
    with ctx.connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {SNAPSHOT}")
        cur.execute(
            f"CREATE TABLE {SNAPSHOT} AS SELECT id, activity, activity_changed_at, active_calls,"
            f" last_offered_at, wrap_up_until FROM {agent_table}"
            " WHERE status = 'available' AND activity IN ('idle', 'on_call')"
        )
    results: dict[int, list[dict]] = {n: [] for n in ROUTERS}
    try:
        for round_no in range(ROUNDS):
            for routers in ROUTERS:
                _reset(waiting_ids)
                outcome = _routers(routers)
                outcome["double"] = _double_booked()
                outcome["over_capacity"] = _over_capacity()
                ctx.log(f"{NAME}: round {round_no + 1}, {routers} routers: {outcome}")
                results[routers].append(outcome)
    finally:
        _reset(waiting_ids)
        with ctx.connection.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {SNAPSHOT}")
    rows = []
    base = statistics.median(r["rps"] for r in results[1])
    for routers, runs in results.items():
        rps = statistics.median(r["rps"] for r in runs)
        claimed = sorted({r["claimed"] for r in runs})
        rows.append(_row(
            f"concurrency.{routers}_routers.assignments_per_second", rps, "1/s",
            f"median of {ROUNDS} rounds; {rps / base:.2f}x 1 router; claimed {claimed} of "
            f"{len(waiting_ids)} per round; ring request excluded"))  # fmt: skip
    double = sum(r["double"] for runs in results.values() for r in runs)
    over = sum(r["over_capacity"] for runs in results.values() for r in runs)
    rows.append(_row("concurrency.calls_with_two_open_reservations", double, "calls",
                     "summed over every round and router count (must be 0)"))  # fmt: skip
    rows.append(_row("concurrency.agents_over_capacity", over, "agents",
                     "active_calls > capacity after each round (must be 0)"))  # fmt: skip
    return rows


def _routers(count: int) -> dict:
    barrier = threading.Barrier(count + 1)
    tallies = [{"claimed": 0} for _ in range(count)]
    errors: list[BaseException] = []

    def router(tally: dict) -> None:
        try:
            connection.ensure_connection()
            barrier.wait()
            while _claim_committed():
                tally["claimed"] += 1
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=router, args=(t,)) for t in tallies]
    # The ring request (a Celery task, eager here: a Twilio request) is not what is measured.
    with mock.patch("telephony.tasks.telephony_operation_task"):
        for thread in threads:
            thread.start()
        barrier.wait()
        start = time.perf_counter()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - start
    if errors:
        raise errors[0]
    claimed = sum(t["claimed"] for t in tallies)
    return {"claimed": claimed, "seconds": round(seconds, 3), "rps": claimed / seconds}


def _reset(waiting_ids: list[int]) -> None:
    """Back to the generated state: no reservations, the agents and the calls as they were
    (known agent not yet resolved)."""
    agent, call = Agent._meta.db_table, Call._meta.db_table
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            f"UPDATE {agent} a SET activity = s.activity, active_calls = s.active_calls,"
            " activity_changed_at = s.activity_changed_at, last_offered_at = s.last_offered_at,"
            f" wrap_up_until = s.wrap_up_until FROM {SNAPSHOT} s WHERE a.id = s.id"
            f" AND a.id IN (SELECT agent_id FROM {Reservation._meta.db_table})"
        )
        cur.execute(f"DELETE FROM {Reservation._meta.db_table}")
        cur.execute(
            f"UPDATE {call} SET stage = 'waiting', preferred_agent_id = NULL,"
            " preferred_agent_until = NULL WHERE id = ANY(%s)",
            [waiting_ids],
        )


def _double_booked() -> int:
    return (
        Reservation.objects.filter(status__in=OPEN_STATUSES)
        .values("call")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )


def _over_capacity() -> int:
    return Agent.objects.filter(active_calls__gt=F("max_concurrent_calls")).count()


def _row(metric: str, value, unit: str, note: str = "", **extra) -> dict:
    value = round(value, 4) if isinstance(value, float) else value
    return {"benchmark": NAME, "metric": metric, "value": value, "unit": unit, "note": note,
            **extra}  # fmt: skip
