"""What every stage shares: the clock units, the talk-time model, the row containers, the
weighted-choice helpers and the per-stage random streams."""

from __future__ import annotations

import bisect
import math
import random
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import accumulate

HOUR = 3600
DAY = 24 * HOUR

TALK_MU, TALK_SIGMA = math.log(180.0), 0.8  # lognormal talk time, median 180 s


@dataclass(frozen=True)
class Table:
    """One COPY target: the model, the columns this package writes, and the rows."""

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
    """A (value, weight) table as values and cumulative weights, for `_pick`."""
    values, weights = zip(*table, strict=True)
    return list(values), list(accumulate(weights))


def _pick(rng: random.Random, values: list, cum: list[float]):
    return values[bisect.bisect(cum, rng.random() * cum[-1])]


def _stream(seed: int, stage: str) -> random.Random:
    return random.Random(f"{seed}:{stage}")


def _dt(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
