"""Simulated time: starts at the real now and runs `speed` times faster than the wall clock."""

import asyncio
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime


class SimClock:
    """Every simulated duration is divided by `speed` before the simulator really waits."""

    def __init__(self, speed: float, start: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._wall_origin = time.monotonic()
        self._sim_origin = start or datetime.now(UTC)

    def now(self) -> datetime:
        elapsed = (time.monotonic() - self._wall_origin) * self.speed
        return self._sim_origin + timedelta(seconds=elapsed)

    def seconds_since(self, moment: datetime) -> float:
        return max(0.0, (self.now() - moment).total_seconds())

    def wall_seconds(self, sim_seconds: float) -> float:
        return max(0.0, sim_seconds) / self.speed

    async def sleep(self, sim_seconds: float) -> None:
        await asyncio.sleep(self.wall_seconds(sim_seconds))

    async def sleep_until(self, moment: datetime) -> None:
        await self.sleep((moment - self.now()).total_seconds())


def rfc2822(moment: datetime) -> str:
    """Twilio's timestamp format, e.g. `Mon, 23 Nov 2026 00:56:11 +0000`."""
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0))


def whole_seconds(seconds: float) -> int:
    return round(max(0.0, seconds))
