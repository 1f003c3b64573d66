"""Offers of work that rings no phone (a voicemail): the offered agent takes, declines or
finishes it from their dashboard. Offers of callers and callbacks are answered on the
softphone instead, and their legs' callbacks drive them (routing.lifecycle)."""

from django.db import transaction

from callcenter.errors import TransitionNotAllowed
from callcenter.locks import lock_agent
from callcenter.models import Agent
from callcenter.services import work_finish, work_offer_lapsed, work_start

from .lifecycle import accept, complete, missed
from .models import Reservation, ReservationStatus, WorkKind

DESK_WORK = (WorkKind.VOICEMAIL,)


def _locked(reservation_id: int, agent: Agent, status: str) -> tuple[Reservation, Agent]:
    """The agent's own offer of desk work, locked with the agent (Reservation.DoesNotExist
    for anyone else's); TransitionNotAllowed unless it is in `status`."""
    reservation = (
        Reservation.objects.select_for_update(no_key=True, of=("self",))
        .select_related("queue")
        .get(pk=reservation_id, agent=agent, kind__in=DESK_WORK)
    )
    if reservation.status != status:
        raise TransitionNotAllowed(f"This offer is {reservation.status}.", code="offer_ended")
    return reservation, lock_agent(agent.pk)


@transaction.atomic
def routing_work_accept(*, reservation_id: int, agent: Agent) -> Reservation:
    reservation, agent = _locked(reservation_id, agent, ReservationStatus.OFFERED)
    work_start(kind=reservation.kind, call_id=reservation.call_id)
    accept(reservation, agent, reason="took a voicemail")
    return reservation


@transaction.atomic
def routing_work_reject(*, reservation_id: int, agent: Agent) -> Reservation:
    reservation, agent = _locked(reservation_id, agent, ReservationStatus.OFFERED)
    missed(reservation, agent, rejected=True)
    work_offer_lapsed(kind=reservation.kind, call_id=reservation.call_id)
    return reservation  # the agent idle again (agent_became_routable) routes it onwards


@transaction.atomic
def routing_work_complete(*, reservation_id: int, agent: Agent) -> Reservation:
    reservation, agent = _locked(reservation_id, agent, ReservationStatus.ACCEPTED)
    work_finish(kind=reservation.kind, call_id=reservation.call_id)
    complete(reservation, agent, talk_seconds=0)
    return reservation
