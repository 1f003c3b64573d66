"""The real Twilio SDK against the simulator's REST API: calls, conferences, queues, recordings,
and faults for the gateway's retries."""

import asyncio
from datetime import timedelta

import pytest
import requests
from twilio.base.exceptions import TwilioRestException

from telephony.simulator import AgentBehaviour, Caller, CustomerBehaviour, FaultConfig, RecordInput
from tests.telephony.test_simulator_support import (
    AUTH_TOKEN,
    NUMBER,
    STATUS_EVENTS,
    ScriptedServer,
    in_thread,
    rest_client,
    scripted_world,
)

# Agents who answer at once, never give up on an empty conference, and hang up 40 s into a
# conversation (simulated seconds: what ends a call never depends on how fast a test runs).
ANSWERING_AGENTS = AgentBehaviour(
    miss_probability=0,
    reject_probability=0,
    hang_up_probability=1,
    talk_median_seconds=40,
    alone_patience_seconds=10**6,
)
# Agents who stay on the line until the test hangs them up.
STAYING_AGENTS = AgentBehaviour(
    miss_probability=0, reject_probability=0, hang_up_probability=0, alone_patience_seconds=10**6
)
PAUSE = '<Response><Pause length="{seconds}"/></Response>'


def waiting_caller() -> Caller:
    return Caller(
        from_number="+15550000003",
        patience_seconds=None,
        talk_seconds=20.0,
        menu_answers=("2",),
        menu_hangup_after=None,
        callback_key=None,
        reaction_seconds=1.0,
        voicemail=RecordInput(5.0, "hangup"),
    )


async def until(predicate, timeout: float = 10.0) -> None:
    """Poll a condition of the simulation (wall time only bounds a broken test)."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


def test_a_call_to_an_agent_softphone_reports_every_status_in_order():
    server = ScriptedServer(twiml={"/agent-pause": PAUSE})

    async def scenario():
        async with scripted_world(server, agents=ANSWERING_AGENTS) as (_, simulator):
            client = rest_client(simulator)
            created = await in_thread(
                client.calls.create,
                to="client:alice",
                from_=NUMBER,
                url=f"{server.base_url}/agent-pause?seconds=30",
                status_callback=f"{server.base_url}/status",
                status_callback_event=list(STATUS_EVENTS),
            )
            await simulator.wait_idle()
            fetched = await in_thread(client.calls(created.sid).fetch)
            listed = await in_thread(
                client.calls.list,
                to="client:alice",
                status="completed",
                start_time_after=fetched.date_created - timedelta(minutes=1),
            )
            return created, fetched, listed

    created, fetched, listed = asyncio.run(scenario())
    assert created.sid.startswith("CA") and len(created.sid) == 34
    assert (created.status, created.direction, created.to) == (
        "queued",
        "outbound-api",
        "client:alice",
    )
    callbacks = [p for p in server.received("/status") if p["CallSid"] == created.sid]
    assert [p["CallStatus"] for p in callbacks] == [
        "initiated",
        "ringing",
        "in-progress",
        "completed",
    ]
    assert [p["SequenceNumber"] for p in callbacks] == ["0", "1", "2", "3"]
    assert {p["Direction"] for p in callbacks} == {"outbound-api"}
    assert int(callbacks[-1]["CallDuration"]) >= 30
    (twiml_request,) = server.received("/agent-pause")
    assert twiml_request["CallStatus"] == "in-progress"
    assert fetched.status == "completed"
    assert int(fetched.duration) == int(callbacks[-1]["CallDuration"])
    assert [call.sid for call in listed] == [created.sid]


def test_rest_errors_have_twilios_shape():
    async def scenario():
        async with scripted_world() as (_server, simulator):
            client = rest_client(simulator)
            errors = []
            for call in (
                lambda: client.calls.create(to="sip:alice@example.com", from_=NUMBER, url="/x"),
                lambda: client.calls.create(to="+15551112222", from_=NUMBER),
                lambda: client.calls("CA" + "0" * 32).fetch(),
                lambda: rest_client(simulator, "wrong-token").calls("CA" + "0" * 32).fetch(),
            ):
                with pytest.raises(TwilioRestException) as raised:
                    await in_thread(call)
                errors.append((raised.value.status, raised.value.code))
            return errors

    assert asyncio.run(scenario()) == [(400, 21211), (400, 21205), (404, 20404), (401, 20003)]


def test_participants_join_hold_and_leave_a_conference_with_callbacks():
    async def scenario():
        customers = CustomerBehaviour(answer_probability=1, talk_median_seconds=10**6)
        async with scripted_world(agents=STAYING_AGENTS, customers=customers) as (
            server,
            simulator,
        ):
            client = rest_client(simulator)
            room = "call-CA123"
            agent_leg = await in_thread(
                client.calls.create, to="client:bob", from_=NUMBER,
                url=f"{server.base_url}/agent-leg?room={room}",
            )  # fmt: skip
            await until(lambda: bool(simulator.exchange.conferences.get(room)))
            conference = simulator.exchange.conferences.get(room)
            participants = client.conferences(conference.sid).participants
            customer = await in_thread(
                participants.create, from_=NUMBER, to="+15557654321", label="customer",
                status_callback=f"{server.base_url}/status", status_callback_event=["answered"],
            )  # fmt: skip
            await until(lambda: conference.find("customer").status == "connected")
            listed = await in_thread(
                client.conferences.list, friendly_name=room, status="in-progress"
            )
            held = await in_thread(participants("customer").update, hold=True)
            await in_thread(participants(customer.call_sid).update, muted=True, hold=False)
            await in_thread(participants("customer").delete)
            await until(lambda: conference.find("customer").gone)
            await in_thread(client.calls(agent_leg.sid).update, status="completed")
            await simulator.wait_idle()
            return server, simulator.ground_truth(), agent_leg, customer, listed, held

    server, truth, agent_leg, customer, listed, held = asyncio.run(scenario())
    assert customer.status == "queued" and customer.label == "customer"
    assert [c.status for c in listed] == ["in-progress"]
    assert held.hold is True
    events = [
        (p["StatusCallbackEvent"], p.get("CallSid")) for p in server.received("/conference-status")
    ]
    assert events == [
        ("participant-join", agent_leg.sid),
        ("conference-start", None),
        ("participant-join", customer.call_sid),
        ("participant-hold", customer.call_sid),
        ("participant-unhold", customer.call_sid),
        ("participant-mute", customer.call_sid),
        ("participant-leave", customer.call_sid),
        ("participant-leave", agent_leg.sid),
        ("conference-end", None),
    ]
    callbacks = server.received("/conference-status")
    assert [int(p["SequenceNumber"]) for p in callbacks] == list(range(1, len(callbacks) + 1))
    assert callbacks[3]["Hold"] == "true" and callbacks[4]["Hold"] == "false"
    # The agent's <Conference> has endConferenceOnExit.
    assert callbacks[-1]["ReasonConferenceEnded"] == "participant-with-end-conference-on-exit-left"
    assert callbacks[-1]["CallSidEndingConference"] == agent_leg.sid
    assert {p["CallStatus"] for p in server.received("/status")} == {"in-progress"}
    by_sid = {c["call_sid"]: c for c in truth["calls"]}
    assert by_sid[customer.call_sid]["status"] == "completed"
    assert by_sid[customer.call_sid]["ended_by"] == "twiml"  # kicked: its <Dial> ended
    assert by_sid[agent_leg.sid]["ended_by"] == "api"
    assert by_sid[customer.call_sid]["agent_identity"] == "bob"


def test_redirecting_a_queued_caller_reports_queue_result_redirected():
    server = ScriptedServer(leave_after_polls=1000)
    server.twiml["/connect"] = "<Response><Say>Connecting you</Say><Hangup/></Response>"

    async def scenario():
        async with scripted_world(server) as (_, simulator):
            client = rest_client(simulator)
            sid = simulator.place_call(caller=waiting_caller())
            await until(lambda: len(server.received("/wait")) >= 2)
            await in_thread(client.calls(sid).update, url=f"{server.base_url}/connect")
            await simulator.wait_for([sid])
            return sid

    sid = asyncio.run(scenario())
    (result,) = server.received("/enqueue-done")
    assert (result["CallSid"], result["QueueResult"]) == (sid, "redirected")
    assert [p["CallSid"] for p in server.received("/connect")] == [sid]


def test_dequeuing_a_member_to_new_twiml():
    server = ScriptedServer(leave_after_polls=1000)
    server.twiml["/connect"] = "<Response><Hangup/></Response>"

    async def scenario():
        async with scripted_world(server) as (_, simulator):
            client = rest_client(simulator)
            sid = simulator.place_call(caller=waiting_caller())
            await until(lambda: bool(server.received("/wait")))
            (queue,) = await in_thread(client.queues.list)
            (member,) = await in_thread(client.queues(queue.sid).members.list)
            moved = await in_thread(
                client.queues(queue.sid).members("Front").update,
                url=f"{server.base_url}/connect", method="POST",
            )  # fmt: skip
            await simulator.wait_for([sid])
            return sid, queue, member, moved

    sid, queue, member, moved = asyncio.run(scenario())
    assert (queue.friendly_name, queue.current_size, queue.max_size) == ("support", 1, 1000)
    assert (member.call_sid, member.position) == (sid, 1)
    assert moved.call_sid == sid
    assert server.received("/enqueue-done")[0]["QueueResult"] == "redirected"
    assert [p["CallSid"] for p in server.received("/connect")] == [sid]


def test_recordings_start_pause_resume_stop_and_serve_media():
    server = ScriptedServer(twiml={"/agent-pause": PAUSE})

    async def scenario():
        async with scripted_world(server, agents=STAYING_AGENTS) as (_, simulator):
            client = rest_client(simulator)
            call = await in_thread(
                client.calls.create, to="client:carol", from_=NUMBER,
                url=f"{server.base_url}/agent-pause?seconds=100000",
            )  # fmt: skip
            await until(lambda: simulator.exchange.calls[call.sid].status == "in-progress")
            recordings = client.calls(call.sid).recordings
            started = await in_thread(
                recordings.create,
                recording_status_callback=f"{server.base_url}/recording-status",
                recording_status_callback_event=["in-progress", "paused", "completed"],
            )
            await in_thread(recordings(started.sid).update, status="paused")
            await in_thread(recordings("Twilio.CURRENT").update, status="in-progress")
            stopped = await in_thread(recordings(started.sid).update, status="stopped")
            await in_thread(client.calls(call.sid).update, status="completed")
            await simulator.wait_idle()
            media_url = server.received("/recording-status")[-1]["RecordingUrl"]
            media = await in_thread(requests.get, media_url)
            return server, started, stopped, media

    server, started, stopped, media = asyncio.run(scenario())
    assert started.sid.startswith("RE") and started.status == "in-progress"
    assert stopped.status == "completed"
    statuses = [p["RecordingStatus"] for p in server.received("/recording-status")]
    assert statuses == ["in-progress", "paused", "in-progress", "completed"]
    assert server.received("/recording-status")[-1]["RecordingSource"] == "StartCallRecordingAPI"
    assert media.status_code == 200 and media.content[:4] == b"RIFF"


def test_scripted_faults_fail_before_anything_happens():
    faults = FaultConfig(plan=("500", "429", "503", ""), retry_after_seconds=3)

    async def scenario():
        async with scripted_world(faults=faults) as (_server, simulator):
            url = f"{simulator.rest_base_url}/2010-04-01/Accounts/AC/Calls.json"
            first, throttled = [await in_thread(requests.get, url) for _ in range(2)]
            client = rest_client(simulator)
            with pytest.raises(TwilioRestException) as raised:
                await in_thread(client.calls.create, to="client:dan", from_=NUMBER, url=url)
            created = await in_thread(client.calls.create, to="client:dan", from_=NUMBER, url=url)
            listed = await in_thread(client.calls.list)
            recorded = simulator.ground_truth()["rest_faults"]
            return first, throttled, raised.value, created, listed, recorded

    first, throttled, unavailable, created, listed, recorded = asyncio.run(scenario())
    assert first.status_code == 500 and first.json()["code"] == 20500
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "3"
    assert (unavailable.status, unavailable.code) == (503, 20503)
    # The failed create dialed nobody: only the retry did.
    assert [call.sid for call in listed] == [created.sid]
    assert [fault["fault"] for fault in recorded] == ["500", "429", "503"]


def test_stalled_requests_outlast_the_client_timeout():
    faults = FaultConfig(plan=("stall",), stall_seconds=5)

    async def scenario():
        async with scripted_world(faults=faults) as (_server, simulator):
            with pytest.raises(requests.Timeout):
                await in_thread(
                    requests.get,
                    f"{simulator.rest_base_url}/2010-04-01/Accounts/x/Calls.json",
                    auth=(simulator.config.account_sid, AUTH_TOKEN),
                    timeout=0.2,
                )

    asyncio.run(scenario())


def test_random_faults_are_the_same_for_the_same_seed():
    def fault_pattern(seed: int) -> list[int]:
        async def scenario():
            faults = FaultConfig(rate=0.5, kinds=("500", "503"))
            async with scripted_world(seed=seed, faults=faults) as (_server, simulator):
                url = f"{simulator.rest_base_url}/2010-04-01/Accounts/AC/Calls.json"
                responses = [await in_thread(requests.get, url) for _ in range(12)]
                return [response.status_code for response in responses]

        return asyncio.run(scenario())

    first = fault_pattern(3)
    assert first == fault_pattern(3)
    assert {500, 503} & set(first) and 401 in first


@pytest.mark.parametrize(
    ("agents", "status"),
    [
        (AgentBehaviour(miss_probability=1, reject_probability=0), "no-answer"),
        (AgentBehaviour(miss_probability=0, reject_probability=1), "busy"),
        (AgentBehaviour(identities=("someone-else",)), "no-answer"),
    ],
)
def test_agents_who_miss_or_reject_end_the_call_unanswered(agents, status):
    async def scenario():
        async with scripted_world(agents=agents) as (server, simulator):
            client = rest_client(simulator)
            created = await in_thread(
                client.calls.create, to="client:erin", from_=NUMBER, timeout=15,
                url=f"{server.base_url}/agent-leg", status_callback=f"{server.base_url}/status",
            )  # fmt: skip
            await simulator.wait_idle()
            return server, created

    server, created = asyncio.run(scenario())
    (completed,) = server.received("/status")
    assert (completed["CallSid"], completed["CallStatus"]) == (created.sid, status)
    assert (completed["CallDuration"], completed["Duration"]) == ("0", "0")
    assert server.received("/agent-leg") == []


def test_a_queued_caller_connected_to_an_agent_in_a_conference():
    """The gateway's way: ring the agent into the call's conference, then move the caller in."""
    server = ScriptedServer(leave_after_polls=1000)
    server.twiml["/join-customer"] = (
        '<Response><Dial><Conference endConferenceOnExit="true" '
        'statusCallback="/conference-status">{room}</Conference></Dial></Response>'
    )

    async def scenario():
        async with scripted_world(server, agents=ANSWERING_AGENTS) as (_, simulator):
            client = rest_client(simulator)
            sid = simulator.place_call(caller=waiting_caller())
            await until(lambda: bool(server.received("/wait")))
            agent = await in_thread(
                client.calls.create, to="client:alice", from_=NUMBER,
                url=f"{server.base_url}/agent-leg?room=call-{sid}",
            )  # fmt: skip
            await until(lambda: bool(server.received("/agent-leg")))
            await in_thread(
                client.calls(sid).update, url=f"{server.base_url}/join-customer?room=call-{sid}"
            )
            await simulator.wait_idle()
            return sid, agent.sid, simulator.ground_truth()

    sid, agent_sid, truth = asyncio.run(scenario())
    by_sid = {c["call_sid"]: c for c in truth["calls"]}
    caller, agent = by_sid[sid], by_sid[agent_sid]
    assert caller["outcome"] == "answered"
    assert caller["agent_identity"] == "alice"
    assert caller["queue_results"] == ["redirected"]
    # Whoever's talk time ran out first hung up; the conference took the other leg with it.
    assert {caller["ended_by"], agent["ended_by"]} in ({"caller", "twiml"}, {"agent", "twiml"})
    assert caller["talk_seconds"] > 0 and caller["wait_seconds"] > 0
    assert agent["outcome"] == "answered" and agent["status"] == "completed"
    events = [p["StatusCallbackEvent"] for p in server.received("/conference-status")]
    assert events.count("participant-join") == 2
    assert events[-1] == "conference-end"
