"""Offers reach the agent through their event log: created when routing reserves them, updated
when the reservation ends, so a dashboard that reconnects still learns of them."""

from datetime import timedelta

import pytest

from callcenter.choices import AgentStatus
from realtime.log import replay_after
from routing.lifecycle import routing_sweep
from routing.models import Reservation, ReservationStatus
from routing.services import routing_claim_next
from tests.factories import AgentFactory, QueueFactory, waiting_call

pytestmark = pytest.mark.django_db


def test_an_offer_is_logged_for_the_agent_and_its_end_too(django_capture_on_commit_callbacks):
    queue = QueueFactory(ring_timeout_seconds=15)
    agent = AgentFactory(queues=[queue], status=AgentStatus.AVAILABLE)
    other = AgentFactory(queues=[queue])
    call = waiting_call(queue, from_number="+15557654321")
    with django_capture_on_commit_callbacks(execute=False):
        reservation = routing_claim_next()

    (offer,) = replay_after(agent.user_id, 0).frames
    assert offer["type"] == "offer.created"
    assert offer["data"]["reservation_id"] == reservation.pk
    assert offer["data"]["call_id"] == call.pk
    assert offer["data"]["from_number"] == "+15557654321"
    assert offer["data"]["status"] == ReservationStatus.OFFERED
    assert replay_after(other.user_id, 0).frames == []

    long_ago = reservation.offered_at - timedelta(hours=1)
    Reservation.objects.filter(pk=reservation.pk).update(
        offered_at=long_ago, expires_at=long_ago + timedelta(seconds=15)
    )
    with django_capture_on_commit_callbacks(execute=False):
        routing_sweep()
    frames = replay_after(agent.user_id, 1).frames
    assert [(f["type"], f["data"]["status"]) for f in frames] == [
        ("offer.updated", ReservationStatus.TIMED_OUT)
    ]
