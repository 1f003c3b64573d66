"""Simulated callers against a scripted server: signed webhooks, the waitUrl loop, Enqueue
results, voicemail, and status callbacks as Twilio sends them."""

import asyncio
from collections import Counter

from telephony.simulator import Caller, RecordInput
from tests.telephony.test_simulator_support import (
    ScriptedServer,
    number_config,
    scripted_world,
)


def scripted_caller(**overrides) -> Caller:
    values = {
        "from_number": "+15550000002",
        "patience_seconds": None,
        "talk_seconds": None,
        "menu_answers": ("1",),
        "menu_hangup_after": None,
        "callback_key": None,
        "reaction_seconds": 1.0,
        "voicemail": RecordInput(12.0, "hangup"),
    }
    return Caller(**(values | overrides))


def run_callers(*callers: Caller, server: ScriptedServer | None = None, **config):
    async def scenario():
        async with scripted_world(server, **config) as (server_, simulator):
            sids = [simulator.place_call(caller=caller) for caller in callers]
            await simulator.wait_for(sids)
            truth = simulator.ground_truth()
            records = [next(c for c in truth["calls"] if c["call_sid"] == s) for s in sids]
            return server_, records, truth

    return asyncio.run(scenario())


def for_call(server: ScriptedServer, path: str, call_sid: str) -> list[dict[str, str]]:
    return [p for p in server.received(path) if p.get("CallSid") == call_sid]


def test_traffic_sends_only_validly_signed_webhooks():
    async def scenario():
        async with scripted_world(seed=11) as (server, simulator):
            truth = await simulator.run_traffic(calls=12, calls_per_minute=20)
            return server, truth

    server, truth = asyncio.run(scenario())
    assert len(truth["calls"]) == 12
    assert server.requests and server.bad_signatures == []
    assert all(r.idempotency_token for r in server.requests)
    assert truth["non_2xx_count"] == 0
    assert truth["errors"] == []
    assert sum(truth["outcomes"].values()) == 12
    assert truth["webhook_count"] == len(server.requests)


def test_patient_caller_waits_through_the_wait_url_then_leaves_a_voicemail():
    server, (record,), _truth = run_callers(scripted_caller())
    sid = record["call_sid"]
    polls = for_call(server, "/wait", sid)
    assert len(polls) == server.leave_after_polls + 1
    queue_sid = polls[0]["QueueSid"]
    assert queue_sid.startswith("QU") and len(queue_sid) == 34
    assert {p["QueuePosition"] for p in polls} == {"1"}
    assert [int(p["QueueTime"]) for p in polls] == sorted(int(p["QueueTime"]) for p in polls)
    assert {p["MaxQueueSize"] for p in polls} == {"1000"}
    (left,) = for_call(server, "/enqueue-done", sid)
    assert (left["QueueResult"], left["QueueSid"]) == ("leave", queue_sid)
    assert int(left["QueueTime"]) >= int(polls[-1]["QueueTime"])
    (recorded,) = for_call(server, "/recorded", sid)
    assert recorded["Digits"] == "hangup"
    assert recorded["RecordingSid"] == record["recording_sid"]
    assert recorded["RecordingDuration"] == "12"
    (status,) = for_call(server, "/recording-status", sid)
    assert status["RecordingStatus"] == "completed"
    assert status["RecordingSource"] == "RecordVerb"
    assert (status["RecordingSid"], status["RecordingUrl"]) == (
        recorded["RecordingSid"],
        recorded["RecordingUrl"],
    )
    assert record["outcome"] == "voicemail"
    assert record["recording_seconds"] == 12
    assert record["queue_results"] == ["leave"]


def test_voicemail_finished_with_a_key_continues_with_the_action():
    caller = scripted_caller(voicemail=RecordInput(8.0, "key"))
    server, (record,), _ = run_callers(caller)
    (recorded,) = for_call(server, "/recorded", record["call_sid"])
    assert recorded["Digits"] == "#"
    assert recorded["CallStatus"] == "in-progress"


def test_impatient_caller_abandons_and_the_enqueue_action_hears_hangup():
    server, (record,), _ = run_callers(scripted_caller(patience_seconds=6.0))
    (result,) = for_call(server, "/enqueue-done", record["call_sid"])
    assert result["QueueResult"] == "hangup"
    assert result["CallStatus"] == "completed"
    assert record["outcome"] == "abandoned"
    assert record["ended_by"] == "caller"
    assert record["queue_results"] == ["hangup"]
    assert record["wait_seconds"] >= 6.0


def test_caller_asking_for_a_callback_leaves_the_queue():
    server, (record,), _ = run_callers(scripted_caller(callback_key="1"))
    sid = record["call_sid"]
    (choice,) = for_call(server, "/wait-choice", sid)
    assert choice["Digits"] == "1"
    (result,) = for_call(server, "/enqueue-done", sid)
    assert result["QueueResult"] == "leave"
    assert for_call(server, "/recorded", sid) == []
    assert record["outcome"] == "callback-requested"


def test_menu_hangup_and_an_invalid_choice_repeating_the_menu():
    hangs_up = scripted_caller(menu_hangup_after=1.0)
    retries = scripted_caller(menu_answers=("9", "2"), patience_seconds=3.0)
    server, (first, second), _ = run_callers(hangs_up, retries)
    assert first["outcome"] == "menu-hangup"
    assert for_call(server, "/menu", first["call_sid"]) == []
    assert [p.get("Digits") for p in for_call(server, "/menu", second["call_sid"])] == ["9", "2"]
    assert len(for_call(server, "/voice/incoming", second["call_sid"])) == 2
    assert second["menu_digits"] == ["9", "2"]


def test_inbound_status_callbacks_carry_twilio_parameters():
    server, (record,), _ = run_callers(scripted_caller(patience_seconds=4.0))
    callbacks = for_call(server, "/status", record["call_sid"])
    assert [p["CallStatus"] for p in callbacks] == ["ringing", "in-progress", "completed"]
    assert [p["SequenceNumber"] for p in callbacks] == ["0", "1", "2"]
    assert {p["CallbackSource"] for p in callbacks} == {"call-progress-events"}
    assert {p["Direction"] for p in callbacks} == {"inbound"}
    assert {p["ApiVersion"] for p in callbacks} == {"2010-04-01"}
    completed = callbacks[-1]
    assert completed["Timestamp"].endswith("+0000")
    seconds = int(completed["CallDuration"])
    assert seconds > 0 and int(completed["Duration"]) == -(-seconds // 60)
    assert "CallDuration" not in callbacks[0]


def test_fragment_overrides_retry_with_the_same_signature_and_token():
    server = ScriptedServer(failures={"/voice/incoming": [500, 503]})
    number = number_config(voice_path="/voice/incoming#rc=2&rp=5xx&rt=2000")
    server, (record,), truth = run_callers(scripted_caller(), server=server, numbers=(number,))
    attempts = [r for r in server.requests if r.path == "/voice/incoming"]
    assert len(attempts) == 3
    assert all(r.signature_ok and "#" not in r.url for r in attempts)
    assert len({r.idempotency_token for r in attempts}) == 1
    assert len({tuple(sorted(r.params.items())) for r in attempts}) == 1
    assert Counter(w["status"] for w in truth["non_2xx"]) == {500: 1, 503: 1}
    assert record["outcome"] == "voicemail"


def test_failures_beyond_the_retries_are_application_errors():
    server = ScriptedServer(failures={"/voice/incoming": [500, 500]})
    server, (record,), truth = run_callers(scripted_caller(), server=server)
    assert len([r for r in server.requests if r.path == "/voice/incoming"]) == 1
    assert record["status"] == "failed"
    assert truth["server_error_count"] == 1
    assert truth["errors"][0]["call_sid"] == record["call_sid"]
