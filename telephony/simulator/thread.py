"""The simulator on its own thread and event loop, next to a synchronous Django server or test."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any

from telephony.simulator.config import SimulatorConfig
from telephony.simulator.simulator import Simulator


class SimulatorThread:
    def __init__(self, config: SimulatorConfig) -> None:
        self.simulator = Simulator(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._stop: asyncio.Event | None = None
        self._failure: BaseException | None = None

    @property
    def rest_base_url(self) -> str:
        return self.simulator.rest_base_url

    def start(self, timeout: float = 10.0) -> str:
        """Start serving; returns the REST API's base URL (for TWILIO_API_BASE_URL)."""
        self._thread = threading.Thread(target=self._main, name="twilio-simulator", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout):
            raise TimeoutError("the simulator did not start")
        if self._failure is not None:
            raise RuntimeError("the simulator failed to start") from self._failure
        return self.rest_base_url

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            await self.simulator.start()
        except BaseException as error:
            self._failure = error
            self._started.set()
            await self.simulator.stop()
            raise
        self._started.set()
        try:
            await self._stop.wait()
        finally:
            await self.simulator.stop()

    def submit(self, coroutine: Coroutine[Any, Any, Any]) -> concurrent.futures.Future:
        """Run a coroutine on the simulator's loop, e.g. `submit(sim.run_traffic(10))`."""
        if self._loop is None:
            coroutine.close()
            raise RuntimeError("start() the simulator thread first")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def start_traffic(
        self, calls: int | None = None, calls_per_minute: float = 6.0, duration: float | None = None
    ) -> concurrent.futures.Future:
        """Callers keep arriving in the background (forever when neither limit is given)."""
        if calls is None and duration is None:
            duration = float("inf")
        return self.submit(self.simulator.run_traffic(calls, calls_per_minute, duration=duration))

    def run_traffic(
        self,
        calls: int | None = None,
        calls_per_minute: float = 6.0,
        *,
        duration: float | None = None,
        timeout: float | None = None,
    ) -> dict:
        future = self.start_traffic(calls, calls_per_minute, duration)
        return future.result(timeout)

    def wait_idle(self, timeout: float) -> None:
        """Until every leg has ended and every callback has gone out, chaos' late ones too."""
        self.submit(self.simulator.wait_idle()).result(timeout)

    def ground_truth(self, call_sids: list[str] | None = None) -> dict:
        async def snapshot() -> dict:
            return self.simulator.ground_truth(call_sids)

        return self.submit(snapshot()).result(10)

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is not None and self._stop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout)
        self._loop = None
