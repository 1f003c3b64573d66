"""Users, agents and queue memberships: one login and one agent per person, each agent in
1-3 queues."""

from __future__ import annotations

import bisect
import random
from collections.abc import Iterator
from datetime import date

from callcenter.choices import AgentActivity, AgentStatus

from .common import DAY, HOUR, TALK_MU, World, _cum, _dt, _pick

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
MEMBERSHIPS_PER_AGENT = ((1, 50), (2, 35), (3, 15))

USER_COLUMNS = (
    "id", "password", "last_login", "is_superuser", "username", "first_name", "last_name",
    "email", "is_staff", "is_active", "date_joined",
)  # fmt: skip
AGENT_COLUMNS = (
    "id", "user_id", "softphone_identity", "status", "away_reason", "status_changed_at",
    "activity", "activity_changed_at", "max_concurrent_calls", "active_calls", "idle_since",
    "last_call_ended_at", "calls_answered_today", "talk_seconds_today", "counters_date",
    "consecutive_missed_offers", "wrap_up_until", "created_at",
)  # fmt: skip
MEMBERSHIP_COLUMNS = ("id", "agent_id", "queue_id", "level")


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
