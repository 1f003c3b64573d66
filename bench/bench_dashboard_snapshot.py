"""The dashboard snapshot must not grow with the call history: snapshot time with 10,000 and
with 1,000,000 historical calls (times `--scale`) behind the same present.

One world, measured three times: with the small history, after appending the rest of the
large history, and again after deleting it (A-B-A, so drift of a shared machine shows). The
present never changes: queues, agents, memberships, live calls and the last day of traffic.
Each measurement times an admin (every queue and agent) and a supervisor of the ten busiest
queues: through the selector, through the API view, and on the server alone (EXPLAIN ANALYZE
execution time of the snapshot's two queries). The headline, `ratio.<viewer>.<path>` (target
<= 1.2), is the large history's median over the mean of the two small-history medians. The
plans are kept, with a check that no node reads callcenter_call sequentially.
"""

from __future__ import annotations

import json
import statistics
import time
from array import array
from datetime import UTC, datetime, timedelta

from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from bench import datagen
from bench.datagen.common import _stream
from bench.datagen.sql import _next_id, _refresh_statistics, _reset_sequence
from callcenter.models import Call, Queue, QueueMembership
from dashboards.selectors import dashboard_snapshot

NAME = "dashboard_snapshot"
SMALL_HISTORY, LARGE_HISTORY = 10_000, 1_000_000
# The present, the same in both worlds: ~one day of a 1M-calls-a-month center.
FULL_SCALE = {"queues": 200, "agents": 2_000, "recent": 33_000, "waiting": 500}
HISTORY_DAYS, SUPERVISED = 30, 10
REPEAT, EXPLAIN_REPEAT = 40, 5
PATHS = ("selector", "api", "server", "pages")
RUNS = ("small", "small_again", "large")
VIEWERS = ("admin", "supervisor")
URL = "/api/v1/dashboard/"


def run(ctx) -> list[dict]:
    sizes = {key: max(minimum, round(n * ctx.scale)) for (key, n), minimum in
             zip(FULL_SCALE.items(), (10, 50, 200, 20), strict=True)}  # fmt: skip
    small = max(100, round(SMALL_HISTORY * min(ctx.scale, 1.0)))
    large = max(small, round(LARGE_HISTORY * ctx.scale))
    now = datetime.now(UTC).replace(microsecond=0)
    before = int((now - timedelta(days=1)).timestamp())
    ctx.log(f"{NAME}: world with {small:,} historical calls, {sizes}")
    present = _world(ctx, sizes, small, now)
    viewers = _viewers()
    samples, rows = {}, []

    def measure(label: str, history: int) -> None:
        note = f"{history:,} historical + {present}"
        samples[label], measured = _measure(ctx, label, note, viewers)
        rows.extend(measured)

    measure("small", small)
    ctx.log(f"{NAME}: appending {large - small:,} historical calls")
    added = _append_calls(large - small, days=HISTORY_DAYS, now=before, stage="more history")
    measure("large", large)
    ctx.log(f"{NAME}: deleting them again")
    _delete_calls(*added)
    measure("small_again", small)
    headline = []
    for viewer in VIEWERS:
        for path in PATHS:
            key = (viewer, path)
            for stat, metric in ((statistics.median, "ratio"), (min, "ratio_best")):
                first, again, big = (stat(samples[run][key]) for run in RUNS)
                headline.append(_row(
                    f"{metric}.{viewer}.{path}", big / ((first + again) / 2), "x",
                    f"{stat.__name__}s: {large:,} / {small:,} historical calls (target <= 1.2);"
                    f" the two small runs differ by {again / first:.2f}x"))  # fmt: skip
    return headline + rows


# --- worlds ---------------------------------------------------------------------------------


def _world(ctx, sizes: dict, history: int, now: datetime) -> str:
    """Flush, then queues/agents/live calls, `history` calls over the 30 days before the last
    one, and the last day's traffic, in time order (ids follow time as in production)."""
    call_command("flush", interactive=False, verbosity=0)
    made = datagen.generate(ctx.connection, agents=sizes["agents"], queues=sizes["queues"],
                            calls=0, waiting=sizes["waiting"], now=now, seed=1)  # fmt: skip
    before = int((now - timedelta(days=1)).timestamp())
    _append_calls(history, days=HISTORY_DAYS, now=before, stage="history")
    _append_calls(sizes["recent"], days=1, now=int(now.timestamp()), stage="recent")
    ctx.log(f"{NAME}: {Call.objects.count():,} calls in all ({made['live_calls']:,} live)")
    return (f"{sizes['recent']:,} last-day + {made['live_calls']:,} live calls; "
            f"{sizes['queues']} queues, {sizes['agents']:,} agents")  # fmt: skip


def _append_calls(
    count: int, *, days: int, now: int, stage: str, queue_ids: list[int] | None = None
) -> tuple[int, int]:
    """datagen's ended calls for the queues (all, or `queue_ids`) and members already in the
    database; their ids."""
    world = _world_from_database(now, queue_ids)
    with transaction.atomic():
        pg = connection.connection
        first = _next_id(pg, Call)
        rows = datagen.historical_call_rows(
            _stream(1, stage), world, first_id=first, calls=count, days=days
        )
        written = datagen.copy_rows(pg, connection, datagen.Table(Call, datagen.CALL_COLUMNS, rows))
        _reset_sequence(pg, Call)
    _refresh_statistics(connection, [Call._meta.db_table])
    return first, first + written - 1


def _delete_calls(first: int, last: int) -> None:
    """One statement (nothing refers to these rows), then VACUUM: the table shrinks back."""
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {Call._meta.db_table} WHERE id BETWEEN %s AND %s", [first, last])
    _refresh_statistics(connection, [Call._meta.db_table])


def _world_from_database(now: int, queue_ids: list[int] | None = None) -> datagen.World:
    """The World datagen's call stage reads, rebuilt from the rows it wrote (same popularity,
    by rank among `queue_ids` when given)."""
    world = datagen.World(now=now)
    queues = Queue.objects.order_by("id")
    if queue_ids is not None:
        queues = queues.filter(id__in=queue_ids)
    queues = queues.values_list("id", "time_zone", "short_abandon_seconds", "max_wait_seconds")
    index = {}
    for i, (qid, tz, short, max_wait) in enumerate(queues):
        index[qid] = i
        world.queue_ids.append(qid)
        world.queue_weights.append(1.0 / (i + 1) ** 0.7)  # as datagen.queues.queue_rows
        world.queue_tz.append(tz)
        world.queue_number.append(f"+1800555{qid % 10000:04d}")
        world.queue_short_abandon.append(short)
        world.queue_max_wait.append(max_wait or 600)
        world.members.append(array("q"))
    memberships = QueueMembership.objects.filter(queue_id__in=list(index))
    for agent_id, queue_id in memberships.values_list("agent_id", "queue_id"):
        world.members[index[queue_id]].append(agent_id)
    return world


# --- measuring ------------------------------------------------------------------------------


def _viewers() -> dict:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    User = get_user_model()
    admin = User.objects.create(username="bench-admin", is_superuser=True)
    supervisor = User.objects.create(username="bench-supervisor")
    supervisor.groups.add(Group.objects.get_or_create(name="supervisor")[0])
    busiest = Queue.objects.order_by("id")[:SUPERVISED]  # datagen: popularity falls with id
    for queue in busiest:
        queue.supervisors.add(supervisor)
    return {"admin": admin, "supervisor": supervisor}


def _measure(ctx, label: str, note: str, viewers: dict) -> tuple[dict, list[dict]]:
    """Seconds per snapshot, every sample, per (viewer, path); and the run's rows."""
    samples, rows = {}, []
    for viewer, user in viewers.items():
        # The user's roles are read once and cached on it, as within one request.
        sizes, queries = _shape(user)
        samples[(viewer, "selector")] = _timed(lambda user=user: dashboard_snapshot(user))
        client = APIClient(SERVER_NAME="localhost")  # one of settings.local's ALLOWED_HOSTS
        client.force_authenticate(user)
        response = client.get(URL)
        assert response.status_code == 200, response.content[:500]
        samples[(viewer, "api")] = _timed(lambda client=client: client.get(URL))
        runs = [[_explain(sql) for sql in queries] for _ in range(EXPLAIN_REPEAT)]
        samples[(viewer, "server")] = [
            sum(plan["Execution Time"] for plan in plans) / 1000 for plans in runs
        ]
        # Pages read per snapshot (shared buffers hit or read): the work, free of the
        # machine's noise.
        samples[(viewer, "pages")] = [sum(_pages(plan) for plan in plans) for plans in runs]
        plans = runs[-1]
        seq = [f"q{i + 1}" for i, plan in enumerate(plans) if _seq_scans_of_calls(plan)]
        indexes = sorted({name for plan in plans for name in _index_names(plan)})
        ms = {path: (statistics.median(samples[(viewer, path)]) * 1000,
                     min(samples[(viewer, path)]) * 1000) for path in PATHS[:3]}  # fmt: skip
        rows += [
            _row(f"{label}.{viewer}.selector_ms", ms["selector"][0], "ms",
                 f"median (best {ms['selector'][1]:.1f}); {note}; {sizes}"),
            _row(f"{label}.{viewer}.api_ms", ms["api"][0], "ms",
                 f"median (best {ms['api'][1]:.1f}); GET /api/v1/dashboard/ through DRF "
                 "(force_authenticate), JSON rendered"),
            _row(f"{label}.{viewer}.server_ms", ms["server"][0], "ms",
                 f"median (best {ms['server'][1]:.1f}) of {EXPLAIN_REPEAT} EXPLAIN ANALYZE "
                 "execution times of both queries; last: "
                 + " + ".join(f"{p['Execution Time']:.1f}" for p in plans),
                 plans=plans, sql=queries),
            _row(f"{label}.{viewer}.pages", statistics.median(samples[(viewer, "pages")]),
                 "pages", "8 kB pages the two queries touched (shared buffers hit or read)"),
            _row(f"{label}.{viewer}.queries", len(queries), "queries", "besides roles"),
            _row(f"{label}.{viewer}.no_seq_scan_of_calls", not seq, "bool",
                 ", ".join(indexes) if not seq else f"Seq Scan on callcenter_call in {seq}"),
        ]  # fmt: skip
    return samples, rows


def _timed(fn, repeat: int = REPEAT, warmup: int = 5) -> list[float]:
    """Seconds of each of `repeat` calls after `warmup` untimed ones (ctx.timeit keeps only
    the median; the best of them is the figure least disturbed by a busy machine)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def _shape(user) -> tuple[str, list[str]]:
    """What the viewer's snapshot holds, and its SQL (the roles lookup left out)."""
    from callcenter.roles import roles_of

    roles_of(user)
    with CaptureQueriesContext(connection) as captured:
        snapshot = dashboard_snapshot(user)
    shape = (f"{len(snapshot['queues'])} queues, {len(snapshot['agents'])} agents, "
             f"{len(snapshot['waiting_calls'] or [])} waiting listed")  # fmt: skip
    return shape, [query["sql"] for query in captured.captured_queries]


def _explain(sql: str) -> dict:
    with connection.cursor() as cur:
        cur.execute(f"EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, FORMAT JSON) {sql}")
        plan = cur.fetchone()[0]
    return (json.loads(plan) if isinstance(plan, str) else plan)[0]


def _nodes(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


def _pages(plan: dict) -> int:
    # The top node's counters include its children's and its subplans'.
    return plan["Plan"]["Shared Hit Blocks"] + plan["Plan"]["Shared Read Blocks"]


def _seq_scans_of_calls(plan: dict) -> bool:
    return any(
        n["Node Type"] == "Seq Scan" and n.get("Relation Name") == Call._meta.db_table
        for n in _nodes(plan["Plan"])
    )


def _index_names(plan: dict) -> set[str]:
    return {n["Index Name"] for n in _nodes(plan["Plan"]) if "Index Name" in n}


def _row(metric: str, value, unit: str, note: str = "", **extra) -> dict:
    value = round(value, 4) if isinstance(value, float) else value
    return {"benchmark": NAME, "metric": metric, "value": value, "unit": unit, "note": note,
            **extra}  # fmt: skip
