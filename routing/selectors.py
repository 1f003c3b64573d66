"""Routing's reads."""

from django.db.models import Q

from callcenter.models import Agent, CallbackRequest, Voicemail

from .models import Reservation, ReservationStatus, WorkKind
from .notifications import offer_data


def open_offers(user) -> list[dict]:
    """The user's offers still open, as their `offer.created` frames said them: ringing ones
    (any kind) and voicemails taken and not completed. At most four queries: the agent, the
    reservations, and one for each kind of work they are for."""
    agent = Agent.objects.filter(user=user).only("pk").first()
    if agent is None:
        return []
    taken_voicemail = Q(status=ReservationStatus.ACCEPTED, kind=WorkKind.VOICEMAIL)
    reservations = list(
        Reservation.objects.filter(Q(status=ReservationStatus.OFFERED) | taken_voicemail)
        .filter(agent=agent)
        .select_related("queue", "call")
    )
    calls = {r.call_id for r in reservations}
    work_of = {}
    for model, kind in ((Voicemail, WorkKind.VOICEMAIL), (CallbackRequest, WorkKind.CALLBACK)):
        if any(r.kind == kind for r in reservations):
            for item in model.objects.filter(call_id__in=calls, agent=agent):
                work_of[(kind, item.call_id)] = item
    return [offer_data(r, work_of.get((r.kind, r.call_id), r.call)) for r in reservations]
