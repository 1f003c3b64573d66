"""A callback request routed to an agent: the agent's softphone rings first, with a leg that
holds; once they answer, the customer is dialed; the request is done when they talked, waits
again when nobody answered (and fails after CALLBACK_MAX_ATTEMPTS)."""

import itertools
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.utils import timezone

from callcenter.choices import AgentActivity, CallStage, QueueExit, WorkStatus
from callcenter.models import Agent, Call, CallbackRequest
from routing.models import Reservation, ReservationStatus, WorkKind
from routing.services import routing_claim_next
from telephony.models import Operation, OperationKind
from tests.factories import AgentFactory, QueueFactory, ended_call
from tests.webhooks.conftest import call_params

pytestmark = pytest.mark.django_db
STATUS = "/webhooks/twilio/voice/status/"
CUSTOMER = "+14155550199"
_seq = itertools.count(1)


@pytest.fixture
def offered(django_capture_on_commit_callbacks, settings):
    settings.CALLBACK_MAX_ATTEMPTS = 2
    queue = QueueFactory(wrap_up_seconds=0)
    agent = AgentFactory(queues=[queue])
    Agent.objects.filter(pk=agent.pk).update(status="available")
    request = CallbackRequest.objects.create(
        call=ended_call(queue, outcome="callback"),
        queue=queue,
        enqueued_at=timezone.now() - timedelta(minutes=4),
        number=CUSTOMER,
    )
    with django_capture_on_commit_callbacks(execute=False):
        reservation = routing_claim_next()
    assert reservation.kind == WorkKind.CALLBACK
    return reservation, request, agent


def leg_status(twilio, reservation, agent, call_status: str, sid: str = "CA" + "a" * 32):
    """A status callback of the agent's leg (its URL names the callback's call)."""
    params = call_params(
        sid,
        CallStatus=call_status,
        Direction="outbound-api",
        From="+15005550006",
        To=f"client:{agent.softphone_identity}",
        SequenceNumber=str(next(_seq)),
        CallbackSource="call-progress-events",
        CallDuration="30" if call_status == "completed" else "",
    )
    response = twilio.post(f"{STATUS}?for={reservation.call.call_sid}", params)
    assert response.status_code == 204


def customer_status(
    twilio, request, call_status: str, sid: str = "CA" + "c" * 32, leg: str = "CA" + "a" * 32
):
    """A status callback of the customer's leg dialed for the agent on `leg`."""
    params = call_params(
        sid,
        CallStatus=call_status,
        Direction="outbound-api",
        From="+15005550006",
        To=CUSTOMER,
        SequenceNumber=str(next(_seq)),
        CallbackSource="call-progress-events",
        CallDuration="95" if call_status == "completed" else "0",
    )
    response = twilio.post(f"{STATUS}?callback={request.pk}&leg={leg}", params)
    assert response.status_code == 204


def test_the_agent_holds_on_a_leg_of_its_own(twilio, offered):
    reservation, _request, _agent = offered
    ring = Operation.objects.get(kind=OperationKind.DIAL_AGENT)
    assert ring.params["role"] == "callback"
    document = twilio.twiml(
        f"/webhooks/twilio/voice/join/?call={reservation.call.call_sid}&role=callback",
        call_params("CA" + "a" * 32, To="client:someone"),
    )
    assert [verb.tag for verb in document] == ["Say", "Pause"]
    assert not document.findall(".//Conference")  # not the ended call's conference
    assert isinstance(document, ET.Element)


def test_agent_first_then_the_customer_who_talks(twilio, offered):
    reservation, request, agent = offered
    leg_status(twilio, reservation, agent, "ringing")
    assert not Operation.objects.filter(kind=OperationKind.DIAL_CALLBACK).exists()
    leg_status(twilio, reservation, agent, "in-progress")

    reservation.refresh_from_db()
    request.refresh_from_db()
    assert reservation.status == ReservationStatus.ACCEPTED
    assert request.status == WorkStatus.IN_PROGRESS
    assert Agent.objects.get(pk=agent.pk).activity == AgentActivity.ON_CALL
    dial = Operation.objects.get(kind=OperationKind.DIAL_CALLBACK)
    assert dial.params == {
        "to": CUSTOMER,
        "callback_id": request.pk,
        "agent_leg_sid": "CA" + "a" * 32,
    }

    customer_status(twilio, request, "ringing")
    customer_status(twilio, request, "in-progress")
    customer_status(twilio, request, "completed")
    request.refresh_from_db()
    dialed = Call.objects.get(call_sid="CA" + "c" * 32)
    assert request.status == WorkStatus.DONE and request.dialed_call == dialed
    assert dialed.agent == agent and dialed.answered_at is not None
    assert request.attempts == 0

    leg_status(twilio, reservation, agent, "completed")  # the conference ended
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.COMPLETED
    assert Agent.objects.get(pk=agent.pk).active_calls == 0


def test_an_unreached_customer_is_retried_later_then_given_up(twilio, offered, settings):
    reservation, request, agent = offered
    leg_status(twilio, reservation, agent, "in-progress")
    customer_status(twilio, request, "no-answer")

    request.refresh_from_db()
    assert request.status == WorkStatus.WAITING and request.agent is None
    assert request.attempts == 1 and request.retry_at > timezone.now()
    hang_up = Operation.objects.get(kind=OperationKind.HANGUP)
    assert hang_up.params == {"call_sid": "CA" + "a" * 32}  # the agent's waiting leg
    leg_status(twilio, reservation, agent, "completed")
    assert routing_claim_next() is None  # not before its retry time

    CallbackRequest.objects.filter(pk=request.pk).update(retry_at=timezone.now())
    second = routing_claim_next()
    assert second is not None and second.call_id == request.call_id
    leg_status(twilio, second, agent, "in-progress", sid="CA" + "b" * 32)
    customer_status(twilio, request, "busy", sid="CA" + "d" * 32, leg="CA" + "b" * 32)
    request.refresh_from_db()
    assert request.attempts == settings.CALLBACK_MAX_ATTEMPTS
    assert request.status == WorkStatus.FAILED and request.completed_at is not None


def test_an_agent_who_misses_it_leaves_it_waiting_in_place(twilio, offered):
    reservation, request, agent = offered
    leg_status(twilio, reservation, agent, "no-answer")
    reservation.refresh_from_db()
    request.refresh_from_db()
    assert reservation.status == ReservationStatus.TIMED_OUT
    assert request.status == WorkStatus.WAITING and request.attempts == 0
    assert request.retry_at is None
    assert not Operation.objects.filter(kind=OperationKind.DIAL_CALLBACK).exists()


def test_the_agent_leg_is_followed_though_the_callers_end_is_not_applied_yet(twilio, offered):
    """Under load the caller's hang-up can be applied after the callback's agent leg rang and
    ended: the request still waits again instead of staying offered for good."""
    reservation, request, agent = offered
    Call.objects.filter(pk=request.call_id).update(
        stage=CallStage.NEW, status="in-progress", ended_at=None, queue_exit=QueueExit.CALLBACK
    )
    leg_status(twilio, reservation, agent, "busy")
    reservation.refresh_from_db()
    request.refresh_from_db()
    assert reservation.status == ReservationStatus.REJECTED
    assert request.status == WorkStatus.WAITING and request.attempts == 0


def test_an_agent_who_hangs_up_before_the_customer_answers(twilio, offered):
    reservation, request, agent = offered
    leg_status(twilio, reservation, agent, "in-progress")
    customer_status(twilio, request, "ringing")
    leg_status(twilio, reservation, agent, "completed")
    hang_up = Operation.objects.get(kind=OperationKind.HANGUP)
    assert hang_up.params == {"call_sid": "CA" + "c" * 32}  # the customer's ringing leg
    # Not an unreached customer: it waited again with no attempt counted, and the routing
    # pass on commit offered it anew (the agent was free again).
    request.refresh_from_db()
    assert request.attempts == 0 and request.retry_at is None
    offers = Reservation.objects.filter(call=request.call).order_by("id")
    assert [r.status for r in offers] == [ReservationStatus.COMPLETED, ReservationStatus.OFFERED]
    assert request.status == WorkStatus.OFFERED


def test_a_dial_for_an_attempt_that_is_over_is_hung_up(twilio, offered):
    """The agent hung up before their dial reached the customer: when that dial's leg shows
    up it is hung up, and it is not taken for the request's call."""
    reservation, request, agent = offered
    leg_status(twilio, reservation, agent, "in-progress")
    leg_status(twilio, reservation, agent, "completed")
    customer_status(twilio, request, "ringing", sid="CA" + "e" * 32)
    request.refresh_from_db()
    assert request.dialed_call is None and request.attempts == 0
    hang_up = Operation.objects.get(kind=OperationKind.HANGUP)
    assert hang_up.params == {"call_sid": "CA" + "e" * 32}


def test_an_agent_who_leaves_a_customer_who_picked_up_lets_the_customer_decide(twilio, offered):
    reservation, request, agent = offered
    leg_status(twilio, reservation, agent, "in-progress")
    customer_status(twilio, request, "in-progress")
    leg_status(twilio, reservation, agent, "completed")
    request.refresh_from_db()
    assert request.status == WorkStatus.IN_PROGRESS  # the customer is on the line
    assert not Operation.objects.filter(kind=OperationKind.HANGUP).exists()
    customer_status(twilio, request, "completed")
    request.refresh_from_db()
    assert request.status == WorkStatus.DONE


def test_a_retry_missed_by_its_agent_waits_again(twilio, offered):
    """The previous attempt's dial (picked up) does not keep a missed new offer offered."""
    reservation, request, agent = offered
    leg_status(twilio, reservation, agent, "no-answer")  # frees the agent
    earlier = ended_call(request.queue, direction="outbound-api")
    CallbackRequest.objects.filter(pk=request.pk).update(dialed_call=earlier)
    Agent.objects.filter(pk=agent.pk).update(not_before=None)
    Reservation.objects.filter(pk=reservation.pk).update(status=ReservationStatus.COMPLETED)
    retry = routing_claim_next()
    assert retry is not None and retry.call_id == request.call_id
    leg_status(twilio, retry, agent, "no-answer", sid="CA" + "f" * 32)
    request.refresh_from_db()
    assert request.status == WorkStatus.WAITING and request.agent is None
