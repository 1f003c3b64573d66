"""REST requests that fail on purpose, reproducibly for a seed, before they change anything."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from telephony.simulator.config import FaultConfig
from telephony.simulator.ground_truth import GroundTruth
from telephony.simulator.rest.common import ApiError, Handler, is_public, is_simulator_control
from telephony.simulator.sids import derived_rng


class FaultInjector:
    def __init__(self, config: FaultConfig, seed: int, truth: GroundTruth) -> None:
        self._config = config
        self._plan = list(config.plan)
        self._rng = derived_rng(seed, "faults")
        self._truth = truth
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Release stalled requests so the server can shut down."""
        self._stopping.set()

    def next_fault(self) -> str | None:
        if self._plan:
            return self._plan.pop(0) or None
        # The stream is only drawn from when faults are on, so turning them on keeps it stable.
        if self._config.rate > 0 and self._rng.random() < self._config.rate:
            return self._rng.choice(self._config.kinds)
        return None

    async def respond(self, fault: str) -> web.Response:
        retry_after = {"Retry-After": str(self._config.retry_after_seconds)}
        if fault == "429":
            return ApiError(429, 20429, "Too Many Requests").response(retry_after)
        if fault == "503":
            return ApiError(503, 20503, "Service Unavailable").response(retry_after)
        if fault == "stall":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._config.stall_seconds)
            return ApiError(504, 20504, "Gateway Timeout").response()
        return ApiError(500, 20500, "Internal Server Error").response()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        skip = is_public(request) or is_simulator_control(request)
        fault = None if skip else self.next_fault()
        if fault is None:
            return await handler(request)
        self._truth.rest_faults.append(
            {"method": request.method, "path": request.path, "fault": fault}
        )
        return await self.respond(fault)
