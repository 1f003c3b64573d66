"""One call leg: its Twilio status, its status callbacks, and how it waits and gets interrupted."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from telephony.simulator.clock import rfc2822, whole_seconds
from telephony.simulator.ground_truth import CallRecord
from telephony.simulator.parties import Party

if TYPE_CHECKING:
    from telephony.simulator.exchange import Exchange
    from telephony.simulator.queueing import QueueMember

API_VERSION = "2010-04-01"
TERMINAL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
EVENT_OF_STATUS = {"initiated": "initiated", "ringing": "ringing", "in-progress": "answered"}
SIP_RESPONSE = {"completed": "200", "busy": "486", "no-answer": "487", "canceled": "487"}


@dataclass(frozen=True)
class TwimlSource:
    """Where a leg's next TwiML comes from: a URL to request, or inline TwiML."""

    url: str | None = None
    method: str = "POST"
    params: dict[str, str] = field(default_factory=dict)
    twiml: str | None = None


@dataclass(frozen=True)
class StatusSubscription:
    url: str | None = None
    method: str = "POST"
    events: frozenset[str] = frozenset({"completed"})


class CallInterrupted(Exception):
    """Something outside the leg's TwiML took over: raised at the leg's next wait."""


class HungUp(CallInterrupted):
    def __init__(self, by: str) -> None:
        super().__init__(f"hung up by {by}")
        self.by = by


class Redirected(CallInterrupted):
    def __init__(self, source: TwimlSource) -> None:
        super().__init__(f"redirected to {source.url or 'inline TwiML'}")
        self.source = source


class SimCall:
    def __init__(
        self,
        exchange: Exchange,
        *,
        sid: str,
        direction: str,
        from_: str,
        to: str,
        party: Party,
        subscription: StatusSubscription,
        parent_call_sid: str | None = None,
    ) -> None:
        self.exchange = exchange
        self.clock = exchange.clock
        self.sid = sid
        self.direction = direction
        self.from_ = from_
        self.to = to
        self.party = party
        self.subscription = subscription
        self.parent_call_sid = parent_call_sid
        self.status = "queued"
        self.date_created = self.date_updated = self.clock.now()
        self.start_time: datetime | None = None
        self.answered_at: datetime | None = None
        self.end_time: datetime | None = None
        self.hangup_at: datetime | None = None
        self.ended: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        # Set while the leg waits in a queue: a waitUrl <Gather> is then a different question.
        self.queue_member: QueueMember | None = None
        # What a REST-created leg runs once answered; a REST update before that replaces it.
        self.pending_source: TwimlSource | None = None
        self.mode = "idle"  # waiting (patience runs) | connected (talk time runs) | idle
        self.patience_left = party.patience_seconds
        self.talk_left = party.talk_seconds
        self._sequence = 0
        self._interrupted = asyncio.Event()
        self._hangup_by: str | None = None
        self._redirect: TwimlSource | None = None
        self.record = CallRecord(
            call_sid=sid,
            role=party.role,
            direction=direction,
            from_=from_,
            to=to,
            parent_call_sid=parent_call_sid,
            started_at=self.date_created,
            agent_identity=self.identity,
        )

    # --- state -----------------------------------------------------------------------------

    @property
    def is_over(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def is_hung_up(self) -> bool:
        return self._hangup_by is not None or self.is_over

    @property
    def duration_seconds(self) -> int:
        if self.answered_at is None:
            return 0
        return whole_seconds(
            ((self.end_time or self.clock.now()) - self.answered_at).total_seconds()
        )

    @property
    def identity(self) -> str | None:
        return self.to.removeprefix("client:") if self.to.startswith("client:") else None

    def set_status(self, status: str) -> None:
        if self.is_over or self.status == status:
            return
        now = self.clock.now()
        self.status, self.date_updated = status, now
        if status in ("initiated", "ringing") and self.start_time is None:
            self.start_time = now
        if status == "in-progress":
            self.answered_at = now
            if self.party.role != "caller":  # a caller counts as answered once an agent is on
                self.record.note("answered")
        event = "completed" if status in TERMINAL_STATUSES else EVENT_OF_STATUS.get(status)
        if event:
            self._notify(event)

    def answer(self) -> None:
        if self.answered_at is None:
            self.set_status("in-progress")

    def finish(self, status: str | None = None) -> None:
        """End the leg; `status` defaults to what its history implies."""
        if self.is_over:
            return
        if status is None:
            status = "completed" if self.answered_at else "canceled"
        self.end_time = self.hangup_at or self.clock.now()
        if self.answered_at is not None and self.record.ended_by is None:
            self.record.ended_by = "twiml"
        self.set_status(status)
        self.record.close(status, self.end_time)
        if not self.ended.done():
            self.ended.set_result(status)
        self.exchange.leg_ended(self)

    def note_connected(self, peers: list[SimCall]) -> None:
        self.record.note("answered")
        if self.record.connected_at is None:
            self.record.connected_at = self.clock.now()
        if self.record.agent_identity is None:
            # The peer's softphone, whichever end of its leg it is on.
            ends = [end for peer in peers for end in (peer.to, peer.from_)]
            identities = [end.removeprefix("client:") for end in ends if end.startswith("client:")]
            self.record.agent_identity = next(iter(identities), None)

    # --- webhook parameters ----------------------------------------------------------------

    def twiml_params(self) -> dict[str, str]:
        """What Twilio sends with every TwiML request about this leg."""
        status = "completed" if self.is_hung_up and self.answered_at else self.status
        params = {
            "CallSid": self.sid,
            "AccountSid": self.exchange.account_sid,
            "From": self.from_,
            "To": self.to,
            "Caller": self.from_,
            "Called": self.to,
            "CallStatus": status,
            "Direction": self.direction,
            "ApiVersion": API_VERSION,
        }
        if self.parent_call_sid:
            params["ParentCallSid"] = self.parent_call_sid
        return params

    def _notify(self, event: str) -> None:
        subscription = self.subscription
        if not subscription.url or event not in subscription.events:
            return
        now = self.end_time if event == "completed" and self.end_time else self.clock.now()
        params = self.twiml_params()
        params.update(
            CallStatus=self.status,
            CallbackSource="call-progress-events",
            SequenceNumber=str(self._sequence),
            Timestamp=rfc2822(now),
        )
        if event == "completed":
            seconds = self.duration_seconds
            billed = max(1, math.ceil(seconds / 60)) if self.answered_at else 0
            params.update(CallDuration=str(seconds), Duration=str(billed))
            params["SipResponseCode"] = SIP_RESPONSE.get(self.status, "500")
        self._sequence += 1
        self.exchange.webhooks.send_callback(
            subscription.url,
            params,
            method=subscription.method,
            kind="status",
            call_sid=self.sid,
            order_key=self.sid,
        )

    # --- interruptions ---------------------------------------------------------------------

    def hang_up(self, by: str) -> None:
        if self.is_hung_up:
            return
        self._hangup_by, self.hangup_at = by, self.clock.now()
        if self.answered_at is not None:
            self.record.ended_by = by
        self._interrupted.set()

    def redirect(self, source: TwimlSource) -> None:
        if not self.is_hung_up:
            self._redirect = source
            self._interrupted.set()

    def raise_if_interrupted(self) -> None:
        if self._hangup_by is not None:
            raise HungUp(self._hangup_by)
        if self._redirect is not None:
            source, self._redirect = self._redirect, None
            self._interrupted.clear()
            raise Redirected(source)

    @contextlib.contextmanager
    def in_mode(self, mode: str) -> Iterator[None]:
        previous, self.mode = self.mode, mode
        try:
            yield
        finally:
            self.mode = previous

    def _budget(self) -> float | None:
        if self.mode == "waiting":
            return self.patience_left
        if self.mode == "connected":
            return self.talk_left
        return None

    def _spend(self, mode: str, seconds: float) -> None:
        if mode == "waiting" and self.patience_left is not None:
            self.patience_left = max(0.0, self.patience_left - seconds)
        elif mode == "connected" and self.talk_left is not None:
            self.talk_left = max(0.0, self.talk_left - seconds)

    def _give_up(self, mode: str) -> None:
        """The party's own patience or talk time ran out: they hang up."""
        if mode == "waiting" and self.party.role == "caller":
            self.record.note("abandoned")
        self.hang_up(by=self.party.role)
        self.raise_if_interrupted()

    async def sleep(self, seconds: float) -> None:
        """Let `seconds` of simulated time pass on this leg (audio, ringing, speaking)."""
        await self.wait(None, timeout=seconds)

    async def wait(self, awaitable: Awaitable[Any] | None, timeout: float | None = None) -> Any:
        """Wait for `awaitable` (or just `timeout`), cut short by interruptions and by the party
        giving up. Budgets are charged with scripted durations, not measured ones, so a party's
        decisions never depend on how fast our server answered."""
        self.raise_if_interrupted()
        mode, budget = self.mode, self._budget()
        limit = timeout if budget is None else (budget if timeout is None else min(timeout, budget))
        waiter = self._as_task(awaitable)
        interrupt = asyncio.ensure_future(self._interrupted.wait())
        started = self.clock.now()
        pending = {interrupt} | ({waiter} if waiter else set())
        wall = None if limit is None else self.clock.wall_seconds(limit)
        try:
            done, _ = await asyncio.wait(pending, timeout=wall, return_when="FIRST_COMPLETED")
        finally:
            interrupt.cancel()
        if waiter is not None and waiter in done:
            self._spend(mode, self.clock.seconds_since(started))
            return waiter.result()
        await self._discard(awaitable, waiter)
        if interrupt in done:
            self._spend(mode, self.clock.seconds_since(started))
            self.raise_if_interrupted()
        self._spend(mode, limit or 0.0)
        if budget is not None and (timeout is None or budget < timeout):
            self._give_up(mode)
        if waiter is not None:
            raise TimeoutError
        return None

    @staticmethod
    def _as_task(awaitable: Awaitable[Any] | None) -> asyncio.Future[Any] | None:
        return None if awaitable is None else asyncio.ensure_future(awaitable)

    @staticmethod
    async def _discard(awaitable: Awaitable[Any] | None, waiter: asyncio.Future | None) -> None:
        # Shared futures (a leg's `ended`) belong to others: only tasks made here are cancelled.
        if waiter is None or waiter is awaitable or waiter.done():
            return
        waiter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiter
