"""`generate`: the stages in order, written in one transaction, then sequences and statistics."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from functools import partial
from zoneinfo import ZoneInfo

from .calls import CALL_COLUMNS, historical_call_rows, live_call_rows
from .common import Table, World, _dt, _stream
from .people import (
    AGENT_COLUMNS,
    MEMBERSHIP_COLUMNS,
    USER_COLUMNS,
    agent_rows,
    membership_rows,
    user_rows,
)
from .queues import QUEUE_COLUMNS, queue_rows
from .sql import (
    _next_id,
    _refresh_statistics,
    _reset_sequence,
    _skip_foreign_key_triggers,
    copy_rows,
)


def _today(now: int) -> date:
    from django.conf import settings

    return _dt(now).astimezone(ZoneInfo(getattr(settings, "CALLCENTER_TIME_ZONE", "UTC"))).date()


def generate(
    connection,
    *,
    agents: int,
    queues: int,
    calls: int,
    seed: int = 1,
    days: int = 30,
    waiting: int | None = None,
    now: datetime | None = None,
) -> dict:
    """Append `queues` queues, `agents` agents (with users and memberships), `calls` ended calls
    over `days` days and a live tail (busy agents' calls, `waiting` callers) to the database.

    PostgreSQL only; `now` pins the clock for reproducible rows. Writes in one transaction,
    then resets the id sequences and refreshes planner statistics (VACUUM ANALYZE outside a
    transaction, so index-only scans see an all-visible table as they would in production).
    Returns the row counts and timings.
    """
    from django.db import transaction

    if connection.vendor != "postgresql":
        raise RuntimeError("bench.datagen writes with COPY: it needs PostgreSQL.")
    if queues < 1 and (agents or calls):
        raise ValueError("Agents and calls need at least one queue.")
    if days < 1 and calls:
        raise ValueError("Calls need at least one day of history.")
    waiting = max(1, calls // 2000) if waiting is None else waiting
    world = World(now=int((now or datetime.now(UTC)).timestamp()))
    started = time.perf_counter()
    counts: dict[str, int] = {}
    with transaction.atomic(using=connection.alias):
        pg = connection.connection
        fk_skipped = _skip_foreign_key_triggers(pg)
        ids = {name: _next_id(pg, model) for name, model in _models().items()}
        tables = _tables(world, ids, seed=seed, agents=agents, queues=queues, calls=calls,
                         days=days, waiting=waiting)  # fmt: skip
        for name, table in tables:
            counts[name] = copy_rows(pg, connection, table)
        for model in _models().values():
            _reset_sequence(pg, model)
    copied = time.perf_counter()
    _refresh_statistics(connection, [m._meta.db_table for m in _models().values()])
    finished = time.perf_counter()
    rows = sum(counts.values())
    return {
        **counts,
        "calls_waiting": waiting,
        "foreign_key_triggers_skipped": fk_skipped,
        "rows": rows,
        "copy_seconds": round(copied - started, 3),
        "analyze_seconds": round(finished - copied, 3),
        "seconds": round(finished - started, 3),
        "rows_per_second": round(rows / (finished - started)),
    }


def _models() -> dict[str, type]:
    from django.contrib.auth import get_user_model

    from callcenter.models import Agent, Call, Queue, QueueMembership

    return {"user": get_user_model(), "agent": Agent, "queue": Queue,
            "membership": QueueMembership, "call": Call}  # fmt: skip


def _tables(
    world: World, ids: dict[str, int], *, seed: int, agents: int, queues: int, calls: int,
    days: int, waiting: int,
) -> Iterator[tuple[str, Table]]:  # fmt: skip
    """The COPY targets in order. Each is built after the previous one is written: later
    stages read what earlier ones left in `world`."""
    models, stream = _models(), partial(_stream, seed)
    rows = queue_rows(stream("queues"), world, first_id=ids["queue"], count=queues)
    yield "queues", Table(models["queue"], QUEUE_COLUMNS, rows)
    rows = user_rows(
        stream("users"), world, first_id=ids["user"], first_number=ids["agent"], count=agents
    )
    yield "users", Table(models["user"], USER_COLUMNS, rows)
    rows = agent_rows(
        stream("agents"), world, first_id=ids["agent"], first_user_id=ids["user"], count=agents,
        today=_today(world.now),
    )  # fmt: skip
    yield "agents", Table(models["agent"], AGENT_COLUMNS, rows)
    rows = membership_rows(
        stream("memberships"), world, first_id=ids["membership"], first_agent_id=ids["agent"],
        count=agents,
    )  # fmt: skip
    yield "memberships", Table(models["membership"], MEMBERSHIP_COLUMNS, rows)
    rows = historical_call_rows(
        stream("calls"), world, first_id=ids["call"], calls=calls, days=days
    )
    yield "calls", Table(models["call"], CALL_COLUMNS, rows)
    # _arrivals yields exactly `calls` rows, so the live tail's ids follow on.
    rows = live_call_rows(stream("live"), world, first_id=ids["call"] + calls, waiting=waiting)
    yield "live_calls", Table(models["call"], CALL_COLUMNS, rows)
