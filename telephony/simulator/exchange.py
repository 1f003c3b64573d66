"""The simulated Twilio account: every leg, queue, conference and recording, and how legs start."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urljoin

from telephony.simulator import recordings
from telephony.simulator.clock import SimClock
from telephony.simulator.conferences import ConferenceDirectory, Participant, take_part
from telephony.simulator.config import NumberConfig, SimulatorConfig
from telephony.simulator.devices import InteractiveDevices
from telephony.simulator.executor import CallSession, Step
from telephony.simulator.ground_truth import GroundTruth
from telephony.simulator.legs import HungUp, SimCall, StatusSubscription, TwimlSource
from telephony.simulator.parties import Caller, Party, PartyFactory
from telephony.simulator.queueing import QueueDirectory
from telephony.simulator.sids import SidFactory
from telephony.simulator.webhooks import WebhookSender

logger = logging.getLogger(__name__)


class Exchange:
    def __init__(
        self,
        config: SimulatorConfig,
        clock: SimClock,
        webhooks: WebhookSender,
        truth: GroundTruth,
    ) -> None:
        self.config = config
        self.account_sid = config.account_sid
        self.clock = clock
        self.webhooks = webhooks
        self.truth = truth
        self.sids = SidFactory(config.seed)
        self.parties = PartyFactory(config.seed, config.agents, config.customers)
        self.calls: dict[str, SimCall] = {}
        self.queues = QueueDirectory(self)
        self.conferences = ConferenceDirectory(self)
        self.recordings: dict[str, recordings.Recording] = {}
        # Softphones a person answers (a browser page) instead of the scripted AgentPhone.
        self.devices = InteractiveDevices(self)
        self.rest_base_url = ""
        self._tasks: set[asyncio.Task] = set()
        self._live = 0
        self._idle = asyncio.Event()
        self._idle.set()

    # --- tasks -----------------------------------------------------------------------------

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("simulator task failed", exc_info=task.exception())
            self.truth.add_error(None, f"simulator error: {task.exception()!r}")

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def wait_idle(self) -> None:
        """Until no leg is live and every callback has gone out."""
        while True:
            await self._idle.wait()
            await self.webhooks.drain()
            if self._idle.is_set():
                return

    def webhook_url(self, path: str) -> str:
        return urljoin(self.config.webhook_base_url, path)

    # --- legs ------------------------------------------------------------------------------

    def new_leg(
        self,
        *,
        direction: str,
        from_: str,
        to: str,
        subscription: StatusSubscription,
        party: Party | None = None,
        parent_call_sid: str | None = None,
        sid: str | None = None,
    ) -> SimCall:
        leg = SimCall(
            self,
            sid=sid or self.sids.new("CA"),
            direction=direction,
            from_=from_,
            to=to,
            party=party or self.parties.for_target(to),
            subscription=subscription,
            parent_call_sid=parent_call_sid,
        )
        self.calls[leg.sid] = leg
        self.truth.add_call(leg.record)
        self._live += 1
        self._idle.clear()
        return leg

    def leg_ended(self, leg: SimCall) -> None:
        recordings.stop_all_of(self, leg)
        self._live -= 1
        if self._live == 0:
            self._idle.set()

    async def run_session(self, leg: SimCall, start: Step) -> None:
        await CallSession(self, leg).run(start)

    def start_inbound(self, number: NumberConfig, caller: Caller, sid: str) -> SimCall:
        """Someone dials one of our numbers: Twilio requests its Voice URL while it rings."""
        events = frozenset(number.status_events)
        subscription = StatusSubscription(self.webhook_url(number.status_path), "POST", events)
        leg = self.new_leg(
            direction="inbound",
            from_=caller.from_number,
            to=number.e164,
            subscription=subscription,
            party=caller,
            sid=sid,
        )
        leg.set_status("ringing")
        voice = TwimlSource(url=self.webhook_url(number.voice_path), method=number.voice_method)
        self.spawn(self.run_session(leg, voice))
        return leg

    def start_outbound(self, leg: SimCall, timeout: float, then: Callable[[], Step | None]) -> None:
        """Ring a REST-created leg; once it answers, run what `then` says at that moment."""

        async def lifecycle() -> None:
            result = await self.ring(leg, timeout)
            if result != "answered":
                leg.finish(result)
                return
            start = then()
            if start is None:
                leg.finish("completed")
                return
            await self.run_session(leg, start)

        self.spawn(lifecycle())

    def start_participant(self, participant: Participant, timeout: float) -> None:
        """A Participants API leg: ring it, then put it in its conference."""

        async def join() -> None:
            if participant.room.admit(participant):
                await take_part(participant)

        def then() -> Step:
            if participant.call.pending_source is not None:  # redirected while ringing
                participant.status = "failed"
                return participant.call.pending_source
            return join

        async def lifecycle() -> None:
            participant.status = "ringing"
            result = await self.ring(participant.call, timeout)
            if result != "answered":
                participant.status = "failed"
                participant.call.finish(result)
                return
            await self.run_session(participant.call, then())

        self.spawn(lifecycle())

    async def ring(self, leg: SimCall, timeout: float) -> str:
        """Dial `leg`'s party: `answered`, or the status the leg ends with. A softphone
        registered as interactive decides itself (devices.py); other parties are scripted."""
        try:
            leg.set_status("initiated")
            await leg.sleep(self.config.media.setup_seconds)
            leg.set_status("ringing")
            if self.devices.is_interactive(leg.identity):
                result = await self.devices.ring(leg, timeout)
            else:
                reaction = leg.party.ring(timeout)
                await leg.sleep(reaction.after)
                result = reaction.result
        except HungUp:
            return "canceled"
        if result == "answered":
            leg.answer()
        return result
