"""Runs a leg's TwiML the way Twilio does, one verb after another, until the call ends."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeAlias

from telephony.simulator import dialing, queueing, recordings
from telephony.simulator.errors import ApplicationError, LeftQueue
from telephony.simulator.legs import HungUp, Redirected, SimCall, TwimlSource
from telephony.simulator.twiml import (
    MAIN_VERBS,
    PROMPT_VERBS,
    Document,
    TwimlError,
    Verb,
    audio_seconds,
    parse_twiml,
)
from telephony.simulator.webhooks import WebhookResult

if TYPE_CHECKING:
    from telephony.simulator.exchange import Exchange

logger = logging.getLogger(__name__)

# A step is TwiML to fetch, a parsed document, or a coroutine that decides what comes next.
Step: TypeAlias = TwimlSource | Document | Callable[[], Awaitable["Step | None"]]


class CallSession:
    def __init__(self, exchange: Exchange, call: SimCall) -> None:
        self.exchange = exchange
        self.call = call
        self.timing = exchange.config.media
        # Audio time played so far, so a waitUrl loop that plays nothing cannot spin.
        self.audio_played = 0.0
        self.final_status: str | None = None
        self._handlers = {
            "Say": self.play_audio,
            "Play": self.play_audio,
            "Pause": self.play_audio,
            "Gather": self.gather,
            "Redirect": self.redirect,
            "Hangup": self.hangup,
            "Reject": self.reject,
            "Leave": self.leave,
            "Record": lambda verb, doc: recordings.run_record(self, verb, doc),
            "Dial": lambda verb, doc: dialing.run_dial(self, verb, doc),
            "Enqueue": lambda verb, doc: queueing.run_enqueue(self, verb, doc),
        }

    async def run(self, start: Step) -> None:
        """Execute from `start` until the call is over, then end the leg."""
        call = self.call
        try:
            step: Step | None = start
            while step is not None:
                try:
                    step = await self._advance(step)
                except Redirected as redirect:
                    step = redirect.source
        except HungUp:
            pass
        except (ApplicationError, TwimlError) as error:
            self.fail(f"application error: {error}")
        except Exception as error:
            logger.exception("simulator error on %s", call.sid)
            self.fail(f"simulator error: {error!r}")
        call.finish(self.final_status)

    def fail(self, message: str) -> None:
        self.exchange.truth.add_error(self.call.sid, message)
        self.call.record.note("failed")
        self.final_status = "completed" if self.call.answered_at else "failed"

    async def _advance(self, step: Step) -> Step | None:
        if callable(step):
            return await step()
        document = step if isinstance(step, Document) else await self.fetch(step)
        return await self.run_document(document)

    async def run_document(self, document: Document, allowed=MAIN_VERBS) -> Step | None:
        if not document.verbs:
            self.call.answer()
        for verb in document.verbs:
            handler = self._handlers.get(verb.name)
            if handler is None or verb.name not in allowed:
                raise ApplicationError(f"<{verb.name}> is not a verb Twilio runs here")
            if verb.name != "Reject":  # Twilio picks up on the first verb other than <Reject>
                self.call.answer()
            step = await handler(verb, document)
            if step is not None:
                return step
        return None

    # --- webhooks --------------------------------------------------------------------------

    async def request(self, source: TwimlSource, kind: str = "twiml") -> WebhookResult:
        assert source.url is not None
        params = self.call.twiml_params() | source.params
        return await self.exchange.webhooks.request(
            source.url, params, method=source.method, kind=kind, call_sid=self.call.sid
        )

    async def fetch(self, source: TwimlSource) -> Document:
        if source.twiml is not None:
            return parse_twiml(source.twiml)
        result = await self.request(source)
        if not result.is_twiml:
            status = result.status if result.status is not None else result.failure
            raise ApplicationError(f"{source.url} answered {status} {result.content_type}")
        return parse_twiml(result.body, url=source.url)

    async def notify(self, source: TwimlSource | None) -> None:
        """Request an action URL whose TwiML can no longer run (the caller is gone)."""
        if source is not None and source.url is not None:
            await self.request(source)

    # --- verbs -----------------------------------------------------------------------------

    async def spend_audio(self, seconds: float) -> None:
        self.audio_played += seconds
        await self.call.sleep(seconds)

    async def play_audio(self, verb: Verb, document: Document) -> None:
        await self.spend_audio(audio_seconds(verb, self.timing))

    async def gather(self, verb: Verb, document: Document) -> Step | None:
        if any(prompt.name not in PROMPT_VERBS for prompt in verb.children):
            raise ApplicationError("<Gather> may only contain <Say>, <Play> and <Pause>")
        call, record = self.call, self.call.record
        prompt_seconds = sum(audio_seconds(prompt, self.timing) for prompt in verb.children)
        timeout = verb.number("timeout", 5)
        queued = call.queue_member is not None
        reply = call.party.gather(queued=queued, prompt_seconds=prompt_seconds)
        if reply.hang_up_after is not None:
            await self.spend_audio(min(reply.hang_up_after, prompt_seconds + timeout))
            if record.first_enqueued_at is None:
                record.note("menu-hangup")
            call.hang_up(by=call.party.role)
            call.raise_if_interrupted()
        accepts_digits = "dtmf" in (verb.attr("input") or "dtmf")
        if reply.digits is None or not accepts_digits or reply.after > timeout:
            await self.spend_audio(prompt_seconds + timeout)
            if call.party.role == "caller" and not queued:
                record.menu_digits.append("")
            if verb.flag("actionOnEmptyResult", False):
                return self._gather_action(verb, document, "", "")
            return None
        await self.spend_audio(prompt_seconds + reply.after)
        num_digits = int(verb.number("numDigits", 0))
        digits = reply.digits[:num_digits] if num_digits else reply.digits
        finish_key = verb.attrs.get("finishOnKey", "#")
        finished_on = "" if num_digits and len(digits) >= num_digits else finish_key[:1]
        if reply.asks_for_callback:
            record.note("callback-requested")
        elif call.party.role == "caller" and not queued:
            record.menu_digits.append(digits)
        return self._gather_action(verb, document, digits, finished_on)

    def _gather_action(
        self, verb: Verb, document: Document, digits: str, finished_on: str
    ) -> TwimlSource | None:
        # Without an action Twilio requests the current document's URL again.
        action = verb.attr("action")
        url = document.resolve(action) if action else document.url
        if url is None:
            return None
        params = {"Digits": digits, "FinishedOnKey": finished_on}
        return TwimlSource(url=url, method=verb.method(), params=params)

    async def redirect(self, verb: Verb, document: Document) -> TwimlSource:
        if not verb.text:
            raise ApplicationError("<Redirect> without a URL")
        return TwimlSource(url=document.resolve(verb.text), method=verb.method())

    async def hangup(self, verb: Verb, document: Document) -> None:
        self.call.hang_up(by="twiml")
        self.call.raise_if_interrupted()

    async def reject(self, verb: Verb, document: Document) -> None:
        if self.call.answered_at is None:
            reason = verb.attr("reason", "rejected")
            self.final_status = "busy" if reason == "busy" else "no-answer"
        await self.hangup(verb, document)

    async def leave(self, verb: Verb, document: Document) -> None:
        # Outside a queue Twilio ignores <Leave>.
        if self.call.queue_member is not None:
            raise LeftQueue
