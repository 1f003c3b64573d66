"""Call rows: ended calls over the history window, arriving on a daily and weekly curve in
each queue's time zone, then the live tail (busy agents' calls and callers waiting now)."""

from __future__ import annotations

import bisect
import random
from collections.abc import Iterator
from itertools import accumulate
from zoneinfo import ZoneInfo

from callcenter.choices import AgentActivity, CallDirection, CallOutcome, CallStage, CallStatus

from .common import DAY, HOUR, TALK_MU, TALK_SIGMA, World, _cum, _dt, _pick

# Relative arrivals per local hour of day (busy 9-17) and per weekday (Monday first).
HOURLY_CURVE = (
    0.4, 0.25, 0.2, 0.2, 0.3, 0.6, 1.5, 3.5, 6.5, 9.0, 10.0, 10.0,
    8.5, 9.0, 10.0, 9.5, 8.5, 7.0, 4.5, 3.0, 2.2, 1.6, 1.1, 0.7,
)  # fmt: skip
WEEKDAY_FACTOR = (1.0, 1.0, 1.0, 1.0, 0.95, 0.35, 0.2)

# (value, weight) table, turned into cumulative weights for bisect.
OUTCOMES = (
    (CallOutcome.ANSWERED, 85), (CallOutcome.ABANDONED, 10),
    (CallOutcome.SHORT_ABANDONED, 3), (CallOutcome.VOICEMAIL, 1.2), (CallOutcome.CALLBACK, 0.8),
)  # fmt: skip

WAIT_MEAN = 30.0  # most callers: exponential waits ...
WAIT_TAIL_MEAN = 240.0  # ... and 5% from a slower queue: mean ~40 s with a long tail
MAX_SECONDS = 2 * HOUR  # caps the tails so a call fits the window

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
