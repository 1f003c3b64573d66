"""Agents' time per status and activity, replayed from AgentStatusEvent into 15-minute
intervals up to a cutoff (the start of the current interval: time counts once its interval
has closed, so an agent whose state did not change is not rewritten every minute)."""

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from django.db.models import OuterRef, Subquery

from callcenter.choices import AgentActivity, AgentStatus
from callcenter.models import Agent, AgentStatusEvent

INTERVAL = timedelta(minutes=15)
TIME_COLUMNS = ("logged_in_seconds", "available_idle_seconds", "offered_seconds",
                "on_call_seconds", "wrap_up_seconds", "away_seconds")  # fmt: skip


def floor_interval(at: datetime) -> datetime:
    """The start of the 15-minute interval holding `at` (aligned in UTC, hence in every zone)."""
    at = at.astimezone(UTC)
    return at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)


def slots(begin: datetime, end: datetime) -> list[datetime]:
    """The intervals overlapping [begin, end)."""
    slot, out = floor_interval(begin), []
    while slot < end:
        out.append(slot)
        slot += INTERVAL
    return out


def state_columns(status: str, activity: str) -> tuple[str, ...]:
    columns = []
    if status != AgentStatus.OFFLINE:
        columns.append("logged_in_seconds")
    if status == AgentStatus.AVAILABLE and activity == AgentActivity.IDLE:
        columns.append("available_idle_seconds")
    if status == AgentStatus.AWAY:
        columns.append("away_seconds")
    column = {
        AgentActivity.OFFERED: "offered_seconds",
        AgentActivity.ON_CALL: "on_call_seconds",
        AgentActivity.WRAP_UP: "wrap_up_seconds",
    }.get(activity)
    if column:
        columns.append(column)
    return tuple(columns)


def agent_time(keys: set[tuple[int, datetime]], cutoff: datetime) -> dict[tuple, dict]:
    """Seconds per TIME_COLUMNS of each (agent, interval) in `keys` that accrued any before
    `cutoff` (the open state counts until then). Two queries."""
    out: dict[tuple, dict] = {}
    keys = {k for k in keys if k[1] < cutoff}
    if not keys:
        return out
    wanted: dict[int, set] = defaultdict(set)
    for agent_id, start in keys:
        wanted[agent_id].add(start)
    since = min(start for _, start in keys)
    before = AgentStatusEvent.objects.filter(
        agent_id=OuterRef("agent_id"), occurred_at__lt=since
    ).order_by("-occurred_at", "-id")
    states = {
        r["agent_id"]: (r["s"], r["a"])
        for r in AgentStatusEvent.objects.filter(agent_id__in=wanted, occurred_at__lt=since)
        .order_by()
        .values("agent_id")
        .distinct()
        .annotate(
            s=Subquery(before.values("to_status")[:1]), a=Subquery(before.values("to_activity")[:1])
        )
    }
    events = defaultdict(list)
    for agent_id, at, status, activity in (
        AgentStatusEvent.objects.filter(
            agent_id__in=wanted, occurred_at__gte=since, occurred_at__lt=cutoff
        )
        .order_by("agent_id", "occurred_at", "id")
        .values_list("agent_id", "occurred_at", "to_status", "to_activity")
    ):
        events[agent_id].append((at, status, activity))
    for agent_id, starts in wanted.items():
        state = states.get(agent_id, (AgentStatus.OFFLINE, AgentActivity.IDLE))
        at = since
        for next_at, status, activity in [*events[agent_id], (cutoff, None, None)]:
            _spread(out, agent_id, starts, at, next_at, state_columns(*state))
            at, state = next_at, (status, activity)
    return out


def _spread(out, agent_id, starts, begin: datetime, end: datetime, columns) -> None:
    if not columns or end <= begin:
        return
    slot = floor_interval(begin)
    while slot < end:
        if slot in starts:
            seconds = (min(end, slot + INTERVAL) - max(begin, slot)).total_seconds()
            row = out.setdefault((agent_id, slot), dict.fromkeys(TIME_COLUMNS, 0.0))
            for column in columns:
                row[column] += seconds
        slot += INTERVAL


def accruing_slots(start: datetime, cutoff: datetime) -> set[tuple[int, datetime]]:
    """(agent, interval) pairs in [start, cutoff) in which an agent's state accrued time or
    changed (replayed from the events: the rows a recompute writes, not agents x every
    interval)."""
    accruing = _agents_accruing_at(start)
    since = dict.fromkeys(accruing, start)
    keys: set[tuple[int, datetime]] = set()
    for agent_id, at, status, activity in (
        AgentStatusEvent.objects.filter(occurred_at__gte=start, occurred_at__lt=cutoff)
        .order_by("agent_id", "occurred_at", "id")
        .values_list("agent_id", "occurred_at", "to_status", "to_activity")
    ):
        if agent_id in since:
            keys.update((agent_id, slot) for slot in slots(since.pop(agent_id), at))
        keys.add((agent_id, floor_interval(at)))
        if state_columns(status, activity):
            since[agent_id] = at
    for agent_id, begin in since.items():
        keys.update((agent_id, slot) for slot in slots(begin, cutoff))
    return keys


def _agents_accruing_at(at: datetime) -> set[int]:
    """Agents whose state at `at` accrues time (anything but offline and idle), from the event
    log: one probe of agent_status_event_agent_idx per agent."""
    last = AgentStatusEvent.objects.filter(agent_id=OuterRef("pk"), occurred_at__lte=at).order_by(
        "-occurred_at", "-id"
    )
    rows = Agent.objects.order_by().annotate(
        s=Subquery(last.values("to_status")[:1]), a=Subquery(last.values("to_activity")[:1])
    )
    return {
        pk
        for pk, status, activity in rows.filter(s__isnull=False).values_list("pk", "s", "a")
        if not (status == AgentStatus.OFFLINE and activity == AgentActivity.IDLE)
    }
