"""Offers are addressed to a person: logged in the agent's event log (DESIGN.md §3.5), so a
dashboard that reconnects still learns of an offer ringing it, and of its end."""

from callcenter.models import Call, CallbackRequest, Voicemail
from realtime.publish import publish_to_user

from .models import Reservation


def _offer(reservation: Reservation) -> dict:
    return {
        "reservation_id": reservation.pk,
        "kind": reservation.kind,
        "call_id": reservation.call_id,
        "queue_id": reservation.queue_id,
        "status": reservation.status,
        "offered_at": reservation.offered_at,
        "expires_at": reservation.expires_at,
        "ended_at": reservation.ended_at,
    }


def _details(call: Call, work: Voicemail | CallbackRequest | Call | None) -> dict:
    """What the offered agent may see of the caller (their own work from now on)."""
    data = {"from_number": call.from_number}
    if isinstance(work, Voicemail):
        data["voicemail"] = {
            "id": work.pk,
            "recording_url": work.recording_url,
            "duration_seconds": work.duration_seconds,
        }
    elif isinstance(work, CallbackRequest):
        data["callback"] = {"id": work.pk, "number": work.number, "attempts": work.attempts}
    return data


def offer_data(reservation: Reservation, work: Voicemail | CallbackRequest | Call | None) -> dict:
    """An offer as its agent sees it (the `offer.created` frame's data): `reservation` with its
    queue and call loaded; `work` the call offered, or the voicemail or callback request."""
    return {
        **_offer(reservation),
        "queue_name": reservation.queue.name,
        **_details(reservation.call, work),
    }


def offer_created(
    reservation: Reservation,
    agent_user_id: int,
    *,
    work: Voicemail | CallbackRequest | Call | None = None,
) -> None:
    """`work`: the call offered, or the voicemail or callback request a caller left."""
    publish_to_user(agent_user_id, "offer.created", offer_data(reservation, work))


def offer_ended(reservation: Reservation, agent_user_id: int) -> None:
    publish_to_user(agent_user_id, "offer.updated", _offer(reservation))
