"""Interactive softphones: identities whose rings wait for a person's decision (a browser page)
instead of the scripted AgentPhone reaction.

A device registers for a while (wall-clock seconds, renewed by registering again). A leg that
rings `client:<identity>` while it is registered waits for `answer` or `reject`, at most the
ring timeout (simulated seconds, so `timeout / speed` wall seconds). An answered leg keeps no
scripted talk time or patience: it stays up until someone hangs it up.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from telephony.simulator.legs import SimCall

if TYPE_CHECKING:
    from telephony.simulator.exchange import Exchange

DEFAULT_TTL_SECONDS = 60.0
MAX_TTL_SECONDS = 3600.0
ANSWER, REJECT = "answer", "reject"
LIVE_STATUSES = ("queued", "initiated", "ringing", "in-progress")


@dataclass(eq=False)
class PendingRing:
    leg: SimCall
    decision: asyncio.Future[str]


class InteractiveDevices:
    def __init__(self, exchange: Exchange) -> None:
        self._exchange = exchange
        self._until: dict[str, float] = {}  # identity → time.monotonic() it lapses at
        self._pending: dict[str, list[PendingRing]] = {}

    # --- registration ----------------------------------------------------------------------

    def register(self, identity: str, ttl: float = DEFAULT_TTL_SECONDS) -> float:
        """Register (or renew) `identity` for `ttl` wall seconds; returns the TTL granted."""
        ttl = min(max(ttl, 1.0), MAX_TTL_SECONDS)
        self._until[identity] = time.monotonic() + ttl
        return ttl

    def unregister(self, identity: str) -> None:
        """Later rings are scripted again; a ring already waiting keeps waiting for a decision."""
        self._until.pop(identity, None)

    def expires_in(self, identity: str) -> float:
        """Wall seconds left of the registration (0 when not registered)."""
        until = self._until.get(identity)
        left = 0.0 if until is None else until - time.monotonic()
        if left <= 0:
            self._until.pop(identity, None)
            return 0.0
        return left

    def is_interactive(self, identity: str | None) -> bool:
        return identity is not None and self.expires_in(identity) > 0

    # --- ringing ---------------------------------------------------------------------------

    async def ring(self, leg: SimCall, timeout: float) -> str:
        """Wait for the device's decision: `answered`, `busy` or `no-answer`. A hang-up of the
        leg meanwhile raises HungUp (the caller's ring ends `canceled`)."""
        identity = leg.identity or ""
        pending = PendingRing(leg, asyncio.get_running_loop().create_future())
        self._pending.setdefault(identity, []).append(pending)
        try:
            decision = await leg.wait(pending.decision, timeout=timeout)
        except TimeoutError:
            return "no-answer"
        finally:
            waiting = self._pending.get(identity, [])
            if pending in waiting:
                waiting.remove(pending)
            if not waiting:
                self._pending.pop(identity, None)
        if decision == REJECT:
            return "busy"
        # A person on the line: no scripted talk time, no giving up when alone.
        leg.talk_left = leg.patience_left = None
        return "answered"

    def awaiting_decision(self, leg: SimCall) -> bool:
        return any(p.leg is leg for p in self._pending.get(leg.identity or "", []))

    def decide(self, identity: str, decision: str, call_sid: str | None = None) -> SimCall | None:
        """Answer or reject the oldest ringing leg to `identity` (or the one named); None when
        no leg of that identity is waiting for a decision."""
        for pending in self._pending.get(identity, []):
            if pending.decision.done() or pending.leg.is_hung_up:
                continue
            if call_sid is not None and pending.leg.sid != call_sid:
                continue
            pending.decision.set_result(decision)
            return pending.leg
        return None

    def hang_up(self, identity: str, call_sid: str | None = None) -> SimCall | None:
        """The person hangs up their answered leg to `identity` (or the one named; default the
        newest): None when no leg of that identity is connected."""
        legs = [leg for leg in self.live_legs(identity) if leg.answered_at is not None]
        if call_sid is not None:
            legs = [leg for leg in legs if leg.sid == call_sid]
        if not legs:
            return None
        leg = legs[-1]
        leg.hang_up(by=leg.party.role)
        return leg

    def live_legs(self, identity: str) -> list[SimCall]:
        """Legs to `client:<identity>` that are ringing or connected, oldest first."""
        legs = [
            leg
            for leg in self._exchange.calls.values()
            if leg.identity == identity and leg.status in LIVE_STATUSES and not leg.is_over
        ]
        legs.sort(key=lambda leg: leg.date_created)
        return legs

    def conference_of(self, leg: SimCall) -> str | None:
        """The friendly name of the active conference the leg is in, if any."""
        for room in self._exchange.conferences.by_sid.values():
            if room.status == "completed":
                continue
            participant = room.participants.get(leg.sid)
            if participant is not None and not participant.gone:
                return room.friendly_name
        return None
