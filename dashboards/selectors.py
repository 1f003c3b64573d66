"""The supervisor dashboard snapshot (GET /api/v1/dashboard/); definitions in apis.py.

Two queries whatever the number of queues, agents and calls (tests pin the count): the
visible queues with their figures as correlated subqueries, and the visible agents joined to
their calls not yet ended. Every call row read is reached through an index on live state or
on recent time, never by scanning the history:

- waiting callers: the WAITING predicate (call_waiting_queue_order_idx);
- waiting voicemails and callbacks: their WAITING partial indexes (`*_waiting_idx`);
- today's and the last 30 minutes' figures: queue = q AND created_at >= min(q's local
  midnight, now - 30 min) (call_queue_created_idx, one range per queue);
- agents' current calls: ended_at IS NULL (call_active_created_idx).
"""

from datetime import UTC, datetime, timedelta
from itertools import groupby
from operator import itemgetter

from django.db.models import (
    Count,
    DateTimeField,
    Exists,
    F,
    FilteredRelation,
    JSONField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, JSONObject, Least
from django.db.models.lookups import Exact, GreaterThanOrEqual, IsNull, LessThanOrEqual
from django.utils import timezone

from callcenter.business_hours import zone
from callcenter.choices import CallOutcome, WorkStatus
from callcenter.models import Agent, Call, CallbackRequest, QueueMembership, Voicemail
from callcenter.querysets import AGENT_BUCKETS
from callcenter.roles import is_admin, is_supervisor
from callcenter.selectors import queues_visible_to
from callcenter.services import callcenter_today

from .expressions import JSONList, LocalMidnight, Seconds

RECENT = timedelta(minutes=30)
WAITING_LIST_LIMIT = 200
WINDOWS = ("today", "last_30_minutes")
QUEUE_FIELDS = ("id", "name", "time_zone", "is_active", "priority", "service_level_seconds",
                "short_abandon_seconds")  # fmt: skip
AGENT_FIELDS = ("id", "user__username", "user__first_name", "user__last_name", "status",
                "away_reason", "status_changed_at", "activity", "activity_changed_at",
                "active_calls", "max_concurrent_calls", "calls_answered_today",
                "counters_date")  # fmt: skip
# A not-ended call of the agent: the customer's call, or the agent's own leg to it (parent).
LIVE_FIELDS = ("id", "parent_id", "queue_id", "stage", "answered_at", "created_at")
SERVED_FIELDS = ("queue_id", "stage", "answered_at", "created_at")


def dashboard_snapshot(user, now: datetime | None = None) -> dict:
    """What the viewer's dashboard shows. Admins: every queue and agent; supervisors: their
    visible queues and those queues' members; agents: their queues and themselves, without
    the waiting list (None)."""
    now = now or timezone.now()
    overseer = is_admin(user) or is_supervisor(user)
    queues = list(_queues(user, now, waiting_head=overseer))
    return {
        "now": now,
        "queues": [_queue_out(queue, now) for queue in queues],
        "agents": _agents(user, now, overseer=overseer),
        "waiting_calls": _waiting_calls(queues, now) if overseer else None,
    }


def local_midnight(now: datetime, time_zone: str) -> datetime:
    """Start of `now`'s day in `time_zone`, as LocalMidnight computes it in SQL."""
    local = now.astimezone(zone(time_zone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(now.tzinfo)


# --- queues ---------------------------------------------------------------------------------


def _queues(user, now: datetime, *, waiting_head: bool):
    # with_live_counts: waiting count and first arrival (WAITING), members per agent bucket
    # (one join, grouped by queue); the subqueries below then run once per queue.
    queues = (
        queues_visible_to(user)
        .with_live_counts()
        .annotate(
            figures=_figures(now),
            voicemails_waiting=_work_waiting(Voicemail),
            callbacks_waiting=_work_waiting(CallbackRequest),
        )
        .only(*QUEUE_FIELDS)
        .order_by("-priority", "name")
    )
    if waiting_head:
        queues = queues.annotate(waiting_head=_waiting_head())
    return queues


def _figures(now: datetime) -> Subquery:
    """Per queue, one JSON object of today's and the last 30 minutes' counts, read from one
    index range: the queue's calls created since the earlier of the two window starts."""
    at = Value(now, output_field=DateTimeField())
    since = Value(now - RECENT, output_field=DateTimeField())
    midnight = LocalMidnight(at, OuterRef("time_zone"))
    # Lookup expressions rather than Q("field__op"): the same SQL, a third of the build time.
    created, wait = F("created_at"), Seconds("answered_at", "enqueued_at")
    answered = IsNull(F("answered_at"), False)
    within = LessThanOrEqual(wait, OuterRef("service_level_seconds"))
    windows = {
        "today": GreaterThanOrEqual(created, midnight),
        "last_30_minutes": GreaterThanOrEqual(created, since),
    }
    figures = {
        name: JSONObject(
            offered=Count("pk", filter=Q(window)),
            answered=Count("pk", filter=Q(window, answered)),
            within=Count("pk", filter=Q(window, answered, within)),
            abandoned=Count("pk", filter=Q(window, Exact(F("outcome"), CallOutcome.ABANDONED))),
            short=Count("pk", filter=Q(window, Exact(F("outcome"), CallOutcome.SHORT_ABANDONED))),
            wait=Sum(wait, filter=Q(window, answered)),
        )
        for name, window in windows.items()
    }
    calls = (
        Call.objects.filter(
            queue=OuterRef("pk"),
            enqueued_at__isnull=False,
            created_at__gte=Least(midnight, since),
            created_at__lte=at,
        )
        .order_by()
        .values("queue")
        .annotate(figures=JSONObject(**figures))
        .values("figures")
    )
    return Subquery(calls, output_field=JSONField())


def _work_waiting(model) -> Coalesce:
    """Per queue, how many voicemails or callback requests wait for an agent (the model's
    waiting partial index: queue, then its WAITING rows only)."""
    waiting = (
        model.objects.filter(queue=OuterRef("pk"), status=WorkStatus.WAITING)
        .order_by()
        .values("queue")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(waiting), 0)


def _waiting_head() -> Subquery:
    """Per queue, its first WAITING_LIST_LIMIT waiting callers (service order) as JSON: the
    merged global list can then be cut without losing anyone's place in their queue."""
    head = Call.objects.waiting_in_queue(OuterRef(OuterRef("pk"))).values("pk")
    calls = (
        # WAITING and the queue again on the outer rows: both sides read the partial index.
        Call.objects.waiting()
        .filter(queue=OuterRef("pk"), pk__in=head[:WAITING_LIST_LIMIT])
        .order_by()
        .values("queue")
        .annotate(
            head=JSONList(JSONObject(id="pk", priority="priority", enqueued_at="enqueued_at"))
        )
        .values("head")
    )
    return Subquery(calls, output_field=JSONField())


def _queue_out(queue, now: datetime) -> dict:
    oldest, figures = queue.oldest_enqueued_at, queue.figures or {}
    return {
        "id": queue.pk,
        "name": queue.name,
        "is_active": queue.is_active,
        "time_zone": queue.time_zone,
        "service_level_seconds": queue.service_level_seconds,
        "short_abandon_seconds": queue.short_abandon_seconds,
        "today_started_at": local_midnight(now, queue.time_zone),
        "waiting": queue.waiting_count,
        "voicemails_waiting": queue.voicemails_waiting,
        "callbacks_waiting": queue.callbacks_waiting,
        "longest_wait_seconds": _seconds(now, oldest) if oldest else 0,
        "oldest_enqueued_at": oldest,
        "agents": {name: getattr(queue, f"agents_{name}") for name in AGENT_BUCKETS},
        **{name: _window_out(figures.get(name) or {}) for name in WINDOWS},
    }


def _window_out(raw: dict) -> dict:
    answered, abandoned = raw.get("answered", 0), raw.get("abandoned", 0)
    within, handled = raw.get("within", 0), answered + abandoned
    return {
        "offered": raw.get("offered", 0),
        "answered": answered,
        "answered_within_service_level": within,
        "abandoned": abandoned,
        "short_abandoned": raw.get("short", 0),
        "service_level": round(within / handled, 4) if handled else None,
        "avg_wait_seconds": round(float(raw["wait"]) / answered, 1) if answered else None,
    }


# --- waiting list ---------------------------------------------------------------------------


def _waiting_calls(queues, now: datetime) -> list[dict]:
    """The global service order (priority, then time waited) over the visible queues, cut at
    WAITING_LIST_LIMIT; each call's position is its place in its own queue."""
    calls = []
    for queue in queues:
        head = [{**item, "enqueued_at": _instant(item["enqueued_at"])}
                for item in queue.waiting_head or []]  # fmt: skip
        head.sort(key=_service_order)
        calls += [
            {"id": item["id"], "queue": queue.pk, "priority": item["priority"],
             "enqueued_at": item["enqueued_at"], "position": position,
             "wait_seconds": _seconds(now, item["enqueued_at"])}
            for position, item in enumerate(head, start=1)
        ]  # fmt: skip
    return sorted(calls, key=_service_order)[:WAITING_LIST_LIMIT]


def _service_order(call: dict):
    return (-call["priority"], call["enqueued_at"], call["id"])


def _instant(text: str) -> datetime:
    # PostgreSQL's JSON says "…+00:00"; SQLite's keeps the stored naive UTC text.
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --- agents ---------------------------------------------------------------------------------


def _agents(user, now: datetime, *, overseer: bool) -> list[dict]:
    agents = Agent.objects.all()
    if not is_admin(user):
        if overseer:
            visible = queues_visible_to(user).values("pk")
            members = QueueMembership.objects.filter(agent=OuterRef("pk"), queue__in=visible)
            agents = agents.filter(Exists(members))
        else:
            agents = agents.filter(user_id=user.pk)
    # One row per not-ended call of the agent (or one with nulls): a join, so PostgreSQL can
    # read all live calls once from call_active_created_idx instead of each agent's history.
    live = FilteredRelation("calls", condition=Q(calls__ended_at__isnull=True))
    # The call an agent's leg serves, by primary key: a subquery, so the plan never hashes
    # the whole call table to join the few legs to their parents.
    served = Call.objects.filter(pk=OuterRef("live__parent_id"), ended_at__isnull=True).values(
        served=JSONObject(**{name: name for name in SERVED_FIELDS})
    )
    rows = (
        agents.annotate(live=live)
        .annotate(served=Subquery(served, output_field=JSONField()))
        .order_by("id")
        .values(*AGENT_FIELDS, *[f"live__{name}" for name in LIVE_FIELDS], "served")
    )
    today = callcenter_today(now)
    return [_agent_out(list(group), now, today) for _, group in groupby(rows, itemgetter("id"))]


def _agent_out(rows: list[dict], now: datetime, today) -> dict:
    row = rows[0]
    name = f"{row['user__first_name']} {row['user__last_name']}".strip()
    return {
        "id": row["id"],
        "name": name or row["user__username"],
        "username": row["user__username"],
        "status": row["status"],
        "away_reason": row["away_reason"],
        "status_changed_at": row["status_changed_at"],
        "status_seconds": _seconds(now, row["status_changed_at"]),
        "activity": row["activity"],
        "activity_changed_at": row["activity_changed_at"],
        "activity_seconds": _seconds(now, row["activity_changed_at"]),
        "active_calls": row["active_calls"],
        "max_concurrent_calls": row["max_concurrent_calls"],
        # The counter is reset lazily: one from an earlier day means none today.
        "calls_answered_today": row["calls_answered_today"] if row["counters_date"] == today else 0,
        "current_call": _current_call(rows),
    }


def _current_call(rows: list[dict]) -> dict | None:
    """The newest customer call the agent is on or being offered: a not-ended call of theirs,
    or the call their not-ended leg serves."""
    calls = {}
    for row in rows:
        if row["live__id"] is None:
            continue
        if row["live__parent_id"] is None:
            call_id = row["live__id"]
            call = {name: row[f"live__{name}"] for name in SERVED_FIELDS}
        elif row["served"]:
            call_id, call = row["live__parent_id"], dict(row["served"])
            for name in ("answered_at", "created_at"):
                call[name] = call[name] and _instant(call[name])
        else:
            continue  # a leg whose call has ended
        calls[call_id] = {"id": call_id, **call}
    if not calls:
        return None
    newest = max(calls.values(), key=lambda call: (call["created_at"], call["id"]))
    return {"id": newest["id"], "queue": newest["queue_id"], "stage": newest["stage"],
            "answered_at": newest["answered_at"]}  # fmt: skip


def _seconds(now: datetime, since: datetime | None) -> int | None:
    return None if since is None else max(0, int((now - since).total_seconds()))
