"""Voicemails and callbacks routed like callers: in the callers' original order, offered to
one agent at a time, and a voicemail taken, declined or finished from the dashboard."""

import threading
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from callcenter.choices import AgentActivity, WorkStatus
from callcenter.models import Agent, CallbackRequest, Voicemail
from realtime.models import UserEvent
from routing import services as routing_services
from routing.lifecycle import routing_sweep
from routing.models import Reservation, ReservationStatus, WorkKind
from routing.services import routing_claim_next
from telephony.models import Operation, OperationKind
from tests.concurrency import run_routers
from tests.factories import AgentFactory, QueueFactory, UserFactory, ended_call, waiting_call

pytestmark = pytest.mark.django_db


def available(queue, *, at_desk: bool = True) -> Agent:
    """An available agent, with their dashboard open (a recent heartbeat) or phone only."""
    agent = AgentFactory(queues=[queue])
    seen = timezone.now() if at_desk else None
    Agent.objects.filter(pk=agent.pk).update(status="available", last_seen_at=seen)
    return Agent.objects.get(pk=agent.pk)


def voicemail(queue, *, waited: timedelta, priority: int = 0) -> Voicemail:
    call = ended_call(queue, outcome="voicemail")
    return Voicemail.objects.create(
        call=call,
        queue=queue,
        priority=priority,
        enqueued_at=timezone.now() - waited,
        recording_sid=f"RE{call.pk:032x}",
        recording_url=f"https://api.twilio.com/recordings/RE{call.pk:032x}",
        duration_seconds=42,
    )


def callback(queue, *, waited: timedelta, **fields) -> CallbackRequest:
    call = ended_call(queue, outcome="callback")
    return CallbackRequest.objects.create(
        call=call,
        queue=queue,
        enqueued_at=timezone.now() - waited,
        number="+14155550199",
        **fields,
    )


def claim(django_capture_on_commit_callbacks) -> Reservation | None:
    with django_capture_on_commit_callbacks(execute=False):
        return routing_claim_next()


def test_work_keeps_the_callers_place_among_live_callers(django_capture_on_commit_callbacks):
    queue = QueueFactory()
    agents = [available(queue) for _ in range(3)]
    live = waiting_call(queue, waited=timedelta(minutes=2))
    older = callback(queue, waited=timedelta(minutes=10))
    message = voicemail(queue, waited=timedelta(minutes=5))

    offered = [claim(django_capture_on_commit_callbacks) for _ in agents]

    assert [(r.kind, r.call_id) for r in offered] == [
        (WorkKind.CALLBACK, older.call_id),
        (WorkKind.VOICEMAIL, message.call_id),
        (WorkKind.CALL, live.pk),
    ]
    older.refresh_from_db()
    message.refresh_from_db()
    assert older.status == message.status == WorkStatus.OFFERED
    assert {older.agent_id, message.agent_id} <= {a.pk for a in agents}
    for reservation in offered:
        agent = Agent.objects.get(pk=reservation.agent_id)
        assert agent.activity == AgentActivity.OFFERED and agent.active_calls == 1
    # The callback rings the agent's softphone, on a leg that waits for the customer.
    ring = Operation.objects.get(kind=OperationKind.DIAL_AGENT, call_sid=older.call.call_sid)
    assert ring.params["role"] == "callback"
    # A voicemail rings no phone: the offer reaches the agent's dashboard with the message.
    frame = UserEvent.objects.get(
        user=Agent.objects.get(pk=message.agent_id).user, type="offer.created"
    )
    assert frame.data["kind"] == "voicemail"
    assert frame.data["voicemail"]["recording_url"] == message.recording_url


def test_priority_beats_age_and_a_callback_waits_for_its_retry(django_capture_on_commit_callbacks):
    queue = QueueFactory()
    available(queue)
    callback(queue, waited=timedelta(hours=1), retry_at=timezone.now() + timedelta(minutes=5))
    old = voicemail(queue, waited=timedelta(minutes=30))
    urgent = waiting_call(queue, waited=timedelta(seconds=5), priority=5)
    assert claim(django_capture_on_commit_callbacks).call_id == urgent.pk
    available(queue)
    assert claim(django_capture_on_commit_callbacks).call_id == old.call_id
    available(queue)
    assert claim(django_capture_on_commit_callbacks) is None  # the callback is not due yet


def test_a_call_with_an_open_offer_is_not_offered_twice(django_capture_on_commit_callbacks):
    queue = QueueFactory()
    available(queue)
    available(queue)
    message = voicemail(queue, waited=timedelta(minutes=3))
    CallbackRequest.objects.create(
        call=message.call, queue=queue, enqueued_at=message.enqueued_at, number="+14155550199"
    )
    assert claim(django_capture_on_commit_callbacks) is not None
    assert claim(django_capture_on_commit_callbacks) is None  # waits for the first to end


def test_a_voicemail_goes_only_to_an_agent_at_their_dashboard(django_capture_on_commit_callbacks):
    queue = QueueFactory()
    available(queue, at_desk=False)
    quiet = available(queue)
    Agent.objects.filter(pk=quiet.pk).update(last_seen_at=timezone.now() - timedelta(hours=1))
    message = voicemail(queue, waited=timedelta(minutes=3))
    assert claim(django_capture_on_commit_callbacks) is None
    at_desk = available(queue)
    assert claim(django_capture_on_commit_callbacks).agent_id == at_desk.pk
    message.refresh_from_db()
    assert message.agent_id == at_desk.pk
    # Phone work needs no dashboard: a callback goes to whoever is free.
    callback(queue, waited=timedelta(minutes=1))
    assert claim(django_capture_on_commit_callbacks).kind == WorkKind.CALLBACK


@pytest.fixture
def offered_voicemail(django_capture_on_commit_callbacks):
    queue = QueueFactory(wrap_up_seconds=30, reject_delay_seconds=20)
    agent = available(queue)
    message = voicemail(queue, waited=timedelta(minutes=3))
    reservation = claim(django_capture_on_commit_callbacks)
    assert reservation.kind == WorkKind.VOICEMAIL
    client = APIClient()
    client.force_authenticate(agent.user)
    return reservation, message, agent, client


def post(client, reservation: Reservation | int, action: str, capture):
    pk = getattr(reservation, "pk", reservation)
    with capture(execute=True):
        return client.post(f"/api/v1/offers/{pk}/{action}/")


def test_a_voicemail_is_taken_then_finished(offered_voicemail, django_capture_on_commit_callbacks):
    reservation, message, agent, client = offered_voicemail
    response = post(client, reservation, "accept", django_capture_on_commit_callbacks)
    assert response.status_code == 200 and response.json()["status"] == "accepted"
    message.refresh_from_db()
    assert message.status == WorkStatus.IN_PROGRESS
    assert Agent.objects.get(pk=agent.pk).activity == AgentActivity.ON_CALL

    response = post(client, reservation, "complete", django_capture_on_commit_callbacks)
    assert response.status_code == 200 and response.json()["status"] == "completed"
    message.refresh_from_db()
    assert message.status == WorkStatus.DONE and message.completed_at is not None
    agent.refresh_from_db()
    assert agent.activity == AgentActivity.WRAP_UP and agent.active_calls == 0


def test_a_declined_voicemail_goes_to_someone_else(
    offered_voicemail, django_capture_on_commit_callbacks
):
    reservation, message, agent, client = offered_voicemail
    other = available(message.queue)
    response = post(client, reservation, "reject", django_capture_on_commit_callbacks)
    assert response.status_code == 200 and response.json()["status"] == "rejected"
    agent.refresh_from_db()
    assert agent.activity == AgentActivity.IDLE and agent.consecutive_missed_offers == 1
    assert agent.not_before > timezone.now()  # the queue's reject delay
    # The routing pass run on commit offered it to the other agent, keeping its place.
    message.refresh_from_db()
    assert message.status == WorkStatus.OFFERED and message.agent_id == other.pk
    assert message.enqueued_at < timezone.now() - timedelta(minutes=2)


def test_wrong_steps_and_other_peoples_offers_are_refused(
    offered_voicemail, django_capture_on_commit_callbacks
):
    reservation, message, agent, client = offered_voicemail
    capture = django_capture_on_commit_callbacks
    response = post(client, reservation, "complete", capture)
    assert response.status_code == 409 and response.json()["error"]["code"] == "offer_ended"
    stranger = APIClient()
    stranger.force_authenticate(available(message.queue).user)
    assert post(stranger, reservation, "accept", capture).status_code == 404
    supervisor = APIClient()
    supervisor.force_authenticate(UserFactory(roles=["supervisor"]))
    assert post(supervisor, reservation, "accept", capture).status_code == 404
    assert post(APIClient(), reservation, "accept", capture).status_code in (401, 403)
    assert post(client, reservation, "accept", capture).status_code == 200
    assert post(client, reservation, "accept", capture).status_code == 409  # taken already
    assert post(client, reservation.pk + 1000, "accept", capture).status_code == 404
    message.refresh_from_db()
    assert message.status == WorkStatus.IN_PROGRESS and message.agent_id == agent.pk


def test_the_sweep_expires_an_unanswered_voicemail_offer(
    offered_voicemail, django_capture_on_commit_callbacks
):
    reservation, message, agent, _client = offered_voicemail
    Reservation.objects.filter(pk=reservation.pk).update(
        offered_at=timezone.now() - timedelta(minutes=6),
        expires_at=timezone.now() - timedelta(minutes=5),
    )
    with django_capture_on_commit_callbacks(execute=False):
        assert routing_sweep()["offers_expired"] == 1
    reservation.refresh_from_db()
    message.refresh_from_db()
    agent.refresh_from_db()
    assert reservation.status == ReservationStatus.TIMED_OUT
    assert message.status == WorkStatus.WAITING and message.agent_id is None
    assert agent.activity == AgentActivity.IDLE and agent.consecutive_missed_offers == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_routers_offer_each_voicemail_once(monkeypatch):
    queue = QueueFactory()
    agents = [available(queue) for _ in range(3)]
    for minutes in range(6):
        voicemail(queue, waited=timedelta(minutes=minutes + 1))
    monkeypatch.setattr(routing_services, "race_pause", lambda: threading.Event().wait(0.05))
    _claims, errors = run_routers(6)
    assert not errors
    offers = list(Reservation.objects.all())
    assert len(offers) == len(agents)  # one each: an offered agent is busy
    assert len({r.call_id for r in offers}) == len(offers)
    assert len({r.agent_id for r in offers}) == len(offers)
    assert Voicemail.objects.filter(status=WorkStatus.OFFERED).count() == len(agents)


def test_work_every_agent_missed_is_offered_again_later(django_capture_on_commit_callbacks):
    queue = QueueFactory()
    agent = available(queue)
    request = callback(queue, waited=timedelta(minutes=30))
    Reservation.objects.create(
        call=request.call,
        kind=WorkKind.CALLBACK,
        agent=agent,
        queue=queue,
        status=ReservationStatus.TIMED_OUT,
        offered_at=timezone.now() - timedelta(minutes=3),
        expires_at=timezone.now() - timedelta(minutes=2),
        ended_at=timezone.now() - timedelta(minutes=2),
    )
    assert claim(django_capture_on_commit_callbacks) is None  # not the same agent at once
    Reservation.objects.filter(call=request.call).update(
        offered_at=timezone.now() - timedelta(minutes=12),
        ended_at=timezone.now() - timedelta(minutes=11),
    )
    assert claim(django_capture_on_commit_callbacks).agent_id == agent.pk  # nor never


def test_my_open_offers_are_listed_for_a_page_that_reloads(
    offered_voicemail, django_capture_on_commit_callbacks
):
    reservation, message, agent, client = offered_voicemail
    [ringing] = client.get("/api/v1/offers/").json()["results"]
    # What the offer.created frame said of it.
    frame = UserEvent.objects.get(user=agent.user, type="offer.created").data
    times = ("offered_at", "expires_at", "ended_at")  # the frame's are to the millisecond
    assert {k: v for k, v in ringing.items() if k not in times} == {
        k: v for k, v in frame.items() if k not in times
    }
    assert ringing["expires_at"][:23] == frame["expires_at"][:23]
    assert ringing["voicemail"]["recording_url"] == message.recording_url

    post(client, reservation, "accept", django_capture_on_commit_callbacks)
    [taken] = client.get("/api/v1/offers/").json()["results"]
    assert (taken["reservation_id"], taken["status"]) == (reservation.pk, "accepted")
    stranger = APIClient()
    stranger.force_authenticate(available(message.queue).user)
    assert stranger.get("/api/v1/offers/").json()["results"] == []  # only one's own
    supervisor = APIClient()
    supervisor.force_authenticate(UserFactory(roles=["supervisor"]))
    assert supervisor.get("/api/v1/offers/").json()["results"] == []
    assert APIClient().get("/api/v1/offers/").status_code in (401, 403)

    post(client, reservation, "complete", django_capture_on_commit_callbacks)
    assert client.get("/api/v1/offers/").json()["results"] == []  # done: nothing open


def test_listing_open_offers_costs_a_query_a_kind_of_work(
    django_capture_on_commit_callbacks, django_assert_num_queries
):
    queue = QueueFactory()
    agent = available(queue)
    client = APIClient()
    client.force_authenticate(agent.user)
    callback(queue, waited=timedelta(minutes=9))
    claim(django_capture_on_commit_callbacks)
    with django_assert_num_queries(3):  # the agent, their reservations, the callback requests
        [offer] = client.get("/api/v1/offers/").json()["results"]
    assert offer["kind"] == "callback" and offer["callback"]["number"] == "+14155550199"
