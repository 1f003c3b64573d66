"""Claiming: pair the best waiting call with the best eligible agent, one short transaction
per pair. Correct under concurrency: rows are claimed with FOR UPDATE SKIP LOCKED, the agent's
active-call count rises under its CHECK, and the reservation's partial unique constraints make
any remaining race fail loudly instead of double-booking. Twilio is asked after commit."""

from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from callcenter.choices import AgentActivity
from callcenter.models import CallbackRequest
from callcenter.services import agent_change_activity, call_offer_to_agent, work_offer_to_agent

from . import notifications
from .known_agent import resolve_preferred_agent
from .models import Reservation, WorkKind
from .selectors import best_agent, claimable_calls, claimable_work

# How many waiting callers one claim looks at, best first, for one with an eligible agent.
CANDIDATE_CALLS = 20
# Test hook: a pause between choosing and writing, to widen races in stress tests.
race_pause = None


def routing_claim_next() -> Reservation | None:
    """Offer the best waiting call that has an eligible agent to that agent; None when no
    pair can be made now. A lost race (IntegrityError) is a None, never a double booking."""
    try:
        with transaction.atomic():
            for candidate in _candidates():
                if (agent := _best_agent_for(candidate)) is not None:
                    return _reserve(candidate, agent)
    except IntegrityError:
        return None
    return None


@dataclass(frozen=True)
class _Candidate:
    kind: str
    item: object  # a Call, or the Voicemail / CallbackRequest a caller left

    @property
    def order(self) -> tuple:
        """Service order across callers and work: priority, then the caller's place."""
        return (-self.item.priority, self.item.enqueued_at, self.kind != WorkKind.CALL)


def _best_agent_for(candidate: _Candidate):
    item = candidate.item
    if candidate.kind == WorkKind.CALL:
        if item.preferred_agent_until is None:
            resolve_preferred_agent(item)  # once per call, at its first claim attempt
        return best_agent(item, item.queue)
    return best_agent(item.call, item.queue, work=candidate.kind)


def _candidates() -> list[_Candidate]:
    """The best waiting callers and work items, locked, in one service order."""
    calls = claimable_calls().select_related("queue")[:CANDIDATE_CALLS]
    found = [_Candidate(WorkKind.CALL, call) for call in calls]
    for item in claimable_work(CANDIDATE_CALLS):
        kind = WorkKind.CALLBACK if isinstance(item, CallbackRequest) else WorkKind.VOICEMAIL
        found.append(_Candidate(kind, item))
    return sorted(found, key=lambda candidate: candidate.order)


def _reserve(candidate: _Candidate, agent) -> Reservation:
    if race_pause:
        race_pause()
    now, item = timezone.now(), candidate.item
    queue = item.queue
    reservation = Reservation.objects.create(
        call=item if candidate.kind == WorkKind.CALL else item.call,
        kind=candidate.kind,
        agent=agent,
        queue=queue,
        offered_at=now,
        expires_at=now + timedelta(seconds=queue.ring_timeout_seconds),
    )
    agent_change_activity(
        agent=agent,  # locked and read by the claim (eligible_agents: FOR UPDATE)
        activity=AgentActivity.OFFERED,
        active_calls_delta=1,
        at=now,
        reason="offered a call",
        offered=True,
    )
    ring = {
        "ring_timeout": queue.ring_timeout_seconds,
        "offer_key": f"reservation:{reservation.pk}",
    }
    if candidate.kind == WorkKind.CALL:
        call_offer_to_agent(call=item, agent=agent, **ring)
    else:
        work_offer_to_agent(item=item, agent=agent, **ring)
    notifications.offer_created(reservation, agent.user_id, work=item)
    return reservation


def routing_run(*, limit: int = 1000) -> int:
    """Claim until no pair can be made (or `limit`); how many offers were made."""
    made = 0
    while made < limit and routing_claim_next() is not None:
        made += 1
    return made
