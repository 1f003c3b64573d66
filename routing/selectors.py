"""The claim's reads: locked with SKIP LOCKED so concurrent routers pass each other by."""

from django.db.models import QuerySet

from callcenter.models import Agent, Call, Queue, QueueMembership

from .models import MISSED_STATUSES, Reservation
from .strategies import ordered_for


def claimable_calls() -> QuerySet[Call]:
    """Waiting callers of every queue in one service order, priority then true wait
    (call_waiting_global_order_idx); rows another router holds are skipped."""
    return (
        Call.objects.waiting()
        .order_by("-priority", "enqueued_at", "id")
        .select_for_update(skip_locked=True, of=("self",))
    )


def eligible_agents(call: Call, queue: Queue, *, level: int | None = None) -> QuerySet[Agent]:
    """Members of the call's queue (of one tier, when given) who may be offered it now, best
    first: routable (agent_routable_idle_since_idx), and not one who already missed or
    rejected this call."""
    missed = Reservation.objects.filter(call=call, status__in=MISSED_STATUSES).values("agent_id")
    members = {"memberships__queue": queue}
    if level is not None:
        members["memberships__level"] = level
    agents = Agent.objects.routable().filter(**members).exclude(pk__in=missed)
    return ordered_for(queue, agents).select_for_update(skip_locked=True, of=("self",))


def best_agent(call: Call, queue: Queue) -> Agent | None:
    """The agent to offer `call` to: with tiers, the best of the first tier that has one.

    Tiers are walked one query per level, so each stops at its first row of the routable
    index instead of sorting every member of the queue by tier."""
    if not queue.use_tiers:
        return eligible_agents(call, queue).first()
    levels = (
        QueueMembership.objects.filter(queue=queue)
        .order_by("level")
        .values_list("level", flat=True)
        .distinct()
    )
    for level in levels:
        if (agent := eligible_agents(call, queue, level=level).first()) is not None:
            return agent
    return None
