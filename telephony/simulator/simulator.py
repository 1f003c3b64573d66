"""The simulator's entry point: its REST server, its traffic of callers, and its ground truth."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from aiohttp import web

from telephony.simulator.clock import SimClock
from telephony.simulator.config import NumberConfig, SimulatorConfig
from telephony.simulator.exchange import Exchange
from telephony.simulator.ground_truth import GroundTruth
from telephony.simulator.parties import Caller
from telephony.simulator.rest import FaultInjector, build_rest_app
from telephony.simulator.sids import derived_rng, make_sid
from telephony.simulator.webhooks import WebhookSender


class Simulator:
    """Plays Twilio for one server: start(), run_traffic() as often as needed, stop()."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.rest_base_url = ""
        self._arrivals = derived_rng(config.seed, "arrivals")
        self._placed = 0
        self.truth = GroundTruth(config.seed)
        self.clock = SimClock(config.speed)
        self.webhooks: WebhookSender | None = None
        self.exchange: Exchange | None = None
        self._runner: web.AppRunner | None = None
        self._faults: FaultInjector | None = None
        self._stopping = False

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        config = self.config
        self.clock = SimClock(config.speed)  # simulated time starts now
        self.webhooks = WebhookSender(
            auth_token=config.auth_token,
            clock=self.clock,
            truth=self.truth,
            chaos=config.chaos,
            seed=config.seed,
        )
        await self.webhooks.open()
        self.exchange = Exchange(config, self.clock, self.webhooks, self.truth)
        self._faults = FaultInjector(config.faults, config.seed, self.truth)
        self._runner = web.AppRunner(build_rest_app(self.exchange, self._faults), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, config.host, config.port).start()
        host, port = self._runner.addresses[0][:2]
        host = f"[{host}]" if ":" in host else host
        self.rest_base_url = self.exchange.rest_base_url = f"http://{host}:{port}"

    async def stop(self) -> None:
        """Hang everything up without further webhooks; safe after a failed start()."""
        self._stopping = True
        if self._faults is not None:
            self._faults.stop()
        if self.exchange is not None:
            await self.exchange.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.webhooks is not None:
            await self.webhooks.close()

    @property
    def _exchange(self) -> Exchange:
        if self.exchange is None or self._stopping:
            raise RuntimeError("the simulator is not running")
        return self.exchange

    def place_call(
        self, *, number: NumberConfig | None = None, caller: Caller | None = None
    ) -> str:
        """One caller dials one of our numbers now; returns its CallSid. The n-th call placed is
        scripted (and named) from its own stream of the seed."""
        index = self._placed
        self._placed += 1
        rng = derived_rng(self.config.seed, "caller", index)
        caller = caller or Caller.draw(rng, self.config.callers)
        number = number or self.config.numbers[index % len(self.config.numbers)]
        sid = make_sid("CA", derived_rng(self.config.seed, "caller-sid", index))
        return self._exchange.start_inbound(number, caller, sid).sid

    async def run_traffic(
        self,
        calls: int | None = None,
        calls_per_minute: float = 6.0,
        *,
        duration: float | None = None,
    ) -> dict:
        """Callers arrive as a Poisson process until `calls` have come or `duration` simulated
        seconds have passed; returns the ground truth of those calls once they have ended."""
        if calls is None and duration is None:
            raise ValueError("give a number of calls or a duration")
        started, offset, placed = self.clock.now(), 0.0, []
        while calls is None or len(placed) < calls:
            offset += self._arrivals.expovariate(calls_per_minute / 60)
            if duration is not None and offset > duration:
                break
            await self.clock.sleep_until(started + timedelta(seconds=offset))
            placed.append(self.place_call())
        await self.wait_for(placed)
        return self.truth.as_dict(placed)

    async def wait_for(self, call_sids: list[str]) -> None:
        """Until these calls have ended and their callbacks have gone out."""
        calls = self._exchange.calls
        await asyncio.gather(*(calls[sid].ended for sid in call_sids))
        await self._exchange.webhooks.drain()

    async def wait_idle(self) -> None:
        """Until every leg has ended (agents' and customers' too) and every callback is out."""
        await self._exchange.wait_idle()

    def ground_truth(self, call_sids: list[str] | None = None) -> dict:
        return self.truth.as_dict(call_sids)

    def write_report(self, path: str | Path, call_sids: list[str] | None = None) -> None:
        self.truth.write_json(path, call_sids)
