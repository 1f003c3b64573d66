"""Offers are addressed to a person: logged in the agent's event log (DESIGN.md §3.5), so a
dashboard that reconnects still learns of an offer ringing it, and of its end."""

from callcenter.models import Call
from realtime.publish import publish_to_user

from .models import Reservation


def _offer(reservation: Reservation, call: Call | None = None) -> dict:
    data = {
        "reservation_id": reservation.pk,
        "call_id": reservation.call_id,
        "queue_id": reservation.queue_id,
        "status": reservation.status,
        "offered_at": reservation.offered_at,
        "expires_at": reservation.expires_at,
        "ended_at": reservation.ended_at,
    }
    if call is not None:
        # The offered agent may see who is calling (their own call from now on).
        data["from_number"] = call.from_number
        data["queue_name"] = reservation.queue.name
    return data


def offer_created(reservation: Reservation, agent_user_id: int) -> None:
    publish_to_user(agent_user_id, "offer.created", _offer(reservation, reservation.call))


def offer_ended(reservation: Reservation, agent_user_id: int) -> None:
    publish_to_user(agent_user_id, "offer.updated", _offer(reservation))
