"""<Dial>: ring Clients and Numbers (first to answer wins) and bridge, or join a Conference."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from telephony.simulator import recordings
from telephony.simulator.conferences import JoinOptions, take_part
from telephony.simulator.errors import ApplicationError
from telephony.simulator.legs import HungUp, Redirected, SimCall, StatusSubscription, TwimlSource
from telephony.simulator.twiml import Document, Verb

if TYPE_CHECKING:
    from telephony.simulator.exchange import Exchange
    from telephony.simulator.executor import CallSession

# When every leg fails, the most telling failure is the one reported.
FAILURE_ORDER = ("busy", "no-answer", "failed", "canceled")


@dataclass
class DialOutcome:
    status: str
    call_sid: str | None = None
    duration: int = 0
    recording: recordings.Recording | None = None

    def params(self) -> dict[str, str]:
        params = {"DialCallStatus": self.status, "DialCallDuration": str(self.duration)}
        if self.call_sid:
            params["DialCallSid"] = self.call_sid
        if self.recording is not None:
            params.update(self.recording.result_params())
        return params


async def run_dial(session: CallSession, verb: Verb, document: Document) -> TwimlSource | None:
    nouns = list(verb.children) or ([Verb("Number", text=verb.own_text)] if verb.own_text else [])
    if not nouns:
        raise ApplicationError("<Dial> with nothing to dial")
    names = {noun.name for noun in nouns}
    if "Conference" in names:
        if len(nouns) != 1 or not nouns[0].text:
            raise ApplicationError("<Conference> must be named and alone in its <Dial>")
        outcome = await _dial_conference(session, verb, nouns[0], document)
    elif names <= {"Client", "Number"}:
        outcome = await _dial_parties(session, verb, nouns, document)
    else:
        unsupported = sorted(names - {"Client", "Number", "Conference"})
        raise ApplicationError(f"<Dial><{unsupported[0]}> is not supported by the simulator")
    session.call.record.dial_statuses.append(outcome.status)
    return _action(verb, document, outcome)


def _action(verb: Verb, document: Document, outcome: DialOutcome) -> TwimlSource | None:
    # Without an action Twilio goes on with the verb after <Dial>.
    action = verb.attr("action")
    if not action:
        return None
    return TwimlSource(document.resolve(action), verb.method(), outcome.params())


async def _dial_conference(
    session: CallSession, verb: Verb, noun: Verb, document: Document
) -> DialOutcome:
    call = session.call
    room = session.exchange.conferences.active_named(noun.text)
    participant = room.add(call, JoinOptions.from_twiml(noun, document))
    joined_at = call.clock.now()
    if not room.admit(participant):
        return DialOutcome("failed")
    try:
        await take_part(participant)
    except HungUp:
        duration = round(call.clock.seconds_since(joined_at))
        await session.notify(_action(verb, document, DialOutcome("completed", duration=duration)))
        raise
    return DialOutcome("completed", duration=round(call.clock.seconds_since(joined_at)))


class DialAttempt:
    """The legs one <Dial> rings at once; the first to answer is bridged, the rest dropped."""

    def __init__(self, legs: list[SimCall]) -> None:
        loop = asyncio.get_running_loop()
        self.legs = legs
        self.winner: asyncio.Future[SimCall | None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.failures: list[str] = []

    def claim(self, leg: SimCall) -> bool:
        if self.winner.done():
            return False
        self.winner.set_result(leg)
        for other in self.legs:
            if other is not leg:
                other.hang_up(by="twilio")
        return True

    def failed(self, status: str) -> None:
        self.failures.append(status)
        if len(self.failures) == len(self.legs) and not self.winner.done():
            self.winner.set_result(None)

    def close(self) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def failure_status(self) -> str:
        return next((s for s in FAILURE_ORDER if s in self.failures), "failed")


async def _dial_parties(
    session: CallSession, verb: Verb, nouns: list[Verb], document: Document
) -> DialOutcome:
    exchange, call = session.exchange, session.call
    timeout = verb.number("timeout", 30)
    caller_id = verb.attr("callerId") or call.from_
    legs = [
        exchange.new_leg(
            direction="outbound-dial",
            from_=caller_id,
            to=_target(noun),
            subscription=_subscription(noun, document),
            parent_call_sid=call.sid,
        )
        for noun in nouns
    ]
    attempt = DialAttempt(legs)
    for leg in legs:
        exchange.spawn(_ring_leg(exchange, attempt, leg, timeout))
    recording = None
    try:
        with call.in_mode("waiting"):
            winner = await call.wait(attempt.winner)
        if winner is None:
            return DialOutcome(attempt.failure_status(), legs[0].sid)
        call.note_connected([winner])
        winner.note_connected([call])
        recording = _start_dial_recording(exchange, call, verb, document)
        with call.in_mode("connected"):
            await call.wait(attempt.closed)
    except (HungUp, Redirected) as interruption:
        attempt.close()
        for leg in legs:
            leg.hang_up(by="twilio")
        if isinstance(interruption, HungUp):
            winner = attempt.winner.result() if attempt.winner.done() else None
            status = "completed" if winner else "canceled"
            outcome = DialOutcome(status, (winner or legs[0]).sid, _bridged_seconds(winner))
            outcome.recording = recordings.stop(recording)
            await session.notify(_action(verb, document, outcome))
        raise
    outcome = DialOutcome("completed", winner.sid, _bridged_seconds(winner))
    outcome.recording = recordings.stop(recording)
    return outcome


def _bridged_seconds(leg: SimCall | None) -> int:
    return 0 if leg is None else leg.duration_seconds


async def _ring_leg(exchange: Exchange, attempt: DialAttempt, leg: SimCall, timeout: float):
    result = await exchange.ring(leg, timeout)
    if result != "answered":
        leg.finish(result)
        attempt.failed(result)
        return
    if not attempt.claim(leg):
        leg.finish("completed")
        return
    try:
        with leg.in_mode("connected"):
            await leg.wait(attempt.closed)
    except HungUp:
        pass
    except Redirected as redirect:
        # The dialed leg moves to other TwiML: the bridge is over, the leg lives on.
        attempt.close()
        await exchange.run_session(leg, redirect.source)
        return
    attempt.close()
    leg.finish("completed")


def _target(noun: Verb) -> str:
    if noun.name == "Client":
        identity = next((c.text for c in noun.children if c.name == "Identity"), noun.own_text)
        if not identity:
            raise ApplicationError("<Client> without an identity")
        return f"client:{identity}"
    if not noun.text:
        raise ApplicationError("<Number> without a number")
    return noun.text


def _subscription(noun: Verb, document: Document) -> StatusSubscription:
    url = noun.attr("statusCallback")
    if not url:
        return StatusSubscription()
    events = frozenset((noun.attr("statusCallbackEvent") or "completed").split())
    return StatusSubscription(document.resolve(url), noun.method("statusCallbackMethod"), events)


def _start_dial_recording(exchange, call: SimCall, verb: Verb, document: Document):
    mode = verb.attr("record", "do-not-record")
    if not mode.startswith("record-from-"):
        return None
    url = verb.attr("recordingStatusCallback")
    events = frozenset((verb.attr("recordingStatusCallbackEvent") or "completed").split())
    method = verb.method("recordingStatusCallbackMethod")
    subscription = StatusSubscription(document.resolve(url), method, events) if url else None
    channels = 2 if mode.endswith("-dual") else 1
    return recordings.start(exchange, call, "DialVerb", channels, subscription)
