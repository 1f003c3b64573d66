"""Queue rows: REGIONS x TOPICS, Zipf-like popularity, valid values for every CHECK."""

from __future__ import annotations

import json
import random
from array import array
from collections.abc import Iterator
from itertools import accumulate

from callcenter.choices import MaxWaitAction, RoutingStrategy

from .common import DAY, World, _cum, _dt, _pick

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

# (value, weight) tables, turned into cumulative weights for bisect.
STRATEGIES = (
    (RoutingStrategy.LONGEST_IDLE, 6), (RoutingStrategy.ROUND_ROBIN, 1),
    (RoutingStrategy.FEWEST_CALLS, 1), (RoutingStrategy.LEAST_TALK_TIME, 1),
)  # fmt: skip
MAX_WAIT_ACTIONS = (  # overflow last: it needs a second queue
    (MaxWaitAction.VOICEMAIL, 6), (MaxWaitAction.CALLBACK, 3), (MaxWaitAction.OVERFLOW, 1),
)  # fmt: skip

QUEUE_COLUMNS = (
    "id", "name", "twilio_queue_name", "strategy", "use_tiers", "priority",
    "service_level_seconds", "short_abandon_seconds", "ring_timeout_seconds", "wrap_up_seconds",
    "max_size", "max_wait_seconds", "max_wait_action", "overflow_queue_id", "time_zone",
    "business_hours", "greeting", "hold_music_url", "announce_position",
    "announce_interval_seconds", "is_active", "created_at",
)  # fmt: skip


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


def _business_hours(rng: random.Random) -> dict:
    """Weekday office hours for most queues, a Saturday morning for some, 24/7 for the rest."""
    if rng.random() < 0.3:
        return {}
    hours = {day: [["08:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
    if rng.random() < 0.4:
        hours["sat"] = [["09:00", "13:00"]]
    return hours
