"""Claiming: pair the best waiting call with the best eligible agent, one short transaction
per pair. Correct under concurrency: rows are claimed with FOR UPDATE SKIP LOCKED, the agent's
active-call count rises under its CHECK, and the reservation's partial unique constraints make
any remaining race fail loudly instead of double-booking. Twilio is asked after commit."""

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from callcenter.choices import AgentActivity
from callcenter.locks import lock_agent
from callcenter.services import agent_change_activity, call_offer_to_agent

from . import notifications
from .known_agent import resolve_preferred_agent
from .models import Reservation
from .selectors import best_agent, claimable_calls

# How many waiting callers one claim looks at, best first, for one with an eligible agent.
CANDIDATE_CALLS = 20
# Test hook: a pause between choosing and writing, to widen races in stress tests.
race_pause = None


def routing_claim_next() -> Reservation | None:
    """Offer the best waiting call that has an eligible agent to that agent; None when no
    pair can be made now. A lost race (IntegrityError) is a None, never a double booking."""
    try:
        with transaction.atomic():
            for call in claimable_calls().select_related("queue")[:CANDIDATE_CALLS]:
                if call.preferred_agent_until is None:
                    resolve_preferred_agent(call)  # once per call, at its first claim attempt
                agent = best_agent(call, call.queue)
                if agent is not None:
                    return _reserve(call, agent)
    except IntegrityError:
        return None
    return None


def _reserve(call, agent) -> Reservation:
    if race_pause:
        race_pause()
    now = timezone.now()
    queue = call.queue
    reservation = Reservation.objects.create(
        call=call,
        agent=agent,
        queue=queue,
        offered_at=now,
        expires_at=now + timedelta(seconds=queue.ring_timeout_seconds),
    )
    agent_change_activity(
        agent=lock_agent(agent.pk),
        activity=AgentActivity.OFFERED,
        active_calls_delta=1,
        at=now,
        reason="offered a call",
        offered=True,
    )
    call_offer_to_agent(
        call=call,
        agent=agent,
        ring_timeout=queue.ring_timeout_seconds,
        offer_key=f"reservation:{reservation.pk}",
    )
    notifications.offer_created(reservation, agent.user_id)
    return reservation


def routing_run(*, limit: int = 1000) -> int:
    """Claim until no pair can be made (or `limit`); how many offers were made."""
    made = 0
    while made < limit and routing_claim_next() is not None:
        made += 1
    return made
