"""Analytics' reads: reports from the rollup tables only, never the raw calls.

Each report is a fixed number of queries whatever the number of calls (tests pin it): the
visible queues or agents, then one read of the rollup rows of the period. Days are the
queues' own local days (QueueDay); 15-minute and hourly rows are the queue's intervals
between its local midnights; agents' days are cut in CALLCENTER_TIME_ZONE.
"""

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import Q, Sum

from callcenter.models import Agent, Queue, QueueMembership
from callcenter.roles import is_admin, is_supervisor
from callcenter.selectors import queues_visible_to, viewer_agent_id

from . import dialect as d
from . import kpis
from .models import (
    AGENT_COUNTERS,
    DAY_PERCENTILE_COLUMNS,
    QUEUE_COUNTERS,
    AgentInterval,
    DailySummary,
    QueueDay,
    QueueInterval,
)

GRANULARITIES = ("15m", "hour", "day", "week")
# The longest period each granularity may ask for (days).
MAX_DAYS = {"15m": 31, "hour": 93, "day": 366, "week": 366}
COUNTER_FIELDS = (*QUEUE_COUNTERS, "longest_wait", "wait_histogram", "handle_histogram")


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)


def _empty() -> dict:
    return {**dict.fromkeys(QUEUE_COUNTERS, 0), "longest_wait": 0,
            "wait_histogram": [], "handle_histogram": []}  # fmt: skip


def _add(into: dict, row: dict) -> dict:
    """Add a rollup row's counters; its histograms are kept aside and summed by _finish."""
    for name in QUEUE_COUNTERS:
        into[name] += row[name]
    into["longest_wait"] = max(into["longest_wait"], row["longest_wait"])
    into["wait_histogram"].append(row["wait_histogram"])
    into["handle_histogram"].append(row["handle_histogram"])
    return into


def _finish(counters: dict) -> dict:
    """The group's histograms summed bucket by bucket in one pass (zip of all of them)."""
    for name in ("wait_histogram", "handle_histogram"):
        if isinstance(counters.get(name), list):
            counters[name] = kpis.sum_histograms(counters[name])
    return counters


def report_queues(user, queue_ids: list[int] | None = None) -> list[Queue]:
    """The queues the viewer may report on (admins: all; supervisors: theirs), one query."""
    queues = queues_visible_to(user).only("id", "name", "time_zone", "service_level_seconds",
                                          "short_abandon_seconds")  # fmt: skip
    if queue_ids:
        queues = queues.filter(pk__in=queue_ids)
    return list(queues.order_by("name", "id"))


def _day_groups(queue_ids, date_from: date, date_to: date, period: str | None) -> list:
    """[(queue, period start or None, counters)] of the queues' local days [date_from,
    date_to] summed in SQL per queue and `period` ("week" or None: the whole range),
    histograms merged; one query. So Python's work is per group, not per day read."""
    if not queue_ids:
        return []
    d.register()
    key = {"week": d.week_start("local_date"), None: None}[period]
    group = f"queue_id, {key}" if key else "queue_id"
    sums = ", ".join(f"CAST(sum({c}) AS BIGINT)" for c in QUEUE_COUNTERS)
    ids = d.id_list(queue_ids)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT queue_id, {key or 'NULL'}, {sums}, max(longest_wait),"  # noqa: S608
            f" {d.histograms('wait_histogram')}, {d.histograms('handle_histogram')}"
            f" FROM {QueueDay._meta.db_table} WHERE {d.in_ids('queue_id')}"
            f" AND local_date >= %s AND local_date <= %s GROUP BY {group}",
            [ids, date_from.isoformat(), date_to.isoformat()],
        )
        rows = cursor.fetchall()
    out = []
    for queue_id, start, *values in rows:
        counters = dict(zip(COUNTER_FIELDS, values, strict=True))
        for name in ("wait_histogram", "handle_histogram"):
            counters[name] = kpis.sum_packed(counters[name])
        if isinstance(start, str):
            start = date.fromisoformat(start)
        out.append((queue_id, start, counters))
    return out


def _days(queue_ids, date_from: date, date_to: date) -> list:
    """[(queue, local date, counters)] of the queues' days [date_from, date_to], each as
    stored, with its percentiles' buckets instead of its histograms (a day is a group of its
    own: nothing to merge, nothing to decode); one query."""
    if not queue_ids:
        return []
    stored = {f"{name}_percentile_buckets": columns
              for name, columns in DAY_PERCENTILE_COLUMNS.items()}  # fmt: skip
    names = [*QUEUE_COUNTERS, "longest_wait", *(c for cs in stored.values() for c in cs)]
    rows = QueueDay.objects.filter(
        queue_id__in=queue_ids, local_date__gte=date_from, local_date__lte=date_to
    ).values_list("queue_id", "local_date", *names)
    out = []
    for queue_id, day, *values in rows:
        counters = dict(zip(names, values, strict=True))
        for key, columns in stored.items():
            counters[key] = tuple(counters.pop(c) for c in columns)
        out.append((queue_id, day, counters))
    return out


def queue_totals(queue_ids, date_from: date, date_to: date) -> dict[int, dict]:
    """Summed counters of each queue's local days [date_from, date_to]; one query."""
    return {q: counters for q, _, counters in _day_groups(queue_ids, date_from, date_to, None)}


def queue_report(queues: list[Queue], date_from: date, date_to: date) -> list[dict]:
    totals = queue_totals([q.pk for q in queues], date_from, date_to)
    return [
        {"queue": q.pk, "queue_name": q.name, "time_zone": q.time_zone,
         "service_level_seconds": q.service_level_seconds,
         "short_abandon_seconds": q.short_abandon_seconds,
         **kpis.queue_kpis(totals.get(q.pk) or _finish(_empty()))}
        for q in queues
    ]  # fmt: skip


def interval_report(
    queues: list[Queue], date_from: date, date_to: date, granularity: str
) -> list[dict]:
    """Per queue and period (local to the queue), the KPIs; one query."""
    groups: dict[tuple, dict] = {}
    by_id = {q.pk: q for q in queues}
    if granularity in ("day", "week"):
        days = (_days(list(by_id), date_from, date_to) if granularity == "day"
                else _day_groups(list(by_id), date_from, date_to, granularity))  # fmt: skip
        for queue_id, day, counters in days:
            groups[(queue_id, local_midnight(day, by_id[queue_id].tz))] = counters
    elif queues:
        window = Q(pk__in=[])
        for q in queues:
            window |= Q(
                queue_id=q.pk,
                interval_start__gte=local_midnight(date_from, q.tz),
                interval_start__lt=local_midnight(date_to + timedelta(days=1), q.tz),
            )
        rows = QueueInterval.objects.filter(window).values(
            "queue_id", "interval_start", *COUNTER_FIELDS
        )
        for row in rows:
            for name in ("wait_histogram", "handle_histogram"):
                row[name] = kpis.from_bucket_list(row[name])
            start = row["interval_start"]
            if granularity == "hour":
                # The local hour holding the interval (zones with :30 and :45 offsets too).
                start -= timedelta(minutes=start.astimezone(by_id[row["queue_id"]].tz).minute)
            _add(groups.setdefault((row["queue_id"], start), _empty()), row)
    out = []
    for counters in groups.values():
        _finish(counters)
    for (queue_id, start), counters in sorted(
        groups.items(), key=lambda i: (by_id[i[0][0]].name, i[0])
    ):
        tz = by_id[queue_id].tz
        out.append(
            {"queue": queue_id, "queue_name": by_id[queue_id].name,
             "start": start.astimezone(tz).isoformat(), **kpis.queue_kpis(counters)}
        )  # fmt: skip
    return out


def report_agent_ids(user) -> list[int] | None:
    """Agents the viewer may report on: None for all (admins), supervisors their queues'
    members, agents themselves."""
    if is_admin(user):
        return None
    if is_supervisor(user):
        queue_ids = queues_visible_to(user).values("id")
        return list(
            QueueMembership.objects.filter(queue_id__in=queue_ids)
            .values_list("agent_id", flat=True)
            .distinct()
        )
    own = viewer_agent_id(user)
    return [own] if own else []


def agent_report(agent_ids: list[int] | None, date_from: date, date_to: date) -> list[dict]:
    """Per agent, the summed AgentInterval counters of the period and the KPIs; one query."""
    tz = ZoneInfo(settings.CALLCENTER_TIME_ZONE)
    rows = AgentInterval.objects.filter(
        interval_start__gte=local_midnight(date_from, tz),
        interval_start__lt=local_midnight(date_to + timedelta(days=1), tz),
    )
    agents = Agent.objects.all()
    if agent_ids is not None:
        rows, agents = rows.filter(agent_id__in=agent_ids), agents.filter(pk__in=agent_ids)
    sums = {
        r.pop("agent_id"): r
        for r in rows.order_by().values("agent_id").annotate(**{c: Sum(c) for c in AGENT_COUNTERS})
    }
    people = agents.order_by("user__username").values_list("pk", "user__username")
    out = []
    for pk, username in people:
        counters = sums.get(pk)
        if counters is None:
            continue
        out.append({"agent": pk, "username": username, **kpis.agent_kpis(counters)})
    return out


def daily_summaries(queues: list[Queue], date_from: date, date_to: date):
    return (
        DailySummary.objects.filter(
            queue__in=queues, local_date__gte=date_from, local_date__lte=date_to
        )
        .select_related("queue")
        .order_by("-local_date", "queue__name")
    )


def history_by_slot(queue: Queue, date_from: date, date_to: date) -> dict:
    """A queue's mean arrivals and AHT per weekday and local 15-minute slot over the period
    (the staffing recommendation's input); one query."""
    tz = queue.tz
    rows = QueueInterval.objects.filter(
        queue_id=queue.pk,
        interval_start__gte=local_midnight(date_from, tz),
        interval_start__lt=local_midnight(date_to + timedelta(days=1), tz),
    ).values_list("interval_start", "offered", "answered", "handle_sum")
    days_by_weekday: dict[int, int] = defaultdict(int)
    day = date_from
    while day <= date_to:
        days_by_weekday[day.weekday()] += 1
        day += timedelta(days=1)
    slots: dict[tuple, list] = defaultdict(lambda: [0, 0, 0])
    for start, offered, answered, handle in rows:
        local = start.astimezone(tz)
        slot = slots[(local.weekday(), local.strftime("%H:%M"))]
        slot[0] += offered
        slot[1] += answered
        slot[2] += handle
    return {"days_by_weekday": dict(days_by_weekday), "slots": dict(slots)}
