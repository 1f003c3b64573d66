"""The rollup runs: the one-minute incremental run, the range recompute, daily summaries."""

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min, Q
from django.utils import timezone

from analytics import facts as facts_mod
from analytics import kpis
from analytics.bulk import indexes_built_after, refresh_statistics
from analytics.kpis import queue_kpis
from analytics.models import (
    QUEUE_COUNTERS,
    AgentInterval,
    DailySummary,
    MissedOfferFact,
    QueueDay,
    QueueEntryFact,
    QueueInterval,
    RollupState,
)
from analytics.selectors import queue_totals  # the one KPI read path
from callcenter.models import AgentStatusEvent, PendingCallEvent, Queue

from .agent_time import accruing_slots, floor_interval, slots
from .rollups import (
    ROLLUP_LOCK,
    key_pairs,
    keys_between,
    rollup_agent_intervals,
    rollup_queue_days,
    rollup_queue_intervals,
)

FACTS = QueueEntryFact._meta.db_table
DAY = timedelta(days=1)


def _overlap() -> timedelta:
    return timedelta(seconds=settings.ANALYTICS_ROLLUP_OVERLAP_SECONDS)


def _try_lock() -> bool:
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [ROLLUP_LOCK])
        return cursor.fetchone()[0]


@transaction.atomic
def rollup_run(*, now: datetime | None = None) -> dict:
    """The one-minute incremental rollup (idempotent). The first run recomputes everything.

    It re-derives the facts of the calls whose callbacks arrived (or whose wrap-up ended)
    since the watermark, and recomputes the rollup rows their old and new facts touch, the
    intervals of agents whose status changed, and, once an interval closes, the rows of the
    agents whose time accrued in it: nobody else's."""
    now = now or timezone.now()
    if not _try_lock():
        return {"skipped": "another rollup is running"}
    state, _ = RollupState.objects.select_for_update().get_or_create(id=1)
    cutoff = floor_interval(now)
    if state.call_events_until is None or state.agent_events_until is None:
        result = _recompute(None, None, now=now)
        state.call_events_until, state.agent_events_until = _calls_until(now), now
        state.updated_at = timezone.now()
        state.save()
        return result
    calls_until = _calls_until(now)
    since_calls = state.call_events_until - _overlap()
    call_ids = facts_mod.calls_of_events(
        Q(received_at__gt=since_calls, received_at__lte=calls_until)
    )
    since_agents = state.agent_events_until - _overlap()
    changes = (
        AgentStatusEvent.objects.filter(occurred_at__gt=since_agents, occurred_at__lte=now)
        .order_by()
        .values("agent_id")
        .annotate(first=Min("occurred_at"))
        .values_list("agent_id", "first")
    )
    call_ids |= facts_mod.calls_of_wrap_ups_ended(since_agents, now)
    qi, qd, ai = facts_mod.rebuild_call_facts(call_ids)
    for agent_id, first in changes:
        ai |= {(agent_id, slot) for slot in slots(first, cutoff)}
    closed_since = floor_interval(state.agent_events_until)
    if cutoff > closed_since:
        ai |= accruing_slots(closed_since, cutoff)
    rollup_queue_intervals(key_pairs(qi, "timestamptz"))
    rollup_queue_days(key_pairs(qd, "date"))
    rollup_agent_intervals(key_pairs(ai, "timestamptz"), cutoff)
    state.call_events_until, state.agent_events_until = calls_until, now
    state.updated_at = timezone.now()
    state.save()
    return {"calls": len(call_ids), "queue_intervals": len(qi), "queue_days": len(qd),
            "agent_intervals": len(ai)}  # fmt: skip


def _calls_until(now: datetime) -> datetime:
    """`now`, or earlier while a stored callback waits in the outbox (not applied yet)."""
    pending = PendingCallEvent.objects.aggregate(at=Min("event__received_at"))["at"]
    return min(now, pending) if pending else now


def recompute_facts(begin: datetime | None, end: datetime | None, *, now: datetime) -> None:
    """Re-derive the facts of the ended calls created in [begin - 1 day, end + 1 day) (a call
    is counted where it entered, which may be a day off its creation in a long queue)."""
    scope, params = ["c.ended_at <= %s"], [connection.ops.adapt_datetimefield_value(now)]
    for bound, op in ((begin and begin - DAY, ">="), (end and end + DAY, "<")):
        if bound is not None:
            scope.append(f"c.created_at {op} %s")
            params.append(connection.ops.adapt_datetimefield_value(bound))
    if begin is None and end is None:
        with indexes_built_after(QueueEntryFact, MissedOfferFact):
            facts_mod.replace_facts(scope[0], params, everything=True)
    else:
        facts_mod.replace_facts(" AND ".join(scope), params)
        refresh_statistics(QueueEntryFact, MissedOfferFact)


def recompute_rollups(begin: datetime | None, end: datetime | None, *, now: datetime) -> None:
    """Every rollup row of [begin, end) from the facts: queue intervals and agent intervals
    (with or without facts now), the queues' local days overlapping the range, agents' time
    up to the current interval. All of them (no bounds): the 15-minute tables are rewritten
    whole, their indexes built after. Either way the rewritten tables' statistics are
    refreshed, so the reports that follow are planned on what is there now."""
    if begin is None and end is None:
        with indexes_built_after(QueueInterval, AgentInterval):
            _recompute_rollups(begin, end, now=now)
        refresh_statistics(QueueDay)  # rewritten whole too (its gaps filled on its unique key)
    else:
        _recompute_rollups(begin, end, now=now)
        refresh_statistics(QueueInterval, QueueDay, AgentInterval)


def _recompute_rollups(begin: datetime | None, end: datetime | None, *, now: datetime) -> None:
    window = (begin, end)
    interval_keys = [(FACTS, "queue_id", "interval_start"),
                     (QueueInterval._meta.db_table, "queue_id", "interval_start")]  # fmt: skip
    rollup_queue_intervals(keys_between(interval_keys, *window))
    days = (begin and begin.date() - DAY, end and end.date() + 2 * DAY)
    day_keys = [
        (FACTS, "queue_id", "local_date"),
        (QueueDay._meta.db_table, "queue_id", "local_date"),
    ]
    rollup_queue_days(keys_between(day_keys, *days))
    cutoff = floor_interval(now) if end is None else min(end, floor_interval(now))
    agent_keys = keys_between(
        [(FACTS, "agent_id", "agent_interval_start"),
         (MissedOfferFact._meta.db_table, "agent_id", "interval_start"),
         (AgentInterval._meta.db_table, "agent_id", "interval_start")],
        *window,
    )  # fmt: skip
    start = begin or AgentStatusEvent.objects.aggregate(at=Min("occurred_at"))["at"]
    accruing = accruing_slots(start, cutoff) if start is not None and start < cutoff else set()
    rollup_agent_intervals(agent_keys, cutoff, accruing)


def _recompute(begin: datetime | None, end: datetime | None, *, now: datetime) -> dict:
    recompute_facts(begin, end, now=now)
    recompute_rollups(begin, end, now=now)
    window = Q(interval_start__lt=end) if end else Q()
    window &= Q(interval_start__gte=begin) if begin else Q()
    return {"facts": QueueEntryFact.objects.filter(window).count(),
            "queue_intervals": QueueInterval.objects.filter(window).count(),
            "agent_intervals": AgentInterval.objects.filter(window).count()}  # fmt: skip


@transaction.atomic
def rollup_recompute(*, begin: date, end: date, now: datetime | None = None) -> dict:
    """Recompute facts and rollups of the UTC days [begin, end] (inclusive); idempotent."""
    if not _try_lock():
        return {"skipped": "another rollup is running"}
    start = datetime.combine(begin, time.min, tzinfo=UTC)
    stop = datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)
    return _recompute(start, stop, now=now or timezone.now())


# --- daily summaries --------------------------------------------------------------------------


def daily_summaries_generate(*, now: datetime | None = None) -> int:
    """Store each queue's KPIs of its local yesterday once it is over (hourly beat: a queue
    whose midnight just passed gets its summary within the hour); how many were stored."""
    now = now or timezone.now()
    queues = list(Queue.objects.only("id", "time_zone"))
    by_day: dict[date, list[int]] = defaultdict(list)
    for queue in queues:
        by_day[now.astimezone(queue.tz).date() - timedelta(days=1)].append(queue.pk)
    count = 0
    for day, queue_ids in by_day.items():
        done = set(
            DailySummary.objects.filter(local_date=day, queue_id__in=queue_ids).values_list(
                "queue_id", flat=True
            )
        )
        queue_ids = [q for q in queue_ids if q not in done]
        totals = queue_totals(queue_ids, day, day)
        for queue_id in queue_ids:
            counters = totals.get(queue_id)
            DailySummary.objects.update_or_create(
                queue_id=queue_id,
                local_date=day,
                defaults={
                    "generated_at": now,
                    "kpis": queue_kpis(counters or _empty_counters()),
                },
            )
            count += 1
    return count


def _empty_counters() -> dict:
    return {**dict.fromkeys(QUEUE_COUNTERS, 0), "longest_wait": 0,
            "wait_histogram": kpis.empty_histogram(),
            "handle_histogram": kpis.empty_histogram()}  # fmt: skip
