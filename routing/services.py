"""Claiming: pair the best waiting call with the best eligible agent, one statement per pair
(routing.claim). Correct under concurrency: rows are claimed with FOR NO KEY UPDATE SKIP
LOCKED, the agent's active-call count rises under its CHECK, and the reservation's partial
unique constraints turn any remaining race into a lost claim instead of a double booking.
Twilio is asked after commit."""

from django.db import connection, transaction

from callcenter.models import Call, Queue
from callcenter.rows import from_db
from callcenter.services.offers import offer_made

from . import notifications
from .claim import RESERVATION_COLUMNS, execute_claim
from .claim_embedded import execute_claim as execute_claim_embedded
from .models import Reservation

# The claim's row: the reservation, its queue's name and caller's number, then the offer's.
_QUEUE_NAME = len(RESERVATION_COLUMNS)
_OFFERED = _QUEUE_NAME + 2
# Test hook: a pause after the claim, holding its locks, to widen races in stress tests.
race_pause = None


def routing_claim_next() -> Reservation | None:
    """Offer the best waiting call that has an eligible agent to that agent; None when no
    pair can be made now, or another router's claim won the race for it."""
    # No savepoint: a lost race writes nothing rather than raising (ON CONFLICT DO NOTHING).
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        claim = execute_claim if connection.vendor == "postgresql" else execute_claim_embedded
        row = claim(cursor)
        if row is None:
            return None
        if race_pause:
            race_pause()
        reservation = from_db(Reservation, RESERVATION_COLUMNS, row[:_QUEUE_NAME])
        queue_name, from_number = row[_QUEUE_NAME:_OFFERED]
        reservation.agent, offered = offer_made(list(row[_OFFERED:]))
        reservation.queue = Queue.from_db(
            "default", ("id", "name"), (reservation.queue_id, queue_name)
        )
        reservation.call = (
            offered
            if isinstance(offered, Call)
            else Call.from_db("default", ("id", "from_number"), (reservation.call_id, from_number))
        )
        notifications.offer_created(reservation, reservation.agent.user_id, work=offered)
    return reservation


def routing_run(*, limit: int = 1000) -> int:
    """Claim until no pair can be made (or `limit`); how many offers were made."""
    made = 0
    while made < limit and routing_claim_next() is not None:
        made += 1
    return made
