"""The rollup runs: the one-minute incremental run, the range recompute, daily summaries."""

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection, transaction
from django.db.models import Max, Min, Q
from django.utils import timezone

from analytics import facts as facts_mod
from analytics.kpis import queue_kpis
from analytics.models import (
    AgentInterval,
    DailySummary,
    QueueDay,
    QueueEntryFact,
    QueueInterval,
    RollupState,
)
from analytics.selectors import queue_totals  # the one KPI read path
from callcenter.models import AgentStatusEvent, Call, PendingCallEvent, Queue

from .rollups import (
    ROLLUP_LOCK,
    _accruing_slots,
    _agents_not_idle_offline_at,
    _chunks,
    _empty_counters,
    _overlap,
    _slots,
    rollup_agent_intervals,
    rollup_queue_days,
    rollup_queue_intervals,
)


def facts_rebuild(call_ids) -> tuple[set, set, set]:
    """Re-derive the facts of `call_ids` in batches; the rollup keys they touched."""
    qi, qd, ai = set(), set(), set()
    for chunk in _chunks(sorted(call_ids)):
        a, b, c = facts_mod.rebuild_call_facts(chunk)
        qi |= a
        qd |= b
        ai |= c
    return qi, qd, ai


def _try_lock() -> bool:
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [ROLLUP_LOCK])
        return cursor.fetchone()[0]


@transaction.atomic
def rollup_run(*, now: datetime | None = None) -> dict:
    """The one-minute incremental rollup (idempotent). The first run recomputes everything."""
    now = now or timezone.now()
    if not _try_lock():
        return {"skipped": "another rollup is running"}
    state, _ = RollupState.objects.select_for_update().get_or_create(id=1)
    if state.call_events_until is None or state.agent_events_until is None:
        result = _recompute(None, now, now=now)
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
    changes = list(
        AgentStatusEvent.objects.filter(occurred_at__gt=since_agents, occurred_at__lte=now)
        .order_by()
        .values("agent_id")
        .annotate(first=Min("occurred_at"), last=Max("occurred_at"))
        .values_list("agent_id", "first", "last")
    )
    call_ids |= facts_mod.calls_of_wrap_ups_ended(since_agents, now)
    qi, qd, ai = facts_rebuild(call_ids)
    previous = state.agent_events_until
    starts = {agent_id: min(first, previous) for agent_id, first, _ in changes}
    for agent_id in _agents_not_idle_offline_at(previous):
        starts[agent_id] = min(starts.get(agent_id, previous), previous)
    for agent_id, begin in starts.items():
        ai |= {(agent_id, slot) for slot in _slots(begin, now)}
    rollup_queue_intervals(qi)
    rollup_queue_days(qd)
    rollup_agent_intervals({k for k in ai if k[1] < now}, now)
    state.call_events_until, state.agent_events_until = calls_until, now
    state.updated_at = timezone.now()
    state.save()
    return {"calls": len(call_ids), "queue_intervals": len(qi), "queue_days": len(qd),
            "agent_intervals": len(ai)}  # fmt: skip


def _calls_until(now: datetime) -> datetime:
    """`now`, or earlier while a stored callback waits in the outbox (not applied yet)."""
    pending = PendingCallEvent.objects.aggregate(at=Min("event__received_at"))["at"]
    return min(now, pending) if pending else now


def _recompute(begin: datetime | None, end: datetime, *, now: datetime) -> dict:
    """Facts of the calls created in [begin - 1 day, end + 1 day), then every rollup row in
    [begin, end): queue intervals, the queues' local days touched, agents' intervals."""
    calls = Call.objects.filter(parent__isnull=True, ended_at__isnull=False, ended_at__lte=now)
    if begin is not None:
        calls = calls.filter(created_at__gte=begin - timedelta(days=1))
    calls = calls.filter(created_at__lt=end + timedelta(days=1))
    call_ids = list(calls.values_list("id", flat=True))
    qi, qd, ai = facts_rebuild(call_ids)
    window = Q(interval_start__lt=end) & (Q(interval_start__gte=begin) if begin else Q())
    qi = {k for k in qi if k[1] < end and (begin is None or k[1] >= begin)}
    qi |= set(QueueInterval.objects.filter(window).values_list("queue_id", "interval_start"))
    qi |= set(QueueEntryFact.objects.filter(window).values_list("queue_id", "interval_start"))
    days = set(QueueEntryFact.objects.filter(window).values_list("queue_id", "local_date"))
    if begin is not None:
        first, last = begin.date() - timedelta(days=1), end.date() + timedelta(days=1)
        qd = {k for k in qd if first <= k[1] <= last} | days
        qd |= set(
            QueueDay.objects.filter(
                local_date__gte=begin.date(), local_date__lt=end.date()
            ).values_list("queue_id", "local_date")
        )
    else:
        qd |= days | set(QueueDay.objects.values_list("queue_id", "local_date"))
    cutoff = min(end, now)
    events = AgentStatusEvent.objects.filter(occurred_at__lt=cutoff)
    start = begin or events.aggregate(at=Min("occurred_at"))["at"]
    agent_keys = _accruing_slots(start, cutoff) if start is not None else set()
    agent_keys |= {k for k in ai if k[1] < cutoff and (begin is None or k[1] >= begin)}
    agent_keys |= set(
        AgentInterval.objects.filter(window).values_list("agent_id", "interval_start")
    )
    rollup_queue_intervals(qi)
    rollup_queue_days(qd)
    rollup_agent_intervals(agent_keys, cutoff)
    return {"calls": len(call_ids), "queue_intervals": len(qi), "queue_days": len(qd),
            "agent_intervals": len(agent_keys)}  # fmt: skip


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
                    "kpis": queue_kpis(counters) if counters else queue_kpis(_empty_counters()),
                },
            )
            count += 1
    return count
