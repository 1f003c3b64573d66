"""Shared by the simulator tests (this module has no tests): a scripted stand-in for our server,
which checks every webhook's signature and answers fixed TwiML, and a Twilio REST client for
the simulator."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client  # noqa: TID251 - the tests play the gateway's part

from telephony.simulator import NumberConfig, Simulator, SimulatorConfig

AUTH_TOKEN = "simulator-test-token"
NUMBER = "+15005550006"
STATUS_EVENTS = ("initiated", "ringing", "answered", "completed")

INCOMING = """<Response>
  <Say>Thanks for calling the test line</Say>
  <Gather numDigits="1" action="/menu" timeout="3">
    <Say>Press 1 for sales or 2 for support</Say>
  </Gather>
  <Redirect>/menu</Redirect>
</Response>"""
ENQUEUE = """<Response>
  <Enqueue action="/enqueue-done" waitUrl="/wait">{queue}</Enqueue>
  <Say>Never reached: the action's TwiML replaces this document</Say>
</Response>"""
WAIT = """<Response>
  <Say>You are caller number {position}</Say>
  <Gather numDigits="1" action="/wait-choice" timeout="2">
    <Say>Press 1 to be called back</Say>
  </Gather>
  <Play>https://example.invalid/hold.mp3</Play>
</Response>"""
VOICEMAIL = """<Response>
  <Say>Please leave a message after the tone</Say>
  <Record action="/recorded" maxLength="60" recordingStatusCallback="/recording-status"/>
</Response>"""
AGENT_LEG = """<Response>
  <Dial><Conference statusCallback="/conference-status"
      statusCallbackEvent="start end join leave hold mute modify"
      endConferenceOnExit="true">{room}</Conference></Dial>
</Response>"""
GOODBYE = "<Response><Say>Goodbye</Say><Hangup/></Response>"


@dataclass
class Received:
    method: str
    path: str
    url: str
    params: dict[str, str]
    signature_ok: bool
    idempotency_token: str | None


@dataclass
class ScriptedServer:
    """Our server, scripted: incoming → menu → queue with a waitUrl → leave → voicemail."""

    auth_token: str = AUTH_TOKEN
    leave_after_polls: int = 3
    twiml: dict[str, str] = field(default_factory=dict)  # fixed answers per path
    failures: dict[str, list[int]] = field(default_factory=dict)  # statuses to answer first
    requests: list[Received] = field(default_factory=list)
    base_url: str = ""

    def __post_init__(self) -> None:
        self._validator = RequestValidator(self.auth_token)
        self._polls: Counter[str] = Counter()
        self._callback_requested: set[str] = set()
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def received(self, path: str) -> list[dict[str, str]]:
        return [r.params for r in self.requests if r.path == path]

    @property
    def bad_signatures(self) -> list[Received]:
        return [r for r in self.requests if not r.signature_ok]

    async def _handle(self, request: web.Request) -> web.Response:
        if request.method == "POST":
            params = {k: str(v) for k, v in (await request.post()).items()}
            signed_params: dict[str, str] = params
        else:
            params, signed_params = dict(request.query), {}
        signature = request.headers.get("X-Twilio-Signature", "")
        self.requests.append(
            Received(
                method=request.method,
                path=request.path,
                url=str(request.url),
                params=params,
                signature_ok=self._validator.validate(str(request.url), signed_params, signature),
                idempotency_token=request.headers.get("I-Twilio-Idempotency-Token"),
            )
        )
        pending = self.failures.get(request.path)
        if pending:
            return web.Response(status=pending.pop(0), text="scripted failure")
        if request.path in self.twiml:
            return self._xml(self.twiml[request.path].format(**request.query))
        answer = self._answer(request.path, params, request.query)
        if answer is None:
            return web.Response(status=204)
        return self._xml(answer)

    @staticmethod
    def _xml(body: str) -> web.Response:
        return web.Response(text=body, content_type="application/xml")

    def _answer(self, path: str, params: dict[str, str], query: Any) -> str | None:
        call_sid = params.get("CallSid", "")
        if path == "/voice/incoming":
            return INCOMING
        if path == "/menu":
            digits = params.get("Digits", "")
            if digits and digits not in ("1", "2"):
                return "<Response><Say>Sorry</Say><Redirect>/voice/incoming</Redirect></Response>"
            return ENQUEUE.format(queue="sales" if digits == "1" else "support")
        if path == "/wait":
            self._polls[call_sid] += 1
            if self._polls[call_sid] > self.leave_after_polls:
                return "<Response><Leave/></Response>"
            return WAIT.format(position=params["QueuePosition"])
        if path == "/wait-choice":
            if params.get("Digits") == "1":
                self._callback_requested.add(call_sid)
                return "<Response><Say>We will call you back</Say><Leave/></Response>"
            return "<Response/>"
        if path == "/enqueue-done":
            if params["QueueResult"] == "leave" and call_sid not in self._callback_requested:
                return VOICEMAIL
            return GOODBYE
        if path == "/recorded":
            return GOODBYE
        if path == "/agent-leg":
            return AGENT_LEG.format(room=query.get("room", "room"))
        return None


def number_config(**overrides: Any) -> NumberConfig:
    values = {
        "e164": NUMBER,
        "voice_path": "/voice/incoming",
        "status_path": "/status",
        "status_events": STATUS_EVENTS,
    }
    return NumberConfig(**(values | overrides))


def simulator_config(server: ScriptedServer, **overrides: Any) -> SimulatorConfig:
    values: dict[str, Any] = {
        "auth_token": server.auth_token,
        "webhook_base_url": server.base_url,
        "numbers": (number_config(),),
        "seed": 7,
        "speed": 400.0,
    }
    return SimulatorConfig(**(values | overrides))


@contextlib.asynccontextmanager
async def scripted_world(server: ScriptedServer | None = None, **overrides: Any):
    """Our scripted server and a simulator pointed at it, both torn down cleanly."""
    server = server or ScriptedServer()
    await server.start()
    try:
        async with Simulator(simulator_config(server, **overrides)) as simulator:
            yield server, simulator
    finally:
        await server.stop()


class SimulatorHttpClient(TwilioHttpClient):
    """What the gateway does in simulated mode: send the SDK's requests to the simulator."""

    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url

    def request(self, method: str, url: str, *args: Any, **kwargs: Any):
        url = url.replace("https://api.twilio.com", self.base_url)
        return super().request(method, url, *args, **kwargs)


def rest_client(simulator: Simulator, auth_token: str = AUTH_TOKEN) -> Client:
    account = simulator.config.account_sid
    return Client(account, auth_token, http_client=SimulatorHttpClient(simulator.rest_base_url))


async def in_thread(function, *args: Any, **kwargs: Any) -> Any:
    """The SDK blocks: call it off the event loop the simulator runs on."""
    return await asyncio.to_thread(function, *args, **kwargs)
