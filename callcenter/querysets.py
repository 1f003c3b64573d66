"""Named queries of the core domain, written so PostgreSQL can use the named partial indexes.

A partial index serves a query only when the query's WHERE clause implies the index
predicate; the predicates below are shared by the index declarations (models) and the
querysets, so the two cannot drift apart.
"""

from django.db import models
from django.db.models import Count, F, Func, IntegerField, Min, OuterRef, Q, Subquery

from .choices import AgentActivity, AgentStatus, CallStage

# Predicate of `agent_routable_idle_since_idx`: agents who may be offered a call now.
ROUTABLE = Q(
    status=AgentStatus.AVAILABLE,
    activity__in=[AgentActivity.IDLE, AgentActivity.ON_CALL],
    active_calls__lt=F("max_concurrent_calls"),
)
# Predicate of `call_waiting_queue_order_idx`: callers waiting in a queue.
WAITING = Q(stage=CallStage.WAITING)
# Predicate of `call_active_created_idx`: calls not yet ended.
ACTIVE = Q(ended_at__isnull=True)

# The exclusive buckets dashboards count agents in.
AGENT_BUCKETS = {
    "available": Q(status=AgentStatus.AVAILABLE, activity=AgentActivity.IDLE),
    "offered": Q(activity=AgentActivity.OFFERED),
    "on_call": Q(activity=AgentActivity.ON_CALL),
    "wrap_up": Q(activity=AgentActivity.WRAP_UP),
    "away": Q(status=AgentStatus.AWAY, activity=AgentActivity.IDLE),
    "offline": Q(status=AgentStatus.OFFLINE, activity=AgentActivity.IDLE),
}


class AgentQuerySet(models.QuerySet):
    def routable(self):
        """Agents that may be offered a call now (agent_routable_idle_since_idx)."""
        return self.filter(ROUTABLE)

    def longest_idle_first(self):
        """Routable agents, longest idle first; the order is the index's order."""
        return self.routable().order_by("idle_since", "id")

    def in_queue(self, queue_id: int):
        return self.filter(memberships__queue_id=queue_id)

    def with_directory(self):
        """What agent lists show: the user and the queues, in a constant number of queries."""
        from .models import QueueMembership

        memberships = QueueMembership.objects.select_related("queue").order_by("queue__name")
        return self.select_related("user").prefetch_related(
            models.Prefetch("memberships", queryset=memberships)
        )


class QueueQuerySet(models.QuerySet):
    def active(self):
        return self.filter(is_active=True)

    def with_live_counts(self):
        """Annotate waiting callers, the oldest enqueue time and agents per bucket (one query).

        Waiting counts read `call_waiting_queue_order_idx`; agent buckets join memberships.
        """
        from .models import Call

        waiting = Call.objects.filter(WAITING, queue=OuterRef("pk")).order_by()
        buckets = {
            f"agents_{name}": Count(
                "memberships", filter=_prefix(condition, "memberships__agent__")
            )
            for name, condition in AGENT_BUCKETS.items()
        }
        # COUNT without GROUP BY is 0 for an empty queue, so no Coalesce is needed: wrapped in
        # one, the subquery would land in the outer GROUP BY and run once per membership row.
        count = Func("pk", function="COUNT", output_field=IntegerField())
        return self.annotate(
            waiting_count=Subquery(waiting.annotate(n=count).values("n")),
            oldest_enqueued_at=Subquery(
                waiting.values("queue").annotate(t=Min("enqueued_at")).values("t")[:1]
            ),
            **buckets,
        )


def _prefix(condition: Q, prefix: str) -> Q:
    """The same Q with every lookup moved under a relation (`status` → `x__status`)."""
    moved = Q(
        *[
            _prefix(child, prefix) if isinstance(child, Q) else (prefix + child[0], child[1])
            for child in condition.children
        ]
    )
    moved.connector, moved.negated = condition.connector, condition.negated
    return moved


class CallQuerySet(models.QuerySet):
    def waiting(self):
        """Callers waiting in any queue (call_waiting_queue_order_idx)."""
        return self.filter(WAITING)

    def waiting_in_queue(self, queue_id: int):
        """A queue's waiting callers in service order: priority, then time waited."""
        return self.waiting().filter(queue_id=queue_id).order_by("-priority", "enqueued_at", "id")

    def active(self):
        """Calls not yet ended (call_active_created_idx)."""
        return self.filter(ACTIVE)
