"""Conferences named by FriendlyName: who is in, hold/mute/coach, start and end, and callbacks."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from telephony.simulator.clock import rfc2822
from telephony.simulator.legs import HungUp, Redirected, SimCall, StatusSubscription
from telephony.simulator.twiml import Document, TwimlError, Verb, audio_seconds, parse_twiml

if TYPE_CHECKING:
    from telephony.simulator.exchange import Exchange

# statusCallbackEvent names → the StatusCallbackEvent values they subscribe to.
EVENT_CATEGORY = {
    "conference-start": "start",
    "conference-end": "end",
    "participant-join": "join",
    "participant-leave": "leave",
    "participant-mute": "mute",
    "participant-unmute": "mute",
    "participant-hold": "hold",
    "participant-unhold": "hold",
    "participant-modify": "modify",
    "announcement-end": "announcement",
}
DEFAULT_EVENTS = frozenset({"start", "end"})


def _bool(value: bool) -> str:
    return "true" if value else "false"


@dataclass
class JoinOptions:
    start_on_enter: bool = True
    end_on_exit: bool = False
    muted: bool = False
    hold: bool = False
    hold_url: str | None = None
    hold_method: str = "GET"
    coaching: bool = False
    call_sid_to_coach: str | None = None
    label: str | None = None
    wait_url: str | None = None
    wait_method: str = "POST"
    callback: StatusSubscription | None = None

    @classmethod
    def from_twiml(cls, noun: Verb, document: Document) -> JoinOptions:
        url, wait_url = noun.attr("statusCallback"), noun.attr("waitUrl")
        events = frozenset((noun.attr("statusCallbackEvent") or "").split()) or DEFAULT_EVENTS
        callback = (
            StatusSubscription(document.resolve(url), noun.method("statusCallbackMethod"), events)
            if url
            else None
        )
        return cls(
            start_on_enter=noun.flag("startConferenceOnEnter", True),
            end_on_exit=noun.flag("endConferenceOnExit", False),
            muted=noun.flag("muted", False),
            coaching=bool(noun.attr("coach")),
            call_sid_to_coach=noun.attr("coach"),
            label=noun.attr("participantLabel"),
            wait_url=document.resolve(wait_url) if wait_url else None,
            wait_method=noun.method("waitMethod"),
            callback=callback,
        )


@dataclass(frozen=True)
class ParticipantChanges:
    """A Participants API update; None leaves a setting as it is."""

    hold: bool | None = None
    hold_url: str | None = None
    hold_method: str | None = None
    muted: bool | None = None
    coaching: bool | None = None
    call_sid_to_coach: str | None = None
    end_on_exit: bool | None = None


@dataclass(eq=False)
class Participant:
    call: SimCall
    room: ConferenceRoom
    options: JoinOptions
    status: str  # queued | ringing | connected | complete | failed
    date_created: datetime
    date_updated: datetime
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    music: asyncio.Task | None = None

    @property
    def gone(self) -> bool:
        return self.status in ("complete", "failed")


class ConferenceRoom:
    def __init__(self, exchange: Exchange, sid: str, friendly_name: str) -> None:
        self.exchange = exchange
        self.sid = sid
        self.friendly_name = friendly_name
        self.status = "init"  # init | in-progress | completed
        self.date_created = self.date_updated = exchange.clock.now()
        self.participants: dict[str, Participant] = {}
        self.callback: StatusSubscription | None = None
        self.reason_ended: str | None = None
        self.call_sid_ending: str | None = None
        self._sequence = 0

    def present(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.status == "connected"]

    def find(self, call_sid_or_label: str) -> Participant | None:
        found = self.participants.get(call_sid_or_label)
        if found is None:
            found = next(
                (p for p in self.participants.values() if p.options.label == call_sid_or_label),
                None,
            )
        return found

    def company_of(self, participant: Participant) -> list[Participant]:
        if self.status != "in-progress":
            return []
        return [p for p in self.present() if p is not participant]

    def add(self, call: SimCall, options: JoinOptions, status: str = "queued") -> Participant:
        now = self.exchange.clock.now()
        participant = Participant(call, self, replace(options), status, now, now)
        self.participants[call.sid] = participant
        # Twilio uses the conference status callback of the first participant that gives one.
        if self.callback is None and options.callback is not None:
            self.callback = options.callback
        return participant

    def admit(self, participant: Participant) -> bool:
        """The participant's leg is up and joins; False if the conference is over by now."""
        if self.status == "completed":
            participant.status = "failed"
            return False
        participant.status = "connected"
        participant.date_updated = self.date_updated = self.exchange.clock.now()
        self._notify("participant-join", participant)
        if self.status == "init" and participant.options.start_on_enter:
            self._start()
        elif self.status == "init" and participant.options.wait_url:
            self._play_music(
                participant, participant.options.wait_url, participant.options.wait_method
            )
        if participant.options.hold:
            self._hold_music(participant)
        self._note_company()
        self._wake_all()
        return True

    def _note_company(self) -> None:
        """Who is in company now, noted at once: a participant who leaves at the instant
        another joins was still in company with them (as the callbacks' order says), though
        take_part, which runs later, would no longer see it."""
        for participant in self.present():
            if company := self.company_of(participant):
                participant.call.note_connected([p.call for p in company])

    def _start(self) -> None:
        self.status = "in-progress"
        for participant in self.present():
            if participant.music is not None and not participant.options.hold:
                self._stop_music(participant)
        self._notify("conference-start")

    def leave(self, participant: Participant, reason: str) -> None:
        """`reason` is hangup, redirected or kicked."""
        if participant.gone:
            return
        self._depart(participant)
        if self.status == "completed":
            return
        how = "kicked" if reason == "kicked" else "left"
        if participant.options.end_on_exit:
            self.end(f"participant-with-end-conference-on-exit-{how}", participant.call.sid)
        elif not self.present():
            self.end(f"last-participant-{how}", participant.call.sid)
        else:
            self._wake_all()

    def _depart(self, participant: Participant) -> None:
        participant.status = "complete"
        participant.date_updated = self.date_updated = self.exchange.clock.now()
        self._stop_music(participant)
        self._notify("participant-leave", participant)
        participant.wake.set()

    def end(self, reason: str, ending_call_sid: str | None = None) -> None:
        if self.status == "completed":
            return
        started = self.status == "in-progress"
        self.status = "completed"
        self.reason_ended, self.call_sid_ending = reason, ending_call_sid
        for participant in self.present():
            self._depart(participant)
        if started:
            extra = {"ReasonConferenceEnded": reason, "Reason": reason}
            if ending_call_sid:
                extra["CallSidEndingConference"] = ending_call_sid
            self._notify("conference-end", **extra)
        self.exchange.conferences.retire(self)

    def update(self, participant: Participant, changes: ParticipantChanges) -> None:
        """Apply a Participants API update, with the callbacks Twilio sends for it."""
        options = participant.options
        if changes.hold_url is not None:
            options.hold_url = changes.hold_url
            options.hold_method = changes.hold_method or "GET"
        if changes.hold is not None and changes.hold != options.hold:
            options.hold = changes.hold
            self._notify("participant-hold" if options.hold else "participant-unhold", participant)
            if options.hold:
                self._hold_music(participant)
            else:
                self._stop_music(participant)
        if changes.muted is not None and changes.muted != options.muted:
            options.muted = changes.muted
            self._notify("participant-mute" if options.muted else "participant-unmute", participant)
        if changes.coaching is not None or changes.call_sid_to_coach is not None:
            options.coaching = options.coaching if changes.coaching is None else changes.coaching
            coached = changes.call_sid_to_coach or options.call_sid_to_coach
            options.call_sid_to_coach = coached if options.coaching else None
            self._notify("participant-modify", participant)
        if changes.end_on_exit is not None:
            options.end_on_exit = changes.end_on_exit
        participant.date_updated = self.exchange.clock.now()

    def announce(self, url: str, method: str, participant: Participant | None = None) -> None:
        self.exchange.spawn(self._announce(url, method, participant))

    # --- music and announcements -----------------------------------------------------------

    def _hold_music(self, participant: Participant) -> None:
        if participant.options.hold_url:
            url, method = participant.options.hold_url, participant.options.hold_method
            self._play_music(participant, url, method)

    def _play_music(self, participant: Participant, url: str, method: str) -> None:
        self._stop_music(participant)
        participant.music = self.exchange.spawn(self._music_loop(participant, url, method))

    @staticmethod
    def _stop_music(participant: Participant) -> None:
        if participant.music is not None:
            participant.music.cancel()
            participant.music = None

    async def _music_loop(self, participant: Participant, url: str, method: str) -> None:
        """Twilio requests hold/wait TwiML again each time it has played it through."""
        while True:
            seconds = await self._fetch_audio(url, method, participant.call, "hold-music")
            if seconds is None:
                return
            await self.exchange.clock.sleep(seconds or self.exchange.config.media.play_seconds)

    async def _announce(self, url: str, method: str, participant: Participant | None) -> None:
        call = participant.call if participant else None
        seconds = await self._fetch_audio(url, method, call, "announcement")
        if seconds is None:
            return
        await self.exchange.clock.sleep(seconds)
        self._notify("announcement-end", participant)

    async def _fetch_audio(
        self, url: str, method: str, call: SimCall | None, kind: str
    ) -> float | None:
        params = call.twiml_params() if call else {"AccountSid": self.exchange.account_sid}
        params["ConferenceSid"] = self.sid
        result = await self.exchange.webhooks.request(
            url, params, method=method, kind=kind, call_sid=call.sid if call else None
        )
        try:
            if not result.is_twiml:
                raise TwimlError(f"{url} answered {result.status or result.failure}")
            document = parse_twiml(result.body, url)
        except TwimlError as error:
            self.exchange.truth.add_error(call.sid if call else None, f"{kind}: {error}")
            return None
        timing = self.exchange.config.media
        return sum(audio_seconds(verb, timing) for verb in document.verbs)

    # --- callbacks -------------------------------------------------------------------------

    def _wake_all(self) -> None:
        for participant in self.present():
            participant.wake.set()

    def _notify(self, event: str, participant: Participant | None = None, **extra: str) -> None:
        callback = self.callback
        if callback is None or not callback.url or EVENT_CATEGORY[event] not in callback.events:
            return
        self._sequence += 1
        params = {
            "AccountSid": self.exchange.account_sid,
            "ConferenceSid": self.sid,
            "FriendlyName": self.friendly_name,
            "StatusCallbackEvent": event,
            "Timestamp": rfc2822(self.exchange.clock.now()),
            "SequenceNumber": str(self._sequence),
        }
        if participant is not None:
            options = participant.options
            params.update(
                CallSid=participant.call.sid,
                Muted=_bool(options.muted),
                Hold=_bool(options.hold),
                Coaching=_bool(options.coaching),
                EndConferenceOnExit=_bool(options.end_on_exit),
                StartConferenceOnEnter=_bool(options.start_on_enter),
            )
            if options.label:
                params["ParticipantLabel"] = options.label
            if options.coaching and options.call_sid_to_coach:
                params["CallSidToCoach"] = options.call_sid_to_coach
        params.update(extra)
        self.exchange.webhooks.send_callback(
            callback.url,
            params,
            method=callback.method,
            kind="conference",
            call_sid=participant.call.sid if participant else None,
            order_key=self.sid,
        )


class ConferenceDirectory:
    def __init__(self, exchange: Exchange) -> None:
        self._exchange = exchange
        self.by_sid: dict[str, ConferenceRoom] = {}
        self._active: dict[str, ConferenceRoom] = {}

    def get(self, sid_or_name: str) -> ConferenceRoom | None:
        return self.by_sid.get(sid_or_name) or self._active.get(sid_or_name)

    def active_named(self, name: str) -> ConferenceRoom:
        room = self._active.get(name)
        if room is None:
            room = ConferenceRoom(self._exchange, self._exchange.sids.new("CF"), name)
            self.by_sid[room.sid] = room
            self._active[name] = room
        return room

    def retire(self, room: ConferenceRoom) -> None:
        if self._active.get(room.friendly_name) is room:
            del self._active[room.friendly_name]


async def take_part(participant: Participant) -> None:
    """Stay in the conference until removed or it ends; leave it if the leg hangs up or moves."""
    call, room = participant.call, participant.room
    try:
        while not participant.gone:
            participant.wake.clear()
            company = room.company_of(participant)
            if company:
                call.note_connected([p.call for p in company])
            with call.in_mode("connected" if company else "waiting"):
                await call.wait(participant.wake.wait())
    except HungUp:
        room.leave(participant, "hangup")
        raise
    except Redirected:
        room.leave(participant, "redirected")
        raise
