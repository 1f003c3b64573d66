"""The voice flow, asserted on TwiML structure (ElementTree XPath), and its stored effects."""

from datetime import timedelta

import pytest
from django.utils import timezone

from callcenter.choices import CallOutcome, CallStage, MaxWaitAction, WorkStatus
from callcenter.models import Call, CallbackRequest, CallEvent, Menu, MenuOption, Voicemail
from tests.factories import PhoneNumberFactory, QueueFactory, waiting_call
from tests.webhooks.conftest import NUMBER, call_params, path_of

pytestmark = pytest.mark.django_db
INCOMING = "/webhooks/twilio/voice/incoming/"
SID = "CA" + "1" * 32


def test_incoming_to_a_queue_greets_and_enqueues(twilio, direct_number, sales):
    doc = twilio.twiml(INCOMING, call_params())
    assert [el.tag for el in doc] == ["Say", "Enqueue"]
    assert doc.find("./Say").text == "Welcome."
    enqueue = doc.find("./Enqueue")
    assert enqueue.text == "sales"
    assert path_of(enqueue.get("waitUrl")) == f"/webhooks/twilio/voice/wait/?queue={sales.pk}"
    assert path_of(enqueue.get("action")).startswith("/webhooks/twilio/voice/enqueue-action/")
    assert "#rc=" in enqueue.get("action")  # connection overrides: retried on failure
    call = Call.objects.get(call_sid=SID)
    assert (call.stage, call.queue, call.direction) == (CallStage.WAITING, sales, "inbound")
    assert call.enqueued_at is not None


def test_incoming_is_idempotent_on_call_sid(twilio, direct_number):
    first = twilio.post(INCOMING, call_params()).content
    second = twilio.post(INCOMING, call_params()).content
    assert first == second
    assert Call.objects.count() == 1
    assert CallEvent.objects.filter(kind="incoming").count() == 1


def test_unknown_number_says_so_and_hangs_up(twilio, db):
    doc = twilio.twiml(INCOMING, call_params(To="+15005559999"))
    assert [el.tag for el in doc] == ["Say", "Hangup"]


@pytest.fixture
def menu_number(db):
    sales, support = QueueFactory(name="S1"), QueueFactory(name="S2")
    menu = Menu.objects.create(name="Main", prompt="Press 1 or 2.", fallback_queue=support)
    MenuOption.objects.create(menu=menu, digit="1", label="Sales", queue=sales)
    MenuOption.objects.create(menu=menu, digit="2", label="Support", queue=support)
    PhoneNumberFactory(e164=NUMBER, default_queue=None, menu=menu, greeting="Hi.")
    return sales, support


def test_menu_gathers_one_digit_then_routes(twilio, menu_number):
    sales, _ = menu_number
    doc = twilio.twiml(INCOMING, call_params())
    gather = doc.find("./Gather")
    assert gather.get("numDigits") == "1" and gather.get("actionOnEmptyResult") == "true"
    assert gather.find("./Say").text == "Press 1 or 2."
    assert Call.objects.get().stage == CallStage.MENU
    doc = twilio.twiml(path_of(gather.get("action")), call_params(Digits="1"))
    assert doc.find("./Enqueue").text == sales.twilio_queue_name
    assert Call.objects.get().queue == sales


def test_menu_invalid_then_none_goes_to_the_fallback(twilio, menu_number):
    _, support = menu_number
    first = twilio.twiml(INCOMING, call_params())
    retry = twilio.twiml(path_of(first.find("./Gather").get("action")), call_params(Digits="7"))
    assert retry.find("./Say").text.startswith("Sorry")
    action = path_of(retry.find("./Gather").get("action"))
    assert action.endswith("attempt=2")
    final = twilio.twiml(action, call_params(Digits=""))
    assert final.find("./Enqueue").text == support.twilio_queue_name


def test_closed_queue_takes_a_voicemail(twilio, direct_number, sales):
    sales.business_hours = {"sun": [["00:00", "00:01"]]}
    sales.save()
    doc = twilio.twiml(INCOMING, call_params())
    record = doc.find("./Record")
    assert record is not None and record.get("recordingStatusCallback")
    assert Call.objects.get().stage == CallStage.VOICEMAIL


def _enqueued(twilio, sales) -> Call:
    twilio.twiml(INCOMING, call_params())
    return Call.objects.get(call_sid=SID)


def wait_path(queue) -> str:
    return f"/webhooks/twilio/voice/wait/?queue={queue.pk}"


def test_wait_announces_our_position_and_estimate(twilio, direct_number, sales):
    waiting_call(sales, waited=timedelta(minutes=3))
    waiting_call(sales, waited=timedelta(minutes=2), priority=-1)  # lower priority: behind
    _enqueued(twilio, sales)
    doc = twilio.twiml(wait_path(sales), call_params(QueuePosition="3"))
    assert doc.find("./Say").text.startswith("You are number 2 in line.")
    assert doc.find("./Pause") is not None  # no hold music configured


def test_wait_past_max_leaves_for_voicemail_and_the_action_records(twilio, direct_number, sales):
    sales.max_wait_seconds = 60
    sales.save()
    call = _enqueued(twilio, sales)
    Call.objects.filter(pk=call.pk).update(
        enqueued_at=timezone.now() - timedelta(seconds=61),
        created_at=timezone.now() - timedelta(seconds=70),
    )
    doc = twilio.twiml(wait_path(sales), call_params())
    assert [el.tag for el in doc] == ["Leave"]
    action = f"/webhooks/twilio/voice/enqueue-action/?queue={sales.pk}"
    doc = twilio.twiml(action, call_params(QueueResult="leave", QueueTime="61"))
    assert doc.find("./Record") is not None
    call.refresh_from_db()
    assert (call.stage, call.wait_seconds, call.queue_result) == (CallStage.VOICEMAIL, 61, "leave")


def test_callback_offer_keeps_the_place(twilio, direct_number, sales):
    sales.max_wait_action = MaxWaitAction.CALLBACK
    sales.save()
    call = _enqueued(twilio, sales)
    doc = twilio.twiml(wait_path(sales), call_params())
    gather = doc.find("./Gather")
    assert gather.get("numDigits") == "1"
    assert [
        el.tag for el in twilio.twiml(path_of(gather.get("action")), call_params(Digits="1"))
    ] == ["Leave"]
    action = f"/webhooks/twilio/voice/enqueue-action/?queue={sales.pk}"
    doc = twilio.twiml(action, call_params(QueueResult="leave", QueueTime="40"))
    assert [el.tag for el in doc] == ["Say", "Hangup"]
    request = CallbackRequest.objects.get(call=call)
    assert request.enqueued_at == call.enqueued_at and request.status == WorkStatus.WAITING
    assert request.number == call.from_number
    twilio.post(
        "/webhooks/twilio/voice/status/",
        call_params(CallStatus="completed", SequenceNumber="0", CallDuration="55"),
    )
    call.refresh_from_db()
    assert (call.stage, call.outcome) == (CallStage.ENDED, CallOutcome.CALLBACK)


def test_full_queue_uses_the_max_wait_action(twilio, direct_number, sales):
    sales.max_size = 1
    sales.save()
    waiting_call(sales)
    doc = twilio.twiml(INCOMING, call_params())
    assert doc.find("./Record") is not None and doc.find("./Enqueue") is None


@pytest.mark.parametrize(
    ("result", "tags"),
    [
        ("hangup", ["Hangup"]),
        ("bridged", ["Hangup"]),
        ("redirected", []),
        ("queue-full", ["Say", "Record", "Say", "Hangup"]),
        ("system-error", ["Say", "Record", "Say", "Hangup"]),
        ("error", ["Say", "Record", "Say", "Hangup"]),
    ],
)
def test_every_enqueue_result_is_handled(twilio, direct_number, sales, result, tags):
    _enqueued(twilio, sales)
    action = f"/webhooks/twilio/voice/enqueue-action/?queue={sales.pk}"
    doc = twilio.twiml(action, call_params(QueueResult=result, QueueTime="12"))
    assert [el.tag for el in doc] == tags


def test_abandon_and_short_abandon(twilio, direct_number, sales):
    for sid, waited, outcome in (
        ("CA" + "a" * 32, "4", CallOutcome.SHORT_ABANDONED),
        ("CA" + "b" * 32, "5", CallOutcome.ABANDONED),
    ):
        twilio.twiml(INCOMING, call_params(sid))
        action = f"/webhooks/twilio/voice/enqueue-action/?queue={sales.pk}"
        twilio.twiml(action, call_params(sid, QueueResult="hangup", QueueTime=waited))
        twilio.post(
            "/webhooks/twilio/voice/status/",
            call_params(sid, CallStatus="completed", SequenceNumber="0"),
        )
        call = Call.objects.get(call_sid=sid)
        assert (call.outcome, call.wait_seconds) == (outcome, int(waited))  # threshold 5 s


def test_voicemail_recording_becomes_work_for_the_queue(twilio, direct_number, sales):
    call = _enqueued(twilio, sales)
    twilio.twiml(
        f"/webhooks/twilio/voice/enqueue-action/?queue={sales.pk}",
        call_params(QueueResult="queue-full"),
    )
    recording = {
        **call_params(),
        "RecordingSid": "RE" + "1" * 32,
        "RecordingUrl": "https://api.twilio.com/rec",
        "RecordingStatus": "completed",
        "RecordingDuration": "17",
    }
    path = f"/webhooks/twilio/voice/recording/?queue={sales.pk}"
    assert twilio.post(path, recording).status_code == 204
    assert twilio.post(path, recording).status_code == 204  # a retry: stored once
    voicemail = Voicemail.objects.get()
    assert (voicemail.call, voicemail.queue, voicemail.duration_seconds) == (call, sales, 17)
    twilio.post(
        "/webhooks/twilio/voice/status/", call_params(CallStatus="completed", SequenceNumber="0")
    )
    assert Call.objects.get(pk=call.pk).outcome == CallOutcome.VOICEMAIL


def test_unknown_queue_in_a_webhook_url_is_a_404(twilio, direct_number):
    assert twilio.post("/webhooks/twilio/voice/wait/?queue=999", call_params()).status_code == 404


def test_join_puts_each_role_in_the_call_conference_and_labels_agents(twilio, direct_number):
    path = f"/webhooks/twilio/voice/join/?call={SID}&role="
    agent = twilio.twiml(path + "agent", call_params("CA" + "2" * 32, To="client:agent_abc"))
    conference = agent.find("./Dial/Conference")
    assert conference.text == SID
    assert conference.get("participantLabel") == "agent:agent_abc"
    assert conference.get("endConferenceOnExit") == "false"
    assert (
        path_of(conference.get("statusCallback"))
        == f"/webhooks/twilio/voice/conference/?call={SID}"
    )
    customer = twilio.twiml(path + "customer", call_params()).find("./Dial/Conference")
    assert (
        customer.get("endConferenceOnExit") == "true" and customer.get("participantLabel") is None
    )
    monitor = twilio.twiml(path + "monitor", call_params(To="client:sup")).find("./Dial/Conference")
    assert monitor.get("muted") == "true"
