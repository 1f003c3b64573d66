"""Run the benchmarks: `python -m bench.runner [names...] [--scale 0.05]` (or `make bench`).

Each module `bench/bench_<name>.py` exposes `run(ctx) -> list[dict]`; a row has at least
"benchmark", "metric", "value" and "unit", and optionally "note". The runner recreates the
PostgreSQL database `switchboard_bench`, migrates it, runs the benchmarks in this process and
writes bench/results/latest.json and latest.md.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import platform
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
DATABASE = "switchboard_bench"
# The server only: the runner owns the database name and drops it at the start of each run.
DEFAULT_SERVER_URL = "postgres://postgres@127.0.0.1:5432"
COLUMNS = ("benchmark", "metric", "value", "unit", "note")


@dataclass
class Context:
    """What a benchmark gets: the Django connection, the scale and a timer."""

    connection: object
    scale: float = 1.0
    database: str = DATABASE
    started: float = field(default_factory=time.perf_counter)

    def timeit(self, fn: Callable[[], object], repeat: int = 20, *, warmup: int = 1) -> float:
        """Median seconds of `repeat` calls of `fn`, after `warmup` untimed ones."""
        for _ in range(warmup):
            fn()
        samples = []
        for _ in range(repeat):
            start = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - start)
        return statistics.median(samples)

    def log(self, message: str) -> None:
        print(
            f"[{time.perf_counter() - self.started:7.1f}s] {message}", file=sys.stderr, flush=True
        )


def discover(names: list[str]) -> dict[str, str]:
    """Short name → module name of bench/bench_*.py, restricted to `names` when given."""
    found = {
        info.name.removeprefix("bench_"): f"bench.{info.name}"
        for info in pkgutil.iter_modules([str(BENCH_DIR)])
        if info.name.startswith("bench_")
    }
    wanted = [name.removeprefix("bench_") for name in names] or sorted(found)
    unknown = [name for name in wanted if name not in found]
    if unknown:
        sys.exit(f"Unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(found)}")
    return {name: found[name] for name in wanted}


def recreate_database(server_url: str, name: str) -> None:
    """Drop and create `name`, so every run starts from the same empty schema."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def setup_django(database_url: str):
    """Configure Django on the bench database (no pool, no debug query log) and migrate."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "settings.local"
    os.environ["DATABASE_URL"] = database_url
    os.environ["DATABASE_POOL"] = "0"
    # DEBUG would record every query: overhead inside the timed loops.
    os.environ["DJANGO_DEBUG"] = "0"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    from django.db import connection

    return connection


def run_one(ctx: Context, name: str, module_name: str) -> tuple[list[dict], bool]:
    """The rows of one benchmark; on failure an "error" row and False."""
    ctx.log(f"{name}: start")
    started = time.perf_counter()
    try:
        rows = importlib.import_module(module_name).run(ctx)
        for row in rows:
            missing = {"benchmark", "metric", "value", "unit"} - row.keys()
            if missing:
                raise ValueError(f"row {row} lacks {sorted(missing)}")
    except Exception as exc:  # one broken benchmark must not hide the others' results
        traceback.print_exc()
        error = {"benchmark": name, "metric": "error", "value": None, "unit": "",
                 "note": f"{type(exc).__name__}: {exc}"}  # fmt: skip
        return [error], False
    ctx.log(f"{name}: done in {time.perf_counter() - started:.1f}s")
    return rows, True


def environment(ctx: Context) -> dict:
    """Where the numbers come from: they only compare within one run on one machine."""
    import django

    with ctx.connection.cursor() as cur:
        cur.execute("SELECT version()")
        server = cur.fetchone()[0]
    return {
        "python": platform.python_version(),
        "django": django.get_version(),
        "postgresql": server,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "database": ctx.database,
        "scale": ctx.scale,
    }


def format_value(value) -> str:
    """Three significant digits below 100, whole numbers above (never 1e+03)."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value).lower()
    if isinstance(value, int) or (isinstance(value, float) and abs(value) >= 100):
        return f"{value:,.0f}"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def markdown(rows: list[dict], meta: dict) -> str:
    lines = [
        f"# Benchmarks ({meta['finished_at']}, scale {meta['environment']['scale']})",
        "",
        f"{meta['environment']['postgresql'].split(' on ')[0]}, Python "
        f"{meta['environment']['python']}, {meta['environment']['cpus']} CPUs. Compare ratios "
        "within this run, not absolute times across runs.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|---|---|---:|---|---|",
    ]
    for row in rows:
        cells = [str(row.get(c, "")) for c in COLUMNS]
        cells[2] = format_value(row.get("value"))
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def write_results(rows: list[dict], meta: dict) -> str:
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "latest.json").write_text(
        json.dumps({**meta, "results": rows}, indent=2, default=str) + "\n"
    )
    table = markdown(rows, meta)
    (RESULTS_DIR / "latest.md").write_text(table)
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--scale", type=float, default=1.0, help="data size factor (CI: 0.05)")
    parser.add_argument(
        "--server-url",
        default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_SERVER_URL),
        help="PostgreSQL server, without a database name (env BENCH_POSTGRES_URL)",
    )
    parser.add_argument(
        "--database",
        default=os.environ.get("BENCH_DATABASE", DATABASE),
        help=f"database to drop, recreate and use (env BENCH_DATABASE; default {DATABASE})",
    )
    args = parser.parse_args(argv)
    if args.scale <= 0:
        parser.error("--scale must be positive")
    modules = discover(args.names)

    started_at, clock = datetime.now(UTC).isoformat(timespec="seconds"), time.perf_counter()
    recreate_database(args.server_url, args.database)
    connection = setup_django(f"{args.server_url}/{args.database}")
    ctx = Context(connection=connection, scale=args.scale, started=clock)
    ctx.log(
        f"database {args.database} migrated; running {', '.join(modules)} at scale {args.scale}"
    )
    rows, ok = [], True
    for name, module_name in modules.items():
        bench_rows, bench_ok = run_one(ctx, name, module_name)
        rows += bench_rows
        ok &= bench_ok
    meta = {
        "started_at": started_at,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": environment(ctx),
    }
    print(write_results(rows, meta))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
