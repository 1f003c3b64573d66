"""The simulator reads and runs TwiML as Twilio does, verb by verb."""

import asyncio

import pytest

from telephony.simulator import AgentBehaviour, Caller, CustomerBehaviour, RecordInput
from telephony.simulator.config import MediaTiming
from telephony.simulator.twiml import TwimlError, audio_seconds, parse_twiml
from telephony.simulator.webhooks import ConnectionOverrides, split_webhook_url
from tests.telephony.test_simulator_support import ScriptedServer, scripted_world


def quiet_caller(**overrides) -> Caller:
    """A caller who never gives up, presses nothing and speaks no message."""
    values = {
        "from_number": "+15550000001",
        "patience_seconds": None,
        "talk_seconds": None,
        "menu_answers": (),
        "menu_hangup_after": None,
        "callback_key": None,
        "reaction_seconds": 1.0,
        "voicemail": RecordInput(10, "key"),
    }
    return Caller(**(values | overrides))


async def call_with(server: ScriptedServer, simulator, caller: Caller | None = None) -> dict:
    sid = simulator.place_call(caller=caller or quiet_caller())
    await simulator.wait_for([sid])
    return next(c for c in simulator.ground_truth()["calls"] if c["call_sid"] == sid)


def run_incoming(twiml: dict[str, str], caller: Caller | None = None, **config) -> tuple:
    async def scenario():
        server = ScriptedServer(twiml=twiml)
        async with scripted_world(server, **config) as (server, simulator):
            record = await call_with(server, simulator, caller)
            await simulator.wait_idle()
            return server, record, simulator.ground_truth()

    return asyncio.run(scenario())


def status_callbacks(server: ScriptedServer, call_sid: str) -> list[dict[str, str]]:
    return [p for p in server.received("/status") if p["CallSid"] == call_sid]


# --- parsing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        '<!DOCTYPE r [<!ENTITY a "x">]><Response><Say>&a;</Say></Response>',
        "<Response><Say>unclosed</Response>",
        "<Reply><Say>hi</Say></Reply>",
        "not xml at all",
    ],
)
def test_parse_refuses_what_twilio_cannot_run(body):
    with pytest.raises(TwimlError):
        parse_twiml(body)


def test_parse_keeps_verbs_attributes_and_nouns():
    document = parse_twiml(
        '<Response><Dial action="/done" timeout="10"><Client>alice</Client>'
        "<Number>+15551230000</Number></Dial></Response>",
        url="http://server/voice/#rc=2",
    )
    (dial,) = document.verbs
    assert dial.attr("action") == "/done"
    assert dial.number("timeout", 30) == 10
    assert [(noun.name, noun.text) for noun in dial.children] == [
        ("Client", "alice"),
        ("Number", "+15551230000"),
    ]
    assert document.resolve("/done") == "http://server/done"


def test_audio_lasts_as_twilio_plays_it():
    timing = MediaTiming(words_per_second=2.5, play_seconds=8)
    say, play, pause = parse_twiml(
        '<Response><Say loop="2">one two three four five</Say><Play loop="3">x.mp3</Play>'
        '<Pause length="4"/></Response>'
    ).verbs
    assert audio_seconds(say, timing) == pytest.approx(4.0)
    assert audio_seconds(play, timing) == 24
    assert audio_seconds(pause, timing) == 4


def test_connection_overrides_come_from_the_fragment():
    url, overrides = split_webhook_url("https://server/status/?a=1#rc=3&rp=4xx,5xx&ct=2000&rt=900")
    assert url == "https://server/status/?a=1"
    assert overrides == ConnectionOverrides(
        retry_count=3,
        retry_on=frozenset({"4xx", "5xx"}),
        connect_timeout=2.0,
        read_timeout=0.9,
        total_timeout=15.0,
    )
    assert split_webhook_url("https://server/x#rp=all")[1].retry_on == {"4xx", "5xx", "ct", "rt"}
    assert split_webhook_url("https://server/x")[1] == ConnectionOverrides()


# --- execution --------------------------------------------------------------------------------


def test_say_play_pause_then_hangup_ends_a_completed_call():
    twiml = {
        "/voice/incoming": "<Response><Say>one two three four five</Say><Play>m.mp3</Play>"
        '<Pause length="3"/><Hangup/><Say>never</Say></Response>'
    }
    server, record, truth = run_incoming(twiml)
    assert record["status"] == "completed"
    assert record["outcome"] == "completed"
    completed = status_callbacks(server, record["call_sid"])[-1]
    assert completed["CallStatus"] == "completed"
    # 2 s of speech + 8 s of music + 3 s of pause, at least: latency only ever adds.
    assert int(completed["CallDuration"]) >= 13
    assert truth["errors"] == []


def test_reject_busy_never_answers():
    server, record, _ = run_incoming(
        {"/voice/incoming": '<Response><Reject reason="busy"/></Response>'}
    )
    assert record["status"] == "busy"
    (*_, completed) = status_callbacks(server, record["call_sid"])
    assert completed["CallStatus"] == "busy"
    assert completed["CallDuration"] == "0"
    assert completed["Duration"] == "0"


def test_redirect_with_get_signs_the_query_string():
    twiml = {
        "/voice/incoming": '<Response><Redirect method="GET">/next?step=2</Redirect></Response>',
        "/next": "<Response><Hangup/></Response>",
    }
    server, record, _ = run_incoming(twiml)
    (request,) = [r for r in server.requests if r.path == "/next"]
    assert request.method == "GET"
    assert request.params["step"] == "2"
    assert request.params["CallSid"] == record["call_sid"]
    assert server.bad_signatures == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("<Response><Sms>hello</Sms></Response>", "failed"),
        ("<Response><Say>hello</Say><Connect/></Response>", "completed"),
        ("<Response><Say>unclosed</Response>", "failed"),
    ],
)
def test_unknown_verbs_and_broken_documents_are_application_errors(body, status):
    _, record, truth = run_incoming({"/voice/incoming": body})
    assert record["status"] == status
    assert record["outcome"] == "failed"
    assert [e["call_sid"] for e in truth["errors"]] == [record["call_sid"]]


def test_gather_without_input_goes_on_unless_asked_for_an_empty_result():
    twiml = {
        "/voice/incoming": '<Response><Gather action="/a" timeout="2"><Say>press</Say></Gather>'
        '<Gather action="/b" timeout="2" actionOnEmptyResult="true"/></Response>',
        "/b": "<Response><Hangup/></Response>",
    }
    server, _, _ = run_incoming(twiml)
    assert server.received("/a") == []
    (empty,) = server.received("/b")
    assert empty["Digits"] == ""


def test_gather_posts_the_callers_digits_to_its_action():
    twiml = {
        "/voice/incoming": '<Response><Gather numDigits="1" action="/picked">'
        "<Say>pick one</Say></Gather></Response>",
        "/picked": "<Response><Hangup/></Response>",
    }
    _, record, _ = run_incoming(twiml, quiet_caller(menu_answers=("2",)))
    assert record["menu_digits"] == ["2"]


def test_dial_client_bridges_a_child_leg_and_reports_to_the_dial_action():
    twiml = {
        "/voice/incoming": '<Response><Dial action="/dialed" timeout="20">'
        '<Client statusCallback="/status" statusCallbackEvent="initiated answered completed">'
        "alice</Client></Dial></Response>",
        "/dialed": "<Response><Hangup/></Response>",
    }
    agents = AgentBehaviour(miss_probability=0, reject_probability=0, hang_up_probability=1)
    server, record, truth = run_incoming(twiml, agents=agents)
    (action,) = server.received("/dialed")
    assert action["DialCallStatus"] == "completed"
    child = next(c for c in truth["calls"] if c["call_sid"] == action["DialCallSid"])
    assert child["parent_call_sid"] == record["call_sid"]
    assert child["direction"] == "outbound-dial"
    assert child["to"] == "client:alice"
    child_events = [p for p in server.received("/status") if p["CallSid"] == child["call_sid"]]
    assert [p["CallStatus"] for p in child_events] == ["initiated", "in-progress", "completed"]
    assert {p["ParentCallSid"] for p in child_events} == {record["call_sid"]}
    assert int(action["DialCallDuration"]) == int(child_events[-1]["CallDuration"])
    assert record["outcome"] == "answered"
    assert record["agent_identity"] == "alice"


def test_dial_number_that_does_not_answer():
    twiml = {
        "/voice/incoming": '<Response><Dial action="/dialed" timeout="15">+15557654321</Dial>'
        "</Response>",
        "/dialed": "<Response><Hangup/></Response>",
    }
    customers = CustomerBehaviour(answer_probability=0, busy_probability=0)
    server, _, _ = run_incoming(twiml, customers=customers)
    (action,) = server.received("/dialed")
    assert action["DialCallStatus"] == "no-answer"
    assert action["DialCallDuration"] == "0"


def test_enqueue_into_a_full_queue():
    twiml = {
        "/voice/incoming": '<Response><Enqueue action="/full">support</Enqueue></Response>',
        "/full": "<Response><Hangup/></Response>",
    }
    server, record, _ = run_incoming(twiml, default_queue_max_size=0)
    (action,) = server.received("/full")
    assert action["QueueResult"] == "queue-full"
    assert action["QueueTime"] == "0"
    assert record["outcome"] == "queue-full"
