"""Routing's hot queries at scale: do they use their named partial indexes, and what do the
indexes buy? Each query runs on the same data in the same run with index scans allowed and
then forbidden (SET LOCAL in a transaction); the ratio of the two medians is the headline.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Iterator

from django.db import connection, transaction
from django.db.models import Count
from django.test.utils import CaptureQueriesContext

from bench import datagen
from callcenter.models import Agent, Call

NAME = "routing_indexes"
FULL_SCALE = {"agents": 100_000, "queues": 200, "calls": 1_000_000}
INDEX_REPEAT, SEQ_REPEAT, EXPLAIN_REPEAT = 50, 10, 3
# Forbids every index access path; the planner falls back to sequential scans. JIT is off in
# both arms so the ratio measures access paths, not compile time.
NO_INDEX_SETTINGS = ("enable_indexscan", "enable_indexonlyscan", "enable_bitmapscan")


def run(ctx) -> list[dict]:
    rows = list(_generate(ctx))
    queue_id = _busiest_queue()
    for name, (probe, expected) in _probes(queue_id).items():
        ctx.log(f"{NAME}: {name}")
        rows += _measure(ctx, name, probe, expected)
    return rows


def _probes(queue_id: int) -> dict[str, tuple[Callable[[], object], str]]:
    """Query name → (a call running it as the app does, the index meant to serve it)."""
    return {
        "agent_longest_idle": (
            lambda: list(Agent.objects.longest_idle_first()[:1]),
            "agent_routable_idle_since_idx",
        ),
        "agent_longest_idle_in_queue": (
            lambda: list(Agent.objects.longest_idle_first().in_queue(queue_id)[:1]),
            "agent_routable_idle_since_idx",
        ),
        "call_waiting_in_queue": (
            lambda: list(Call.objects.waiting_in_queue(queue_id)[:10]),
            "call_waiting_queue_order_idx",
        ),
        "call_active_count": (lambda: Call.objects.active().count(), "call_active_created_idx"),
    }


def _generate(ctx) -> Iterator[dict]:
    sizes = {key: max(1, round(n * ctx.scale)) for key, n in FULL_SCALE.items()}
    sizes["queues"] = max(5, sizes["queues"])
    ctx.log(f"{NAME}: generating {sizes}")
    made = datagen.generate(ctx.connection, **sizes)
    ctx.log(f"{NAME}: generated {made['rows']:,} rows in {made['seconds']}s")
    note = (f"{sizes['agents']:,} agents, {made['calls'] + made['live_calls']:,} calls, "
            f"{sizes['queues']} queues; COPY {made['copy_seconds']}s + VACUUM ANALYZE "
            f"{made['analyze_seconds']}s")  # fmt: skip
    yield _row("datagen.rows_per_second", made["rows_per_second"], "rows/s", note)
    yield _row("datagen.seconds", made["seconds"], "s", f"{made['rows']:,} rows")


def _busiest_queue() -> int:
    """The queue with the most waiting callers (also the most agents: popularity is shared)."""
    top = (
        Call.objects.waiting().values("queue").annotate(n=Count("id")).order_by("-n", "queue")
    ).first()
    return top["queue"]


def _measure(ctx, name: str, probe: Callable[[], object], expected: str) -> list[dict]:
    """Plans and medians of one query with and without index scans, as result rows."""
    sql = _captured_sql(probe)
    indexed_plan, forced_plan = _explain(sql, indexes=True), _explain(sql, indexes=False)
    used, forced_used = _index_names(indexed_plan), _index_names(forced_plan)
    if forced_used:
        raise AssertionError(f"{name}: index scans still planned with them off: {forced_used}")
    indexed = _timed(ctx, probe, indexes=True, repeat=INDEX_REPEAT)
    seq = _timed(ctx, probe, indexes=False, repeat=SEQ_REPEAT)
    server_indexed = _server_ms(sql, indexes=True)
    server_seq = _server_ms(sql, indexes=False)
    return [
        _row(f"{name}.speedup", seq / indexed, "x", "seq scan / index, through the ORM",
             sql=sql),
        _row(f"{name}.server_speedup", server_seq / server_indexed, "x",
             "seq scan / index, EXPLAIN ANALYZE execution time"),
        _row(f"{name}.index_ms", indexed * 1000, "ms", ", ".join(used) or "no index in plan",
             plan=indexed_plan),
        _row(f"{name}.seq_ms", seq * 1000, "ms", _node_types(forced_plan), plan=forced_plan),
        _row(f"{name}.uses_expected_index", expected in used, "bool", expected),
    ]  # fmt: skip


def _captured_sql(probe: Callable[[], object]) -> str:
    """The exact SQL the ORM sends (client-side binding: parameters inlined)."""
    with CaptureQueriesContext(connection) as queries:
        probe()
    return queries.captured_queries[-1]["sql"]


def _plan_settings(cur, *, indexes: bool) -> None:
    cur.execute("SET LOCAL jit = off")
    if not indexes:
        for setting in NO_INDEX_SETTINGS:
            cur.execute(f"SET LOCAL {setting} = off")


def _explain(sql: str, *, indexes: bool, analyze: bool = False) -> dict:
    # TIMING OFF: per-node clock reads would tax the arm that touches more rows.
    options = "ANALYZE, TIMING OFF, FORMAT JSON" if analyze else "FORMAT JSON"
    with transaction.atomic(), connection.cursor() as cur:
        _plan_settings(cur, indexes=indexes)
        cur.execute(f"EXPLAIN ({options}) {sql}")
        plan = cur.fetchone()[0]
    return (json.loads(plan) if isinstance(plan, str) else plan)[0]


def _timed(ctx, probe: Callable[[], object], *, indexes: bool, repeat: int) -> float:
    """Median seconds of the probe in one transaction whose planner settings say `indexes`."""
    with transaction.atomic(), ctx.connection.cursor() as cur:
        _plan_settings(cur, indexes=indexes)
        return ctx.timeit(probe, repeat)


def _server_ms(sql: str, *, indexes: bool) -> float:
    times = [
        _explain(sql, indexes=indexes, analyze=True)["Execution Time"]
        for _ in range(EXPLAIN_REPEAT)
    ]
    return statistics.median(times)


def _nodes(node: dict) -> Iterator[dict]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


def _index_names(plan: dict) -> list[str]:
    return sorted({n["Index Name"] for n in _nodes(plan["Plan"]) if "Index Name" in n})


def _node_types(plan: dict) -> str:
    """The plan's shape in one line, e.g. "Limit > Sort > Seq Scan on callcenter_agent"."""
    parts = []
    for node in _nodes(plan["Plan"]):
        relation = node.get("Relation Name")
        parts.append(f"{node['Node Type']} on {relation}" if relation else node["Node Type"])
    return " > ".join(parts)


def _row(metric: str, value, unit: str, note: str = "", **extra) -> dict:
    value = round(value, 4) if isinstance(value, float) else value
    return {"benchmark": NAME, "metric": metric, "value": value, "unit": unit, "note": note,
            **extra}  # fmt: skip
