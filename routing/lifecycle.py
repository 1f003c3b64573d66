"""The reservation lifecycle, driven by the calls' applied callbacks:
offered → accepted (the agent's leg answered) → completed (the leg ended after talking);
offered → timed out (no answer) | rejected (busy) | canceled (the customer left first).

The agent's activity and active-call count follow every step; a completed call starts the
agent's wrap-up; MAX_MISSES missed offers in a row set the agent away.
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from callcenter.choices import AgentActivity, AgentStatus, CallStatus, StatusEventSource
from callcenter.locks import lock_agent
from callcenter.models import Agent, Call
from callcenter.services import (
    agent_change_activity,
    agent_set_status,
    call_hang_up,
    call_offer_lapsed,
    work_offer_lapsed,
)

from . import notifications
from .escalation import routing_escalate
from .models import OPEN_STATUSES, Reservation, ReservationStatus, WorkKind

MAX_MISSES = 3
MISSED_REASON = "missed calls"


def routing_after_call_change(call: Call | None) -> None:
    """Settle the reservation a call's change decides; offer waiting calls to whoever is
    free after it."""
    offers = _offer_of(call) if call is not None else None
    if offers is None or not offers.exists():
        return  # most changes (a caller's progress, a call nobody was offered) settle nothing
    with transaction.atomic():
        freed = _settle(call)
    # An agent left available and idle has asked for routing already (agent_became_routable):
    # ask once per change, not twice.
    if freed is not None and not _routable_idle(freed):
        from .tasks import routing_run_task

        routing_run_task.delay()


def _routable_idle(agent: Agent) -> bool:
    return agent.status == AgentStatus.AVAILABLE and agent.activity == AgentActivity.IDLE


def _offer_of(call: Call):
    """The open offers `call`'s change may settle: its agent leg's, or its own ringing one
    once it ended (an unlocked read: _settle locks and checks again); None when it cannot
    have any, without asking the database."""
    if call.parent_id and call.agent_id:
        return Reservation.objects.filter(
            call_id=call.parent_id, agent_id=call.agent_id, status__in=OPEN_STATUSES
        )
    if call.ended_at is not None and call.queue_id is not None:  # never queued: never offered
        return Reservation.objects.filter(call=call, status=ReservationStatus.OFFERED)
    return None


def _settle(call: Call) -> Agent | None:
    """The agent an ended offer freed (a place for a call, or the call for someone else)."""
    if call.parent_id and call.agent_id:
        return _agent_leg_changed(call)
    if call.ended_at is not None:
        return _customer_left(call)
    return None


def _open_reservation(**filters) -> Reservation | None:
    # Locks the reservation only: its queue row must stay free for the FK checks (KEY SHARE)
    # of every claim's commit, or applies and claims deadlock on it.
    found = Reservation.objects.select_for_update(no_key=True, of=("self",)).filter(
        status__in=OPEN_STATUSES, **filters
    )
    return found.select_related("queue").order_by().first()


def _close(reservation: Reservation, status: str, agent_user_id: int) -> None:
    reservation.status, reservation.ended_at = status, timezone.now()
    reservation.save(update_fields=["status", "ended_at"])
    notifications.offer_ended(reservation, agent_user_id)


def _agent_leg_changed(leg: Call) -> Agent | None:
    reservation = _open_reservation(call_id=leg.parent_id, agent_id=leg.agent_id)
    if reservation is None:
        return None
    agent = lock_agent(leg.agent_id)
    if leg.ended_at is None:
        if leg.status == CallStatus.IN_PROGRESS and reservation.status == ReservationStatus.OFFERED:
            accept(reservation, agent, reason="answered an offer")
        return None
    if leg.answered_at is not None:
        complete(reservation, agent, talk_seconds=leg.talk_seconds or 0)
    else:
        missed(reservation, agent, rejected=leg.status == CallStatus.BUSY)
    return agent


def accept(reservation: Reservation, agent: Agent, *, reason: str) -> None:
    """The agent took the offer: on a call (or busy with the work) until it completes.
    Precondition: the caller holds both rows' locks."""
    reservation.status = ReservationStatus.ACCEPTED
    reservation.save(update_fields=["status"])
    notifications.offer_ended(reservation, agent.user_id)
    agent_change_activity(agent=agent, activity=AgentActivity.ON_CALL, reason=reason)


def complete(reservation: Reservation, agent: Agent, *, talk_seconds: int) -> None:
    """The agent is done with the offer they took: wrap-up (or idle, or still on another
    call). Precondition: the caller holds both rows' locks."""
    _close(reservation, ReservationStatus.COMPLETED, agent.user_id)
    wrap = timedelta(seconds=reservation.queue.wrap_up_seconds)
    idle = agent.active_calls <= 1
    agent_change_activity(
        agent=agent,
        activity=(AgentActivity.WRAP_UP if wrap else AgentActivity.IDLE)
        if idle
        else AgentActivity.ON_CALL,
        active_calls_delta=-1,
        reason="call ended",
        wrap_up_until=timezone.now() + wrap,
        answered_talk_seconds=talk_seconds,
        missed_offer=False,
    )


def missed(reservation: Reservation, agent: Agent, *, rejected: bool) -> None:
    """The agent rejected or did not answer the offer: the queue's delay before their next
    offer, and after MAX_MISSES in a row they are set away. The call or work waits again
    (its own side: callcenter). Precondition: the caller holds both rows' locks."""
    status = ReservationStatus.REJECTED if rejected else ReservationStatus.TIMED_OUT
    _close(reservation, status, agent.user_id)
    _delay_next_offer(agent, reservation.queue, rejected=rejected)
    _release(agent, reason="missed an offer", missed_offer=True)
    if agent.consecutive_missed_offers >= MAX_MISSES and agent.status == AgentStatus.AVAILABLE:
        agent_set_status(
            agent_id=agent.pk,
            status=AgentStatus.AWAY,
            reason=MISSED_REASON,
            source=StatusEventSource.SYSTEM,
        )


def _delay_next_offer(agent: Agent, queue, *, rejected: bool) -> None:
    """No offer to an agent who just rejected or missed one for the queue's delay
    X.
    Precondition: the caller holds the agent's row lock."""
    delay = queue.reject_delay_seconds if rejected else queue.no_answer_delay_seconds
    if not delay:
        return
    until = timezone.now() + timedelta(seconds=delay)
    if agent.not_before is None or agent.not_before < until:
        agent.not_before = until
        agent.save(update_fields=["not_before"])


def _customer_left(call: Call) -> Agent | None:
    """The customer hung up while their offer was ringing: cancel it and stop the ring."""
    reservation = _open_reservation(call=call, status=ReservationStatus.OFFERED)
    if reservation is None:
        return None
    agent = lock_agent(reservation.agent_id)
    _close(reservation, ReservationStatus.CANCELED, agent.user_id)
    _release(agent, reason="caller hung up")
    for leg in Call.objects.filter(
        parent=call, agent_id=reservation.agent_id, ended_at__isnull=True
    ):
        call_hang_up(call=leg, request_key="offer-canceled")
    return agent


def _release(agent, *, reason: str, missed_offer: bool | None = None) -> None:
    """One offer fewer; idle again when it was the agent's only one."""
    activity = AgentActivity.IDLE if agent.active_calls <= 1 else agent.activity
    agent_change_activity(
        agent=agent,
        activity=activity,
        active_calls_delta=-1,
        reason=reason,
        missed_offer=missed_offer,
    )


def routing_sweep(*, grace_seconds: int = 30) -> dict[str, int]:
    """The safety net: wrap-ups that are over end, offers ringing past their timeout (plus a
    grace for late callbacks) time out, so no agent stays reserved; then the escalation steps
    that are due apply (routing.escalation). The task routes again after it."""
    now = timezone.now()
    wrapped = 0
    for agent_id in Agent.objects.filter(
        activity=AgentActivity.WRAP_UP, wrap_up_until__lte=now
    ).values_list("pk", flat=True):
        with transaction.atomic():
            agent = lock_agent(agent_id)
            if agent.activity == AgentActivity.WRAP_UP and agent.wrap_up_until <= now:
                agent_change_activity(
                    agent=agent, activity=AgentActivity.IDLE, reason="wrap-up over"
                )
                wrapped += 1
    expired = 0
    stale = Reservation.objects.filter(
        status=ReservationStatus.OFFERED, expires_at__lt=now - timedelta(seconds=grace_seconds)
    ).values_list("pk", flat=True)
    for reservation_id in stale:
        with transaction.atomic():
            reservation = (
                Reservation.objects.select_for_update(no_key=True)
                .filter(pk=reservation_id, status=ReservationStatus.OFFERED)
                .first()
            )
            if reservation is None:
                continue
            agent = lock_agent(reservation.agent_id)
            missed(reservation, agent, rejected=False)
            if reservation.kind == WorkKind.CALL:
                call_offer_lapsed(call_id=reservation.call_id)
            else:
                work_offer_lapsed(kind=reservation.kind, call_id=reservation.call_id)
            expired += 1
    return {"wrap_ups_ended": wrapped, "offers_expired": expired, "escalated": routing_escalate()}
