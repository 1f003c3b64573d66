"""The claim's reads: locked with SKIP LOCKED so concurrent routers pass each other by."""

from django.db.models import QuerySet

from callcenter.models import Agent, Call, Queue

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


def eligible_agents(call: Call, queue: Queue) -> QuerySet[Agent]:
    """Members of the call's queue who may be offered it now, best first: routable
    (agent_routable_idle_since_idx), and not one who already missed or rejected this call."""
    missed = Reservation.objects.filter(call=call, status__in=MISSED_STATUSES).values("agent_id")
    agents = Agent.objects.routable().filter(memberships__queue=queue).exclude(pk__in=missed)
    return ordered_for(queue, agents).select_for_update(skip_locked=True, of=("self",))
