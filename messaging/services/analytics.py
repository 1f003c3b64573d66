"""Ping analytics: response-time statistics of a day per user (as receiver) and per team (the
members of a queue), recomputed idempotently by `ping_stats_refresh_task`."""

import statistics
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from callcenter.models import QueueMembership
from messaging.models import Ping, PingStat, PingStatScope


def _figures(sent: int, times: list[float | None]) -> dict:
    answered = sorted(t for t in times if t is not None)
    p90 = None
    if answered:
        p90 = answered[min(len(answered) - 1, round(0.9 * (len(answered) - 1)))]
    return {
        "sent": sent,
        "received": len(times),
        "responded": len(answered),
        "response_avg_seconds": statistics.fmean(answered) if answered else None,
        "response_p50_seconds": statistics.median(answered) if answered else None,
        "response_p90_seconds": p90,
    }


@transaction.atomic
def ping_stats_refresh(day: date, user_ids: Iterable[int] | None = None) -> int:
    """Recompute `day`'s statistics of `user_ids` (every user when None) and of their queues;
    returns the rows written."""
    start = datetime.combine(day, time(0), tzinfo=UTC)  # a UTC day, as the daily ping quota
    pings = Ping.objects.filter(created_at__gte=start, created_at__lt=start + timedelta(days=1))
    users = None if user_ids is None else set(user_ids)
    memberships = QueueMembership.objects.values_list("queue_id", "agent__user_id")
    if users is not None:
        queues = set(
            memberships.filter(agent__user_id__in=users).values_list("queue_id", flat=True)
        )
        memberships = memberships.filter(queue_id__in=queues)
    members = defaultdict(set)
    for queue_id, user_id in memberships:
        members[queue_id].add(user_id)
    involved = set().union(users or set(), *members.values())
    if users is not None:
        pings = pings.filter(Q(sender_id__in=involved) | Q(receiver_id__in=involved))
    sent, times = defaultdict(int), defaultdict(list)
    for sender_id, receiver_id, seconds in pings.values_list(
        "sender_id", "receiver_id", "response_seconds"
    ):
        sent[sender_id] += 1
        times[receiver_id].append(seconds)
    now = timezone.now()
    written = 0
    for user_id in users if users is not None else set(sent) | set(times):
        PingStat.objects.update_or_create(
            day=day,
            scope=PingStatScope.USER,
            user_id=user_id,
            defaults={**_figures(sent[user_id], times[user_id]), "updated_at": now},
        )
        written += 1
    for queue_id, team in members.items():
        PingStat.objects.update_or_create(
            day=day,
            scope=PingStatScope.TEAM,
            queue_id=queue_id,
            defaults={
                **_figures(sum(sent[u] for u in team), [t for u in team for t in times[u]]),
                "updated_at": now,
            },
        )
        written += 1
    return written
