"""Synthetic call-center data at benchmark scale, written with PostgreSQL COPY.

Library: `generate(connection, agents=..., queues=..., calls=...)`; CLI:
`python -m bench.datagen --agents 100000 --queues 200 --calls 1000000`.

Rows stream from generators straight into COPY, so memory grows with agents, never with
calls. Ids are assigned here (after any existing rows) so foreign keys need no round trip,
and every row satisfies the models' CHECK constraints. Each stage draws from its own seeded
random stream: changing one stage does not reshuffle the others.
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import os
import random
import time
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from itertools import accumulate
from zoneinfo import ZoneInfo

from callcenter.choices import (
    AgentActivity,
    AgentStatus,
    CallDirection,
    CallOutcome,
    CallStage,
    CallStatus,
    MaxWaitAction,
    RoutingStrategy,
)

HOUR = 3600
DAY = 24 * HOUR

# Relative arrivals per local hour of day (busy 9-17) and per weekday (Monday first).
HOURLY_CURVE = (
    0.4, 0.25, 0.2, 0.2, 0.3, 0.6, 1.5, 3.5, 6.5, 9.0, 10.0, 10.0,
    8.5, 9.0, 10.0, 9.5, 8.5, 7.0, 4.5, 3.0, 2.2, 1.6, 1.1, 0.7,
)  # fmt: skip
WEEKDAY_FACTOR = (1.0, 1.0, 1.0, 1.0, 0.95, 0.35, 0.2)

REGIONS = (
    ("US East", "America/New_York"),
    ("US Central", "America/Chicago"),
    ("US West", "America/Los_Angeles"),
    ("UK", "Europe/London"),
    ("DACH", "Europe/Berlin"),
    ("India", "Asia/Kolkata"),
    ("Japan", "Asia/Tokyo"),
    ("Australia", "Australia/Sydney"),
    ("Brazil", "America/Sao_Paulo"),
)
TOPICS = (
    "Sales", "Support", "Billing", "Returns", "Technical", "Claims", "Onboarding",
    "Retention", "Orders", "Accounts", "Shipping", "Warranty",
)  # fmt: skip
FIRST_NAMES = (
    "Ana", "Ben", "Chloé", "Dev", "Eva", "Femi", "Grace", "Hiro", "Ines", "Jonas", "Kofi",
    "Lena", "Mateo", "Nia", "Omar", "Priya", "Quinn", "Rosa",
)  # fmt: skip
LAST_NAMES = (
    "Abe", "Brown", "Costa", "Dubois", "Eze", "Fischer", "García", "Haddad", "Ito", "Jensen",
    "Kim", "Lopez", "Müller", "Nowak", "Okafor",
)  # fmt: skip

# (value, weight) tables, turned into cumulative weights for bisect.
AGENT_STATUSES = ((AgentStatus.AVAILABLE, 35), (AgentStatus.AWAY, 25), (AgentStatus.OFFLINE, 40))
AVAILABLE_ACTIVITIES = (
    (AgentActivity.IDLE, 50), (AgentActivity.ON_CALL, 35),
    (AgentActivity.WRAP_UP, 10), (AgentActivity.OFFERED, 5),
)  # fmt: skip
AWAY_REASONS = (("break", 40), ("lunch", 30), ("meeting", 15), ("training", 10), ("coaching", 5))
CAPACITIES = ((1, 92), (2, 6), (3, 2))
STRATEGIES = (
    (RoutingStrategy.LONGEST_IDLE, 6), (RoutingStrategy.ROUND_ROBIN, 1),
    (RoutingStrategy.FEWEST_CALLS, 1), (RoutingStrategy.LEAST_TALK_TIME, 1),
)  # fmt: skip
MAX_WAIT_ACTIONS = (  # overflow last: it needs a second queue
    (MaxWaitAction.VOICEMAIL, 6), (MaxWaitAction.CALLBACK, 3), (MaxWaitAction.OVERFLOW, 1),
)  # fmt: skip
MEMBERSHIPS_PER_AGENT = ((1, 50), (2, 35), (3, 15))
OUTCOMES = (
    (CallOutcome.ANSWERED, 85), (CallOutcome.ABANDONED, 10),
    (CallOutcome.SHORT_ABANDONED, 3), (CallOutcome.VOICEMAIL, 1.2), (CallOutcome.CALLBACK, 0.8),
)  # fmt: skip

WAIT_MEAN = 30.0  # most callers: exponential waits ...
WAIT_TAIL_MEAN = 240.0  # ... and 5% from a slower queue: mean ~40 s with a long tail
TALK_MU, TALK_SIGMA = math.log(180.0), 0.8  # lognormal talk time, median 180 s
MAX_SECONDS = 2 * HOUR  # caps the tails so a call fits the window


@dataclass(frozen=True)
class Table:
    """One COPY target: the model, the columns this module writes, and the rows."""

    model: type
    columns: tuple[str, ...]
    rows: Iterable[tuple]


@dataclass
class World:
    """What later stages need to know about earlier ones (sizes O(agents + queues))."""

    now: int
    queue_ids: list[int] = field(default_factory=list)
    queue_weights: list[float] = field(default_factory=list)
    queue_cum: list[float] = field(default_factory=list)
    queue_tz: list[str] = field(default_factory=list)
    queue_number: list[str] = field(default_factory=list)
    queue_short_abandon: list[int] = field(default_factory=list)
    queue_max_wait: list[int] = field(default_factory=list)
    members: list[array] = field(default_factory=list)  # agent ids, per queue index
    home_queue: dict[int, int] = field(default_factory=dict)  # busy agent id → queue index
    busy_agents: list[tuple[int, str, int]] = field(default_factory=list)  # id, activity, calls


def _cum(table) -> tuple[list, list[float]]:
    values, weights = zip(*table, strict=True)
    return list(values), list(accumulate(weights))


def _pick(rng: random.Random, values: list, cum: list[float]):
    return values[bisect.bisect(cum, rng.random() * cum[-1])]


def _stream(seed: int, stage: str) -> random.Random:
    return random.Random(f"{seed}:{stage}")


def _dt(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


# --- queues -----------------------------------------------------------------------------------


def queue_rows(rng: random.Random, world: World, *, first_id: int, count: int) -> Iterator[tuple]:
    """Queues over REGIONS x TOPICS; popularity is Zipf-like so a few queues are busy."""
    actions = _cum(MAX_WAIT_ACTIONS if count > 1 else MAX_WAIT_ACTIONS[:-1])
    strategies = _cum(STRATEGIES)
    for i in range(count):
        qid = first_id + i
        name, topic, tz = _queue_name(qid)
        short_abandon = rng.choice((5, 5, 10))
        max_wait = rng.choice((None, 300, 600, 900))
        action = _pick(rng, *actions)
        # Overflow to a neighbour, never to itself (queue_no_overflow_to_itself).
        overflow = first_id + (i + 1) % count if action == MaxWaitAction.OVERFLOW else None
        world.queue_ids.append(qid)
        world.queue_weights.append(1.0 / (i + 1) ** 0.7)
        world.queue_tz.append(tz)
        world.queue_number.append(f"+1800555{qid % 10000:04d}")
        world.queue_short_abandon.append(short_abandon)
        world.queue_max_wait.append(max_wait or 600)
        yield (
            qid, name, f"{name}-{qid}".replace(" ", "-").lower(), _pick(rng, *strategies),
            rng.random() < 0.3, rng.choice((0, 0, 0, 1, 5)), rng.choice((20, 30, 60)),
            short_abandon, rng.choice((15, 20, 30)), rng.choice((0, 15, 30, 60)),
            rng.choice((None, 50, 200, 500)), max_wait, action, overflow, tz,
            json.dumps(_business_hours(rng)), f"Thank you for calling {topic}.", "",
            True, rng.choice((30, 60, 90)), rng.random() > 0.03, _dt(world.now - 400 * DAY),
        )  # fmt: skip
    world.queue_cum = list(accumulate(world.queue_weights))
    world.members = [array("q") for _ in range(count)]


def _queue_name(qid: int) -> tuple[str, str, str]:
    """A unique name for the queue with this id, its topic and its time zone."""
    n = qid - 1  # regions vary fastest, so even a few queues span several time zones
    region, tz = REGIONS[n % len(REGIONS)]
    topic = TOPICS[(n // len(REGIONS)) % len(TOPICS)]
    lap = n // (len(TOPICS) * len(REGIONS))
    return f"{topic} {region}" + (f" {lap + 1}" if lap else ""), topic, tz


QUEUE_COLUMNS = (
    "id", "name", "twilio_queue_name", "strategy", "use_tiers", "priority",
    "service_level_seconds", "short_abandon_seconds", "ring_timeout_seconds", "wrap_up_seconds",
    "max_size", "max_wait_seconds", "max_wait_action", "overflow_queue_id", "time_zone",
    "business_hours", "greeting", "hold_music_url", "announce_position",
    "announce_interval_seconds", "is_active", "created_at",
)  # fmt: skip


def _business_hours(rng: random.Random) -> dict:
    """Weekday office hours for most queues, a Saturday morning for some, 24/7 for the rest."""
    if rng.random() < 0.3:
        return {}
    hours = {day: [["08:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
    if rng.random() < 0.4:
        hours["sat"] = [["09:00", "13:00"]]
    return hours


# --- users, agents, memberships -----------------------------------------------------------------


USER_COLUMNS = (
    "id", "password", "last_login", "is_superuser", "username", "first_name", "last_name",
    "email", "is_staff", "is_active", "date_joined",
)  # fmt: skip


def user_rows(
    rng: random.Random, world: World, *, first_id: int, first_number: int, count: int
) -> Iterator[tuple]:
    """One login per agent; "!" is Django's unusable password."""
    joined = _dt(world.now - 200 * DAY)
    for i in range(count):
        username = f"agent{first_number + i:06d}"
        yield (
            first_id + i, "!", None, False, username, rng.choice(FIRST_NAMES),
            rng.choice(LAST_NAMES), f"{username}@example.com", False, True, joined,
        )  # fmt: skip


AGENT_COLUMNS = (
    "id", "user_id", "softphone_identity", "status", "away_reason", "status_changed_at",
    "activity", "activity_changed_at", "max_concurrent_calls", "active_calls", "idle_since",
    "last_call_ended_at", "calls_answered_today", "talk_seconds_today", "counters_date",
    "consecutive_missed_offers", "wrap_up_until", "created_at",
)  # fmt: skip


def agent_rows(
    rng: random.Random, world: World, *, first_id: int, first_user_id: int, count: int, today: date
) -> Iterator[tuple]:
    """Agents in a plausible mix of states; busy ones are remembered for the live calls."""
    statuses, activities = _cum(AGENT_STATUSES), _cum(AVAILABLE_ACTIVITIES)
    reasons, capacities = _cum(AWAY_REASONS), _cum(CAPACITIES)
    now = world.now
    for i in range(count):
        aid = first_id + i
        status = _pick(rng, *statuses)
        capacity = _pick(rng, *capacities)
        activity, active, wrap_until = AgentActivity.IDLE, 0, None
        if status == AgentStatus.AVAILABLE:
            activity = _pick(rng, *activities)
        if activity == AgentActivity.ON_CALL:
            active = rng.randint(1, capacity)  # agent_active_calls_within_capacity
        elif activity == AgentActivity.WRAP_UP:
            wrap_until = _dt(now + rng.randint(1, 30))  # agent_wrap_up_has_deadline
        if activity in (AgentActivity.ON_CALL, AgentActivity.OFFERED):
            world.busy_agents.append((aid, activity, max(active, 1)))
        status_age = int(min(rng.expovariate(1 / 5400), 10 * HOUR)) + 60
        # Idle since a moment within the last hours (offline agents: since they left).
        idle_age = status_age
        if status != AgentStatus.OFFLINE:
            idle_age = int(min(rng.expovariate(1 / 2700), status_age))
        worked = status != AgentStatus.OFFLINE or rng.random() < 0.5
        answered = rng.randint(1, 40) if worked else 0
        yield (
            aid, first_user_id + i, f"agent_{rng.getrandbits(64):016x}{aid:08x}", status,
            _pick(rng, *reasons) if status == AgentStatus.AWAY else "",  # only when away
            _dt(now - status_age), activity, _dt(now - min(idle_age, status_age)), capacity,
            active, _dt(now - idle_age), _dt(now - idle_age - 30) if answered else None,
            answered, answered * int(rng.lognormvariate(TALK_MU, 0.3)), today,
            rng.choice((0, 0, 0, 0, 1)) if status == AgentStatus.AVAILABLE else 0, wrap_until,
            _dt(now - rng.randint(1, 365) * DAY),
        )  # fmt: skip


MEMBERSHIP_COLUMNS = ("id", "agent_id", "queue_id", "level")


def membership_rows(
    rng: random.Random, world: World, *, first_id: int, first_agent_id: int, count: int
) -> Iterator[tuple]:
    """Each agent in 1-3 distinct queues (busy queues get more agents), tier levels 1-3."""
    sizes, queues = _cum(MEMBERSHIPS_PER_AGENT), len(world.queue_ids)
    busy = {agent_id for agent_id, _, _ in world.busy_agents}
    mid = first_id
    for i in range(count):
        aid = first_agent_id + i
        wanted = min(_pick(rng, *sizes), queues)
        chosen: list[int] = []
        while len(chosen) < wanted:
            q = bisect.bisect(world.queue_cum, rng.random() * world.queue_cum[-1])
            if q not in chosen:
                chosen.append(q)
        if aid in busy:
            world.home_queue[aid] = chosen[0]
        for level, q in enumerate(chosen, start=1):
            world.members[q].append(aid)
            yield mid, aid, world.queue_ids[q], level
            mid += 1


# --- calls ------------------------------------------------------------------------------------


CALL_COLUMNS = (
    "id", "call_sid", "parent_call_sid", "parent_id", "direction", "from_number", "to_number",
    "status", "stage", "outcome", "queue_id", "agent_id", "priority", "created_at",
    "enqueued_at", "answered_at", "ended_at", "wait_seconds", "talk_seconds", "hold_seconds",
)  # fmt: skip


def _hour_weights(world: World, start: int) -> list[list[float]]:
    """Per hour from `start` (on the hour) to now: cumulative arrival weights over queues,
    each queue's curve read in its own time zone; the current hour counts only its past part.
    """
    zones = {tz: ZoneInfo(tz) for tz in set(world.queue_tz)}
    result = []
    for base in range(start, world.now, HOUR):
        past = min(HOUR, world.now - base) / HOUR
        factor = {}
        for tz, zone in zones.items():
            at = _dt(base).astimezone(zone)
            factor[tz] = HOURLY_CURVE[at.hour] * WEEKDAY_FACTOR[at.weekday()] * past
        pairs = zip(world.queue_weights, world.queue_tz, strict=True)
        result.append(list(accumulate(w * factor[tz] for w, tz in pairs)))
    return result


def _arrivals(rng: random.Random, world: World, *, calls: int, days: int) -> Iterator[tuple]:
    """(created_at, queue index) in time order: `calls` spread over the hours by the curve."""
    start = (world.now - days * DAY) // HOUR * HOUR
    per_hour = _hour_weights(world, start)
    total = sum(cum[-1] for cum in per_hour)
    done, running = 0, 0.0
    for h, cum in enumerate(per_hour):
        running += cum[-1]
        due = round(calls * running / total)  # cumulative rounding: exactly `calls` in all
        base = start + h * HOUR
        span = min(HOUR, world.now - base)
        offsets = sorted(rng.randrange(span) for _ in range(due - done))
        done = due
        for offset in offsets:
            yield base + offset, bisect.bisect(cum, rng.random() * cum[-1])


def _wait(rng: random.Random) -> int:
    mean = WAIT_TAIL_MEAN if rng.random() < 0.05 else WAIT_MEAN
    return int(min(rng.expovariate(1 / mean), MAX_SECONDS))


def _sid(rng: random.Random, call_id: int) -> str:
    # Random-looking like Twilio's, unique by construction (the id is part of it).
    return f"CA{rng.getrandbits(96):024x}{call_id:08x}"


def _caller(rng: random.Random) -> str:
    # Fictional 555-01xx numbers: a pool of ~80,000 callers, so some call again.
    return f"+1{rng.randrange(200, 1000)}55501{rng.randrange(100):02d}"


def historical_call_rows(
    rng: random.Random, world: World, *, first_id: int, calls: int, days: int
) -> Iterator[tuple]:
    """Ended calls over `days` days, ids in time order like a real table's."""
    outcomes = _cum(OUTCOMES)
    call_id = first_id
    for created, q in _arrivals(rng, world, calls=calls, days=days):
        outcome = _pick(rng, *outcomes)
        enqueued = created + rng.randint(2, 20)  # greeting and menu
        status, answered, agent, talk, hold = CallStatus.COMPLETED, None, None, None, 0
        if outcome == CallOutcome.ANSWERED:
            wait = _wait(rng)
            answered = enqueued + wait
            talk = int(min(rng.lognormvariate(TALK_MU, TALK_SIGMA), MAX_SECONDS))
            hold = int(rng.expovariate(1 / 45)) if rng.random() < 0.2 else 0
            ended = answered + talk + hold
            members = world.members[q]
            agent = members[int(rng.random() * len(members))] if members else None
        elif outcome == CallOutcome.SHORT_ABANDONED:
            # Hung up within the short-abandon threshold. Twilio would say "completed" for any
            # inbound hang-up; "canceled" marks these so status filters see a realistic mix.
            wait = rng.randint(0, world.queue_short_abandon[q])
            ended, status = enqueued + wait, CallStatus.CANCELED
        elif outcome == CallOutcome.ABANDONED:
            wait = world.queue_short_abandon[q] + 1 + _wait(rng)
            ended = enqueued + wait
        else:  # voicemail or callback after the queue's longest wait
            wait = world.queue_max_wait[q]
            ended = (
                enqueued + wait + (rng.randint(5, 90) if outcome == CallOutcome.VOICEMAIL else 10)
            )
        shift = max(0, ended - world.now + 1)  # the newest calls must have ended by now
        yield (
            call_id, _sid(rng, call_id), "", None, CallDirection.INBOUND, _caller(rng),
            world.queue_number[q], status, CallStage.ENDED, outcome, world.queue_ids[q], agent,
            0 if rng.random() < 0.95 else rng.randint(1, 3), _dt(created - shift),
            _dt(enqueued - shift), _dt(answered - shift) if answered else None,
            _dt(ended - shift), wait, talk, hold,
        )  # fmt: skip
        call_id += 1


def live_call_rows(
    rng: random.Random, world: World, *, first_id: int, waiting: int
) -> Iterator[tuple]:
    """Calls in progress now: one per busy agent's call, plus callers waiting in queues."""
    live = [
        _live_agent_call(rng, world, agent, activity)
        for agent, activity, n in world.busy_agents
        for _ in range(n)
    ]
    live += [_waiting_call(rng, world) for _ in range(waiting)]
    live.sort(key=lambda call: call[0])  # ids follow created_at, as they would in production
    for call_id, (_, rest) in enumerate(live, start=first_id):
        yield (call_id, _sid(rng, call_id), "", None, CallDirection.INBOUND, _caller(rng), *rest)


def _live_agent_call(rng: random.Random, world: World, agent: int, activity: str) -> tuple:
    """(created, the call's columns from to_number on) for a busy agent's call."""
    q = world.home_queue[agent]
    wait = _wait(rng)
    if activity == AgentActivity.ON_CALL:
        talk = int(min(rng.lognormvariate(TALK_MU, TALK_SIGMA), HOUR))
        stage, answered, wait_seconds = CallStage.CONNECTED, _dt(world.now - talk), wait
    else:  # offered: the agent's phone is ringing
        talk, stage, answered, wait_seconds = rng.randint(0, 15), CallStage.OFFERED, None, None
    enqueued = world.now - talk - wait
    created = enqueued - rng.randint(2, 20)
    return created, (
        world.queue_number[q], CallStatus.IN_PROGRESS, stage, "", world.queue_ids[q], agent, 0,
        _dt(created), _dt(enqueued), answered, None, wait_seconds, None, 0,
    )  # fmt: skip


def _waiting_call(rng: random.Random, world: World) -> tuple:
    """(created, the call's columns from to_number on) for a caller waiting in a queue."""
    q = bisect.bisect(world.queue_cum, rng.random() * world.queue_cum[-1])
    enqueued = world.now - _wait(rng)
    created = enqueued - rng.randint(2, 20)
    priority = 0 if rng.random() < 0.9 else rng.randint(1, 5)
    return created, (
        world.queue_number[q], CallStatus.IN_PROGRESS, CallStage.WAITING, "", world.queue_ids[q],
        None, priority, _dt(created), _dt(enqueued), None, None, None, None, 0,
    )  # fmt: skip


# --- writing --------------------------------------------------------------------------------


def _missing_defaults(model, columns: tuple[str, ...], connection) -> tuple[list[str], tuple]:
    """Columns added to the model since this module was written, with their defaults.

    Keeps the generator working while the models gain fields: a NOT NULL column without a
    database default gets the field's Python default, the same for every row.
    """
    names, values = [], []
    for f in model._meta.concrete_fields:
        if f.column in columns or f.null or f.has_db_default():
            continue
        names.append(f.column)
        values.append(f.get_db_prep_save(f.get_default(), connection))
    return names, tuple(values)


def copy_rows(pg, connection, table: Table) -> int:
    """COPY `table.rows` into the model's table; returns how many rows were written."""
    extra_columns, extra = _missing_defaults(table.model, table.columns, connection)
    columns = ", ".join((*table.columns, *extra_columns))
    n = 0
    with (
        pg.cursor() as cur,
        cur.copy(f"COPY {table.model._meta.db_table} ({columns}) FROM STDIN") as copy,
    ):
        for row in table.rows:
            copy.write_row(row + extra if extra else row)
            n += 1
    return n


def _next_id(pg, model) -> int:
    with pg.cursor() as cur:
        cur.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {model._meta.db_table}")
        return cur.fetchone()[0]


def _reset_sequence(pg, model) -> None:
    table = model._meta.db_table
    with pg.cursor() as cur:
        cur.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 1), "
            f"MAX(id) IS NOT NULL) FROM {table}"
        )


def _skip_foreign_key_triggers(pg) -> bool:
    """Skip the per-row foreign-key triggers for this transaction when allowed (superuser).

    Every id written here points at a row of the same transaction or an existing one, so the
    checks cannot fail; they cost half the load time. CHECK and unique constraints still apply.
    """
    with pg.cursor() as cur:
        cur.execute("SELECT current_setting('is_superuser') = 'on'")
        superuser = cur.fetchone()[0]
        if superuser:
            cur.execute("SET LOCAL session_replication_role = replica")
    return superuser


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


def _refresh_statistics(connection, tables: list[str]) -> None:
    """VACUUM ANALYZE when possible (sets the visibility map), ANALYZE inside a transaction."""
    command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
    with connection.cursor() as cur:
        for table in tables:
            cur.execute(f"{command} {table}")


# --- CLI ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--queues", type=int, default=20)
    parser.add_argument("--calls", type=int, default=10000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--waiting", type=int, default=None, help="live waiting callers")
    args = parser.parse_args(argv)

    import django
    from django.conf import settings

    if not settings.configured:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings.local")
    django.setup()
    from django.db import connection

    result = generate(
        connection,
        agents=args.agents,
        queues=args.queues,
        calls=args.calls,
        seed=args.seed,
        days=args.days,
        waiting=args.waiting,
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
