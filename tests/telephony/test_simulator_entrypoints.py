"""The simulator on its own thread (next to a synchronous server) and `manage.py simulate`."""

import asyncio
import json
import threading
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from twilio.rest import Client  # noqa: TID251 - the tests play the gateway's part

from telephony.simulator import Simulator, SimulatorThread
from telephony.simulator.from_settings import config_from_settings
from tests.factories import PhoneNumberFactory
from tests.telephony.test_simulator_support import (
    AUTH_TOKEN,
    NUMBER,
    ScriptedServer,
    SimulatorHttpClient,
    simulator_config,
)

HELLO = "<Response><Say>Hello from the command test</Say><Hangup/></Response>"


class BackgroundServer:
    """The scripted server on a thread of its own, as a live Django server would be."""

    def __init__(self, server: ScriptedServer) -> None:
        self.server = server
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result(5)
        return self.server

    def __exit__(self, *exc_info: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()


def test_simulator_thread_serves_rest_and_runs_traffic_for_synchronous_code():
    with BackgroundServer(ScriptedServer()) as server:
        simulator = SimulatorThread(simulator_config(server, speed=500.0))
        base_url = simulator.start()
        try:
            truth = simulator.run_traffic(calls=4, calls_per_minute=30, timeout=60)
            account = simulator.simulator.config.account_sid
            client = Client(account, AUTH_TOKEN, http_client=SimulatorHttpClient(base_url))
            listed = client.calls.list(to=NUMBER)
            snapshot = simulator.ground_truth()
        finally:
            simulator.stop()
    assert base_url.startswith("http://127.0.0.1:")
    assert sorted(call.sid for call in listed) == sorted(c["call_sid"] for c in truth["calls"])
    assert {call.status for call in listed} == {"completed"}
    assert sum(snapshot["outcomes"].values()) == 4
    assert server.bad_signatures == []


def run_command(server: ScriptedServer, settings, *extra: str) -> str:
    settings.TWILIO_AUTH_TOKEN = server.auth_token
    settings.TWILIO_ACCOUNT_SID = ""
    settings.TWILIO_API_BASE_URL = "http://127.0.0.1:0"
    out = StringIO()
    call_command(
        "simulate",
        "--calls-per-minute", "30",
        "--duration", "40",
        "--seed", "3",
        "--speed", "500",
        "--base-url", server.base_url,
        *extra,
        stdout=out,
    )  # fmt: skip
    return out.getvalue()


def test_simulate_command_prints_a_summary_and_writes_the_ground_truth(settings, tmp_path):
    report = tmp_path / "truth.json"
    server = ScriptedServer(twiml={"/webhooks/twilio/voice/incoming/": HELLO})
    with BackgroundServer(server):
        output = run_command(server, settings, "--number", NUMBER, "--report", str(report))
    truth = json.loads(report.read_text())
    calls = len(truth["calls"])
    assert calls > 0
    assert f"calls: {calls}" in output
    assert f"completed: {calls}" in output
    assert "non-2xx webhooks: 0" in output
    assert {c["to"] for c in truth["calls"]} == {NUMBER}
    assert {c["call_sid"][:2] for c in truth["calls"]} == {"CA"}
    statuses = list(server.received("/webhooks/twilio/voice/status/"))
    assert len(statuses) == calls and server.bad_signatures == []
    assert {p["AccountSid"] for p in statuses} == {"AC" + "0" * 32}


@pytest.mark.django_db
def test_simulate_command_calls_the_first_number_by_default(settings):
    number = PhoneNumberFactory(e164="+15005550123")
    PhoneNumberFactory()
    server = ScriptedServer(twiml={"/webhooks/twilio/voice/incoming/": HELLO})
    with BackgroundServer(server):
        run_command(server, settings)
    assert {p["To"] for p in server.received("/webhooks/twilio/voice/incoming/")} == {number.e164}


def test_simulate_command_needs_an_auth_token(settings):
    settings.TWILIO_AUTH_TOKEN = ""
    with pytest.raises(CommandError, match="TWILIO_AUTH_TOKEN"):
        call_command(
            "simulate", "--calls-per-minute", "1", "--duration", "1", "--seed", "1",
            "--base-url", "http://127.0.0.1:9", "--number", NUMBER,
        )  # fmt: skip


def test_settings_configure_the_account_and_the_gateways_api_key(settings):
    settings.TWILIO_ACCOUNT_SID = "AC" + "a" * 32
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.TWILIO_API_KEY, settings.TWILIO_API_SECRET = "SK" + "b" * 32, "api-secret"
    settings.TWILIO_WEBHOOK_BASE_URL = "http://127.0.0.1:9"
    settings.TWILIO_API_BASE_URL = "http://127.0.0.1:0"
    config = config_from_settings(number=NUMBER, seed=4)
    assert (config.account_sid, config.port, config.seed) == ("AC" + "a" * 32, 0, 4)

    async def scenario():
        async with Simulator(config) as simulator:
            http = SimulatorHttpClient(simulator.rest_base_url)
            client = Client("SK" + "b" * 32, "api-secret", config.account_sid, http_client=http)
            return await asyncio.to_thread(client.calls.list)

    assert asyncio.run(scenario()) == []
