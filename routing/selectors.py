"""The claim's reads: locked with SKIP LOCKED so concurrent routers pass each other by."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from callcenter.choices import EscalationAction, WorkStatus
from callcenter.models import Agent, Call, CallbackRequest, Queue, QueueMembership, Voicemail
from callcenter.models.queues import EscalationStep

from . import known_agent
from .models import MISSED_STATUSES, OPEN_STATUSES, Reservation, WorkKind
from .strategies import ordered_for

# How long an agent who missed a voicemail or callback is not offered it again.
WORK_MISS_MEMORY = timedelta(minutes=10)


def claimable_calls() -> QuerySet[Call]:
    """Waiting callers of every queue in one service order, priority then true wait
    (call_waiting_global_order_idx); rows another router holds are skipped. Each carries
    what its tier limit depends on (best_agent), read by two subqueries on the rows fetched
    only: whether its queue widens tiers by escalation, and the queue of its last step."""
    return (
        Call.objects.waiting()
        .annotate(
            tier_widening=Exists(_widen_steps().filter(queue=OuterRef("queue"))),
            escalation_queue_id=Subquery(
                EscalationStep.objects.filter(pk=OuterRef("escalation_step")).values("queue")[:1]
            ),
        )
        .order_by("-priority", "enqueued_at", "id")
        .select_for_update(skip_locked=True, of=("self",))
    )


def claimable_work(limit: int) -> list:
    """Waiting voicemails and callbacks (a callback past its retry time), best `limit` of
    each in the same service order as callers: priority, then the caller's original place in
    the queue (the WorkItem waiting indexes' rows). Work whose call still has an open offer
    (a call that left both a voicemail and a callback) waits for that one to end, and rows
    another router holds are skipped."""
    now = timezone.now()
    found = []
    for work in (
        Voicemail.objects.all(),
        CallbackRequest.objects.filter(Q(retry_at__isnull=True) | Q(retry_at__lte=now)),
    ):
        found += (
            work.filter(status=WorkStatus.WAITING)
            .exclude(
                Exists(Reservation.objects.filter(call=OuterRef("call"), status__in=OPEN_STATUSES))
            )
            .select_related("queue", "call")
            .order_by("-priority", "enqueued_at", "id")
            .select_for_update(skip_locked=True, of=("self",))[:limit]
        )
    return found


def _widen_steps() -> QuerySet[EscalationStep]:
    return EscalationStep.objects.filter(action=EscalationAction.WIDEN_TIER)


def eligible_agents(
    call: Call, queue: Queue, *, level: int | None = None, work: str | None = None
) -> QuerySet[Agent]:
    """Members of the call's queue (of one tier, when given) who may be offered it now, best
    first: routable (agent_routable_idle_since_idx), past their reject / no-answer delay
    (`not_before`, a plain filter on the index's rows), and not one who already missed or
    rejected this call.

    `work`, for work a caller left (WorkKind): a miss is forgotten after WORK_MISS_MEMORY, so
    work every agent once missed is offered again rather than never; a voicemail goes only to
    agents whose dashboard is live (a heartbeat within PRESENCE_TIMEOUT_SECONDS), where it is
    taken rather than on a phone."""
    now = timezone.now()
    missed = _missed(call, since=now - WORK_MISS_MEMORY if work else None)
    members = {"memberships__queue": queue}
    if level is not None:
        members["memberships__level"] = level
    agents = (
        Agent.objects.routable()
        .filter(**members)
        .filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
        .exclude(pk__in=missed)
    )
    if work == WorkKind.VOICEMAIL:
        seen = now - timedelta(seconds=settings.PRESENCE_TIMEOUT_SECONDS)
        agents = agents.filter(last_seen_at__gte=seen)
    return ordered_for(queue, agents).select_for_update(skip_locked=True, of=("self",))


def _missed(call: Call, *, since: datetime | None = None) -> QuerySet:
    """Who already missed or rejected `call` (since `since`; reservation_call_agent_idx)."""
    missed = Reservation.objects.filter(call=call, status__in=MISSED_STATUSES)
    if since is not None:
        missed = missed.filter(ended_at__gte=since)
    return missed.values("agent_id")


def best_agent(call: Call, queue: Queue, *, work: str | None = None) -> Agent | None:
    """The agent to offer `call` to: with tiers, the best of the first tier that has one.

    Tiers are walked one query per level, so each stops at its first row of the routable
    index instead of sorting every member of the queue by tier. A queue with a widen-tier
    escalation step is tiered, and offers a caller to its first tier that has members only,
    up to the level a step widened it to (`Call.max_tier_level`) once one did.

    Before all that, a returning caller goes to the agent they last spoke with, or waits for
    them while they are busy, as long as the preference holds (routing.known_agent); not for
    work a caller left (`work`, see eligible_agents)."""
    if work is None and known_agent.preference_holds(call):
        preferred = eligible_agents(call, queue).filter(pk=call.preferred_agent_id).first()
        if preferred is not None or known_agent.waits_for(call, queue, _missed(call)):
            return preferred
    widening = tier_widening(call, queue)
    if not queue.use_tiers and not widening:
        return eligible_agents(call, queue, work=work).first()
    levels = list(
        QueueMembership.objects.filter(queue=queue)
        .order_by("level")
        .values_list("level", flat=True)
        .distinct()
    )
    if widening and levels:
        limit = widened_level(call, queue) or levels[0]
        levels = [level for level in levels if level <= limit]
    for level in levels:
        if agent := eligible_agents(call, queue, level=level, work=work).first():
            return agent
    return None


def tier_widening(call: Call, queue: Queue) -> bool:
    """Whether `queue` widens tiers by escalation (annotated by claimable_calls)."""
    if (known := getattr(call, "tier_widening", None)) is not None:
        return known
    return _widen_steps().filter(queue=queue).exists()


def widened_level(call: Call, queue: Queue) -> int | None:
    """The tier an escalation step widened `call` to in `queue`; None when none did (a level
    widened in another queue, before a move, does not count here)."""
    if call.max_tier_level is None:
        return None
    if not hasattr(call, "escalation_queue_id"):
        step = EscalationStep.objects.filter(pk=call.escalation_step_id)
        call.escalation_queue_id = step.values_list("queue_id", flat=True).first()
    return call.max_tier_level if call.escalation_queue_id == queue.pk else None
