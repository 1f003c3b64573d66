"""Chaos (callbacks duplicated and out of order) and determinism for a seed."""

import asyncio
from collections import Counter, defaultdict

from telephony.simulator import AgentBehaviour, CallerBehaviour, ChaosConfig
from tests.telephony.test_simulator_support import (
    NUMBER,
    STATUS_EVENTS,
    in_thread,
    rest_client,
    scripted_world,
)

AGENTS = AgentBehaviour(miss_probability=0, reject_probability=0, hang_up_probability=1)


def agent_calls(count: int, chaos: ChaosConfig, seed: int = 5):
    """`count` REST calls to agents' softphones; returns our server's status callbacks."""

    async def scenario():
        async with scripted_world(agents=AGENTS, chaos=chaos, seed=seed) as (server, simulator):
            client = rest_client(simulator)
            for index in range(count):
                await in_thread(
                    client.calls.create,
                    to=f"client:agent{index}",
                    from_=NUMBER,
                    twiml="<Response><Pause length='20'/></Response>",
                    status_callback=f"{server.base_url}/status",
                    status_callback_event=list(STATUS_EVENTS),
                )
            await simulator.wait_idle()
            return [r for r in server.requests if r.path == "/status"]

    return asyncio.run(scenario())


def test_duplicated_callbacks_repeat_sequence_number_and_token():
    received = agent_calls(2, ChaosConfig(duplicate_probability=1.0, max_delay_seconds=2))
    copies = Counter((r.params["CallSid"], r.params["SequenceNumber"]) for r in received)
    assert len(copies) == 8
    assert set(copies.values()) == {2}
    by_event = defaultdict(list)
    for request in received:
        by_event[request.params["CallSid"], request.params["SequenceNumber"]].append(request)
    for first, second in by_event.values():
        assert first.params == second.params
        assert first.idempotency_token == second.idempotency_token
    assert all(r.signature_ok for r in received)


def test_delayed_callbacks_arrive_out_of_order_but_all_arrive():
    chaos = ChaosConfig(delay_probability=0.5, max_delay_seconds=40)
    received = agent_calls(6, chaos)
    arrivals = defaultdict(list)
    for request in received:
        arrivals[request.params["CallSid"]].append(int(request.params["SequenceNumber"]))
    assert all(sorted(sequence) == [0, 1, 2, 3] for sequence in arrivals.values())
    assert any(sequence != sorted(sequence) for sequence in arrivals.values())


def test_without_chaos_callbacks_arrive_once_and_in_order():
    received = agent_calls(3, ChaosConfig())
    arrivals = defaultdict(list)
    for request in received:
        arrivals[request.params["CallSid"]].append(int(request.params["SequenceNumber"]))
    assert list(arrivals.values()) == [[0, 1, 2, 3]] * 3


def traffic_outcomes(seed: int) -> list[tuple]:
    callers = CallerBehaviour(
        patience_mean_seconds=40, menu_hangup_probability=0.15, callback_probability=0.2
    )

    async def scenario():
        async with scripted_world(seed=seed, callers=callers, speed=500.0) as (_, simulator):
            truth = await simulator.run_traffic(calls=16, calls_per_minute=30)
        return [
            (
                c["call_sid"],
                c["from"],
                c["outcome"],
                tuple(c["menu_digits"]),
                c["recording_seconds"],
            )
            for c in truth["calls"]
        ]

    return asyncio.run(scenario())


def test_the_same_seed_replays_the_same_calls():
    first = traffic_outcomes(seed=21)
    assert first == traffic_outcomes(seed=21)
    outcomes = Counter(outcome for _, _, outcome, _, _ in first)
    assert len(outcomes) >= 3, outcomes
    other = traffic_outcomes(seed=22)
    assert {sid for sid, *_ in other}.isdisjoint(sid for sid, *_ in first)
