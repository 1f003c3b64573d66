"""Recordings: the <Record> verb (voicemail), <Dial record>, and the Recordings REST resource."""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from telephony.simulator.clock import rfc2822, whole_seconds
from telephony.simulator.legs import HungUp, SimCall, StatusSubscription, TwimlSource
from telephony.simulator.twiml import Document, Verb

if TYPE_CHECKING:
    from telephony.simulator.exchange import Exchange
    from telephony.simulator.executor import CallSession

# Served audio is capped: it only has to play in a browser during a demo.
MAX_MEDIA_SECONDS = 120
MEDIA_SAMPLE_RATE = 8000


@dataclass(eq=False)
class Recording:
    exchange: Exchange
    sid: str
    call: SimCall
    source: str  # RecordVerb | DialVerb | StartCallRecordingAPI
    channels: int
    subscription: StatusSubscription | None
    started_at: datetime
    status: str = "in-progress"  # in-progress | paused | stopped | completed
    date_updated: datetime | None = None
    duration: int | None = None
    paused_since: datetime | None = None
    paused_seconds: float = 0.0

    @property
    def media_url(self) -> str:
        base = self.exchange.rest_base_url
        return f"{base}/2010-04-01/Accounts/{self.exchange.account_sid}/Recordings/{self.sid}"

    def result_params(self) -> dict[str, str]:
        """What an action URL learns about the recording."""
        return {
            "RecordingUrl": self.media_url,
            "RecordingSid": self.sid,
            "RecordingDuration": str(self.duration or 0),
        }

    def pause(self) -> None:
        if self.status == "in-progress":
            self.status, self.paused_since = "paused", self.exchange.clock.now()
            self._notify("paused")

    def resume(self) -> None:
        if self.status == "paused" and self.paused_since is not None:
            self.paused_seconds += self.exchange.clock.seconds_since(self.paused_since)
            self.status, self.paused_since = "in-progress", None
            self._notify("in-progress")

    def complete(self, duration: float | None = None) -> None:
        if self.status in ("stopped", "completed"):
            return
        if duration is None:
            self.resume()
            duration = self.exchange.clock.seconds_since(self.started_at) - self.paused_seconds
        self.duration = whole_seconds(duration)
        self.status = "completed"
        self.date_updated = self.exchange.clock.now()
        self._notify("completed")

    def _notify(self, status: str) -> None:
        subscription = self.subscription
        if subscription is None or not subscription.url or status not in subscription.events:
            return
        params = {
            "AccountSid": self.exchange.account_sid,
            "CallSid": self.call.sid,
            "RecordingSid": self.sid,
            "RecordingUrl": self.media_url,
            "RecordingStatus": status,
            "RecordingChannels": str(self.channels),
            "RecordingSource": self.source,
            "RecordingStartTime": rfc2822(self.started_at),
            "RecordingTrack": "both",
            "ErrorCode": "0",
        }
        if status == "completed":
            params["RecordingDuration"] = str(self.duration or 0)
        self.exchange.webhooks.send_callback(
            subscription.url,
            params,
            method=subscription.method,
            kind="recording",
            call_sid=self.call.sid,
            order_key=self.sid,
        )


def start(
    exchange: Exchange,
    call: SimCall,
    source: str,
    channels: int = 1,
    subscription: StatusSubscription | None = None,
) -> Recording:
    recording = Recording(
        exchange=exchange,
        sid=exchange.sids.new("RE"),
        call=call,
        source=source,
        channels=channels,
        subscription=subscription,
        started_at=exchange.clock.now(),
    )
    exchange.recordings[recording.sid] = recording
    recording._notify("in-progress")
    return recording


def stop(recording: Recording | None) -> Recording | None:
    if recording is not None:
        recording.complete()
    return recording


def stop_all_of(exchange: Exchange, call: SimCall) -> None:
    """A call's recordings end with it."""
    for recording in exchange.recordings.values():
        if recording.call is call:
            recording.complete()


async def run_record(session: CallSession, verb: Verb, document: Document) -> TwimlSource | None:
    """<Record>: the party speaks for its scripted time, then Twilio reports the recording."""
    call, timing = session.call, session.timing
    max_length = verb.number("maxLength", 3600)
    silence_timeout = verb.number("timeout", 5)
    finish_keys = verb.attrs.get("finishOnKey", "1234567890*#")
    if verb.flag("playBeep", True):
        await session.spend_audio(timing.beep_seconds)
    message = call.party.record()
    if message is None:  # nobody speaks: Twilio drops an empty recording and goes on
        await session.spend_audio(silence_timeout)
        return None
    spoken = min(message.seconds, max_length)
    url = verb.attr("recordingStatusCallback")
    subscription = (
        StatusSubscription(
            document.resolve(url),
            verb.method("recordingStatusCallbackMethod"),
            frozenset((verb.attr("recordingStatusCallbackEvent") or "completed").split()),
        )
        if url
        else None
    )
    recording = start(session.exchange, call, "RecordVerb", 1, subscription)
    digits: str | None = None
    try:
        if message.ending == "hangup" and spoken < max_length:
            await call.sleep(spoken)
            digits = "hangup"
            call.hang_up(by=call.party.role)
            call.raise_if_interrupted()
        elif message.ending == "key" and finish_keys and spoken < max_length:
            await call.sleep(spoken + 0.5)
            digits = "#" if "#" in finish_keys else finish_keys[0]
        else:
            await call.sleep(spoken + (silence_timeout if spoken < max_length else 0))
    except HungUp:
        digits = "hangup"
        _finish(recording, call, spoken)
        await session.notify(_action(verb, document, recording, digits))
        raise
    _finish(recording, call, spoken)
    return _action(verb, document, recording, digits)


def _finish(recording: Recording, call: SimCall, spoken: float) -> None:
    recording.complete(spoken)
    if call.party.role == "caller":
        call.record.note("voicemail")
        call.record.recording_sid = recording.sid
        call.record.recording_seconds = recording.duration


def _action(verb: Verb, document: Document, recording: Recording, digits: str | None):
    # Without an action Twilio requests the current document's URL again.
    action = verb.attr("action")
    url = document.resolve(action) if action else document.url
    if url is None:
        return None
    params = recording.result_params()
    if digits is not None:
        params["Digits"] = digits
    return TwimlSource(url=url, method=verb.method(), params=params)


def silent_wav(seconds: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(1)
        audio.setframerate(MEDIA_SAMPLE_RATE)
        frames = MEDIA_SAMPLE_RATE * max(1, min(seconds, MAX_MEDIA_SECONDS))
        audio.writeframes(b"\x80" * frames)
    return buffer.getvalue()
