"""Analytics: the full recompute of the call history beside a plain count(*) of the same table
and beside the work no recompute can skip (reading the callbacks, writing its rows: the
floor), the one-minute incremental rollup under steady traffic, and a 90-day report at
10,000 and at 1,000,000 calls (all times `--scale`; the small history is never above 10,000).

Two worlds side by side in one database, each of 200 queues (times `--scale`), sharing 2,000
agents: datagen's ended calls over 90 days with the callbacks the facts are derived from
(about five per call, `_append_callbacks`), the small history in one world and the large in
the other. Measured in order: the small history's recompute; then, with the large history
appended, count(*), the recompute of everything in its two halves (facts, then rollups), the
floor, and the two worlds' reports interleaved; then ten simulated minutes of traffic, each
followed by the rollup the beat would run.
"""

from __future__ import annotations

import itertools
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection, transaction
from rest_framework.test import APIClient

from analytics import dialect as analytics_dialect
from analytics import services
from analytics.bulk import indexes_built_after
from analytics.models import (
    AgentInterval,
    MissedOfferFact,
    QueueDay,
    QueueEntryFact,
    QueueInterval,
    RollupState,
)
from analytics.selectors import interval_report, queue_report
from bench import datagen
from bench.bench_dashboard_snapshot import _append_calls
from callcenter.choices import CallDirection, CallOutcome, CallStage, CallStatus
from callcenter.models import Agent, AgentStatusEvent, Call, CallEvent, Queue

NAME = "analytics"
SMALL_HISTORY, LARGE_HISTORY = 10_000, 1_000_000
FULL_SCALE = {"queues": 200, "agents": 2_000}
DAYS = 90
REPEAT = 15
TRAFFIC_MINUTES, CALLS_PER_MINUTE, AGENT_CHANGES_PER_MINUTE = 10, 30, 40


def _row(metric, value, unit, note="", **extra) -> dict:
    return {"benchmark": NAME, "metric": metric, "value": round(value, 3), "unit": unit,
            "note": note, **extra}  # fmt: skip


def run(ctx) -> list[dict]:
    queues = max(10, round(FULL_SCALE["queues"] * ctx.scale))
    agents = max(50, round(FULL_SCALE["agents"] * ctx.scale))
    small = max(1_000, round(SMALL_HISTORY * min(ctx.scale, 1.0)))
    large = max(small, round(LARGE_HISTORY * ctx.scale))
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    history_end = int((now - timedelta(hours=1)).timestamp())
    call_command("flush", interactive=False, verbosity=0)
    datagen.generate(ctx.connection, agents=agents, queues=2 * queues, calls=0, waiting=0,
                     now=now, seed=1)  # fmt: skip
    # Two worlds of `queues` queues each, alike in datagen's regions and popularity: the
    # small history in the queues of even rank, the large one in the others.
    ranked = list(Queue.objects.order_by("id").values_list("id", flat=True))
    worlds = {"small": ranked[0::2], "large": ranked[1::2]}
    ctx.log(f"{NAME}: 2 x {queues} queues, {agents:,} agents; {small:,} calls over {DAYS} days")
    _append_callbacks(*_append_calls(small, days=DAYS, now=history_end, stage="analytics small",
                                     queue_ids=worlds["small"]))  # fmt: skip
    rows: list[dict] = []

    first = (now - timedelta(days=DAYS + 2)).date()
    last = now.date()
    recompute_small = _timed(lambda: services.rollup_recompute(begin=first, end=last, now=now))
    rows.append(_row("recompute.small_seconds", recompute_small, "s", f"{small:,} calls"))

    ctx.log(f"{NAME}: appending {large:,} calls")
    _append_callbacks(*_append_calls(large, days=DAYS, now=history_end, stage="analytics large",
                                     queue_ids=worlds["large"]))  # fmt: skip
    total, callbacks = Call.objects.count(), CallEvent.objects.count()
    count_s = _count_scan(ctx)
    ctx.log(f"{NAME}: full recompute of {total:,} calls")
    start = time.perf_counter()
    with transaction.atomic():
        services.recompute_facts(None, None, now=now)
    facts_s = time.perf_counter() - start
    start = time.perf_counter()
    with transaction.atomic():
        services.recompute_rollups(None, None, now=now)
    rollups_s = time.perf_counter() - start
    facts = QueueEntryFact.objects.count()
    intervals, days = QueueInterval.objects.count(), QueueDay.objects.count()
    fact_count_s = _count_scan(ctx, QueueEntryFact._meta.db_table)
    floor_s = _floor_seconds()
    full = facts_s + rollups_s
    rows += [
        _row("recompute.seconds", full, "s",
             f"{total:,} calls ({callbacks:,} callbacks) -> {facts:,} facts, "
             f"{intervals:,} intervals, {days:,} days (target <= 10 s)"),
        _row("recompute.facts_seconds", facts_s, "s", "facts derived from calls and events"),
        _row("recompute.rollups_seconds", rollups_s, "s", "15-min and daily rows from facts"),
        _row("count_scan.calls_ms", count_s * 1000, "ms", f"SELECT count(*) of {total:,} calls"),
        _row("count_scan.facts_ms", fact_count_s * 1000, "ms", f"count(*) of {facts:,} facts"),
        _row("recompute.over_count_scan", full / count_s, "x", "full recompute / count(*) scan"),
        _row("floor.seconds", floor_s, "s", "the callbacks read grouped per call, nothing derived,"
             " and the recompute's rows written again into its emptied tables"),
        _row("recompute.over_floor", full / floor_s, "x", "full recompute / floor"),
        _row("rollups.over_fact_count_scan", rollups_s / fact_count_s, "x",
             "rollups from facts / count(*) of the facts"),
    ]  # fmt: skip
    report = _report_samples(now, worlds)
    rows_small, rows_large = report["small"].pop("rows"), report["large"].pop("rows")
    rows.append(_row("report.rows_read.ratio", rows_large / rows_small, "x",
                     f"daily rows a 90-day report reads: {rows_large:,} vs {rows_small:,}"
                     " (the work itself, which the machine's load does not blur)"))  # fmt: skip
    for key in report["small"]:
        a, b = statistics.median(report["small"][key]), statistics.median(report["large"][key])
        rows.append(_row(f"report.{key}.ratio", b / a, "x",
                         f"90 days, {large:,} / {small:,} calls (target <= 1.2); "
                         f"{a * 1000:.1f} ms vs {b * 1000:.1f} ms"))  # fmt: skip
        rows.append(_row(f"report.{key}.small_ms", a * 1000, "ms"))
        rows.append(_row(f"report.{key}.large_ms", b * 1000, "ms"))
    rows += _incremental(ctx, now)
    return rows


def _append_callbacks(first: int, last: int) -> None:
    """The callbacks Twilio sends for datagen's ended calls [first, last], as the webhooks
    store them: the final status; the <Enqueue> action (bridged or hangup, QueueTime, our
    queue); for an answered call, its conference's joins and leaves of the customer and of
    the agent's leg (labelled with the agent's identity). The facts are derived from these,
    so a recompute reads what production's would (about five per call)."""
    conference = ("jsonb_build_object('CallSid', {sid}, 'StatusCallbackEvent', '{what}',"
                  " 'ConferenceSid', 'CF' || c.call_sid{label})")  # fmt: skip
    agent_label = ", 'ParticipantLabel', 'agent:' || a.softphone_identity"
    legs = [(3, "c.call_sid", "participant-join", "", "c.answered_at"),
            (4, "'CL' || c.call_sid", "participant-join", agent_label, "c.answered_at"),
            (5, "c.call_sid", "participant-leave", "", "c.ended_at"),
            (6, "'CL' || c.call_sid", "participant-leave", agent_label, "c.ended_at")]  # fmt: skip
    conference_rows = ", ".join(
        f"({n}, 'conference', {conference.format(sid=sid, what=what, label=label)},"
        f" jsonb_build_object('for', c.call_sid), {at})"
        for n, sid, what, label, at in legs
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")  # as datagen: no FK triggers
        cursor.execute(
            f"INSERT INTO {CallEvent._meta.db_table} (dedup_key, call_id, call_sid, source, kind,"
            " payload, context, twilio_timestamp, received_at)"
            " SELECT c.call_sid || ':' || k.kind || ':' || k.n, c.id, c.call_sid, k.kind, k.kind,"
            " k.payload, k.context, k.at, k.at"
            f" FROM {Call._meta.db_table} c"
            f" LEFT JOIN {Agent._meta.db_table} a ON a.id = c.agent_id"
            " CROSS JOIN LATERAL (VALUES"
            " (1, 'status', jsonb_build_object('CallSid', c.call_sid, 'CallStatus', 'completed'),"
            "  '{}'::jsonb, c.ended_at),"
            " (2, 'enqueue-action', jsonb_build_object('CallSid', c.call_sid, 'QueueResult',"
            "  CASE WHEN c.answered_at IS NULL THEN 'hangup' ELSE 'bridged' END,"
            "  'QueueTime', c.wait_seconds::text), jsonb_build_object('queue', c.queue_id),"
            f"  coalesce(c.answered_at, c.ended_at)), {conference_rows}"
            " ) AS k(n, kind, payload, context, at)"
            " WHERE c.id BETWEEN %s AND %s AND c.ended_at IS NOT NULL AND c.queue_id IS NOT NULL"
            "  AND (k.n <= 2 OR (c.answered_at IS NOT NULL AND a.id IS NOT NULL))",
            [first, last],
        )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {CallEvent._meta.db_table}")


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _count_scan(ctx, table: str = Call._meta.db_table) -> float:
    def scan():
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {table}")
            cursor.fetchone()

    return ctx.timeit(scan, repeat=5)


def _floor_seconds() -> float:
    """What no recompute can skip, timed on the same data in a transaction rolled back: the
    relevant callbacks read grouped per call (the shape pass's GROUP BY with no aggregate), and
    the rows the recompute wrote written again into its emptied tables, indexes built after
    as the recompute builds them (the rows copied aside first, untimed)."""
    rebuilt = (QueueEntryFact, MissedOfferFact, QueueInterval, AgentInterval)
    tables = [model._meta.db_table for model in (*rebuilt, QueueDay)]
    grouped = (
        f"SELECT count(*) FROM (SELECT e.call_id FROM {CallEvent._meta.db_table} e"
        " WHERE e.kind IN ('transfer', 'enqueue-action', 'conference') GROUP BY e.call_id) g"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"CREATE TEMP TABLE floor_{table} AS SELECT * FROM {table}")
        start = time.perf_counter()
        analytics_dialect.prepare()
        with analytics_dialect.sorted_groups():
            cursor.execute(grouped)
        with indexes_built_after(*rebuilt):
            for table in tables:
                cursor.execute(f"TRUNCATE {table}")
                cursor.execute(f"INSERT INTO {table} SELECT * FROM floor_{table}")
        elapsed = time.perf_counter() - start
        transaction.set_rollback(True)
    return elapsed


def _report_samples(now: datetime, worlds: dict[str, list[int]]) -> dict[str, dict]:
    """90-day reports of every queue of each world: the selectors, and the API as an admin
    would call it; the worlds' samples interleaved, so drift in the machine's load hits both
    alike. {world: {arm: [seconds], "rows": day rows read}}."""
    first, last = (now - timedelta(days=DAYS)).date(), now.date()
    admin, _ = get_user_model().objects.get_or_create(
        username="bench-analytics-admin", defaults={"is_superuser": True}
    )
    client = APIClient(SERVER_NAME="localhost")  # one of settings.local's ALLOWED_HOSTS
    client.force_authenticate(admin)
    period = {"date_from": first.isoformat(), "date_to": last.isoformat()}

    def arms(queue_ids: list[int]) -> dict:
        queues = list(Queue.objects.filter(id__in=queue_ids).order_by("name"))
        params = {**period, "queue": ",".join(map(str, queue_ids))}
        return {
            "queues_selector": lambda: queue_report(queues, first, last),
            "intervals_day_selector": lambda: interval_report(queues, first, last, "day"),
            "queues_api": lambda: _ok(client.get("/api/v1/reports/queues/", params)),
            "intervals_week_api": lambda: _ok(client.get("/api/v1/reports/intervals/",
                                                         {**params, "granularity": "week"})),
        }  # fmt: skip

    by_world = {world: arms(ids) for world, ids in worlds.items()}
    samples: dict[str, dict] = {world: {key: [] for key in by_world[world]} for world in worlds}
    for world, ids in worlds.items():
        days = QueueDay.objects.filter(queue_id__in=ids, local_date__gte=first,
                                       local_date__lte=last)  # fmt: skip
        samples[world]["rows"] = days.count()
        for fn in by_world[world].values():
            fn()  # warm-up
    for _ in range(REPEAT):
        for key in by_world["small"]:
            for world in worlds:
                samples[world][key].append(_timed(by_world[world][key]))
    return samples


def _ok(response):
    if response.status_code != 200:
        raise RuntimeError(f"report answered {response.status_code}: {response.content[:200]}")
    return response


def _incremental(ctx, now: datetime) -> list[dict]:
    """Ten minutes of steady traffic (CALLS_PER_MINUTE ended calls with their callbacks,
    AGENT_CHANGES_PER_MINUTE status changes), each minute followed by the rollup."""
    rng = random.Random(7)
    queues = list(Queue.objects.values_list("id", flat=True))
    agent_ids = list(Agent.objects.values_list("id", flat=True))
    states = dict.fromkeys(agent_ids, ("offline", "idle"))
    clock = now + timedelta(minutes=1)
    RollupState.objects.update_or_create(
        id=1, defaults={"call_events_until": clock, "agent_events_until": clock}
    )
    sids = itertools.count(10**9)
    samples = []
    for minute in range(TRAFFIC_MINUTES):
        begin = clock
        clock = begin + timedelta(minutes=1)
        _traffic_minute(rng, begin, queues, agent_ids, states, sids)
        samples.append(_timed(lambda cut=clock: services.rollup_run(now=cut)))
        ctx.log(f"{NAME}: minute {minute + 1}: rollup {samples[-1] * 1000:.0f} ms")
    return [
        _row("incremental.p50_ms", statistics.median(samples) * 1000, "ms",
             f"{CALLS_PER_MINUTE} calls and {AGENT_CHANGES_PER_MINUTE} agent changes a minute "
             "(target <= 200 ms)"),
        _row("incremental.max_ms", max(samples) * 1000, "ms", f"{TRAFFIC_MINUTES} minutes"),
    ]  # fmt: skip


def _traffic_minute(rng, begin: datetime, queues, agent_ids, states, sids) -> None:
    calls = []
    for _ in range(CALLS_PER_MINUTE):
        end = begin + timedelta(seconds=rng.uniform(0, 59))
        wait, talk = rng.randint(0, 90), rng.randint(30, 400)
        answered = rng.random() < 0.85
        created = end - timedelta(seconds=wait + (talk if answered else 0))
        answer = created + timedelta(seconds=wait) if answered else None
        calls.append(Call(
            call_sid=f"CA{next(sids):032x}", direction=CallDirection.INBOUND,
            status=CallStatus.COMPLETED, stage=CallStage.ENDED, queue_id=rng.choice(queues),
            agent_id=rng.choice(agent_ids) if answered else None, created_at=created,
            enqueued_at=created, answered_at=answer,
            ended_at=end, wait_seconds=wait, talk_seconds=talk if answered else None,
            outcome=CallOutcome.ANSWERED if answered else CallOutcome.ABANDONED,
        ))  # fmt: skip
    Call.objects.bulk_create(calls)
    table = CallEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} (dedup_key, call_id, call_sid, source, kind, payload, context,"
            " twilio_timestamp, received_at)"
            " VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, %s)",
            [
                (f"{c.call_sid}:{kind}", c.pk, c.call_sid, kind, kind, payload, context, at, at)
                for c in calls
                for kind, payload, context, at in (
                    ("status", '{"CallStatus": "completed"}', "{}", c.ended_at),
                    ("enqueue-action",
                     f'{{"QueueResult": "{"redirected" if c.answered_at else "hangup"}",'
                     f' "QueueTime": "{c.wait_seconds}"}}',
                     f'{{"queue": {c.queue_id}}}', c.answered_at or c.ended_at),
                )
            ],
        )  # fmt: skip
    changes = []
    for _ in range(AGENT_CHANGES_PER_MINUTE):
        agent = rng.choice(agent_ids)
        status = rng.choice(["available", "available", "away", "offline"])
        activity = rng.choice(["idle", "on_call", "wrap_up"]) if status != "offline" else "idle"
        previous = states[agent]
        states[agent] = (status, activity)
        changes.append(AgentStatusEvent(
            agent_id=agent, from_status=previous[0], from_activity=previous[1], to_status=status,
            to_activity=activity, source="system",
            occurred_at=begin + timedelta(seconds=rng.uniform(0, 59)),
        ))  # fmt: skip
    AgentStatusEvent.objects.bulk_create(changes)
