"""Twilio queues: <Enqueue>, the waitUrl loop while a caller waits, and how a caller leaves."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from telephony.simulator.clock import whole_seconds
from telephony.simulator.errors import ApplicationError, LeftQueue
from telephony.simulator.legs import HungUp, Redirected, SimCall, TwimlSource
from telephony.simulator.twiml import WAIT_VERBS, Document, Verb

if TYPE_CHECKING:
    from telephony.simulator.exchange import Exchange
    from telephony.simulator.executor import CallSession, Step


@dataclass
class QueueMember:
    call: SimCall
    queue: SimQueue
    enqueued_at: datetime


@dataclass
class SimQueue:
    sid: str
    friendly_name: str
    max_size: int
    date_created: datetime
    date_updated: datetime
    members: list[QueueMember] = field(default_factory=list)

    def position(self, member: QueueMember) -> int:
        return self.members.index(member) + 1

    def member(self, call_sid: str) -> QueueMember | None:
        if call_sid == "Front":
            return self.members[0] if self.members else None
        return next((m for m in self.members if m.call.sid == call_sid), None)

    def average_wait(self, now: datetime) -> int:
        """Twilio averages the current members' waits at the time of the request."""
        if not self.members:
            return 0
        waits = [(now - m.enqueued_at).total_seconds() for m in self.members]
        return whole_seconds(sum(waits) / len(waits))


class QueueDirectory:
    def __init__(self, exchange: Exchange) -> None:
        self._exchange = exchange
        self.by_sid: dict[str, SimQueue] = {}
        self._by_name: dict[str, SimQueue] = {}

    def get(self, sid: str) -> SimQueue | None:
        return self.by_sid.get(sid)

    def named(self, name: str) -> SimQueue | None:
        return self._by_name.get(name)

    def create(self, name: str, max_size: int | None = None) -> SimQueue:
        now = self._exchange.clock.now()
        queue = SimQueue(
            sid=self._exchange.sids.new("QU"),
            friendly_name=name,
            max_size=max_size or self._exchange.config.default_queue_max_size,
            date_created=now,
            date_updated=now,
        )
        self.by_sid[queue.sid] = queue
        self._by_name[name] = queue
        return queue

    def rename(self, queue: SimQueue, name: str) -> None:
        self._by_name.pop(queue.friendly_name, None)
        queue.friendly_name = name
        self._by_name[name] = queue


async def run_enqueue(session: CallSession, verb: Verb, document: Document) -> Step | None:
    name = verb.text
    if not name:
        raise ApplicationError("<Enqueue> without a queue name")
    exchange, call = session.exchange, session.call
    queue = exchange.queues.named(name) or exchange.queues.create(name)
    action = verb.attr("action")
    action_url = document.resolve(action) if action else None
    if len(queue.members) >= queue.max_size:
        call.record.note("queue-full")
        return _action(verb, action_url, queue, "queue-full", 0)
    member = QueueMember(call=call, queue=queue, enqueued_at=exchange.clock.now())
    queue.members.append(member)
    call.queue_member = member
    if call.record.first_enqueued_at is None:
        call.record.first_enqueued_at = member.enqueued_at
    wait_url = verb.attr("waitUrl")
    wait_source = (
        TwimlSource(url=document.resolve(wait_url), method=verb.method("waitUrlMethod"))
        if wait_url
        else None
    )
    try:
        with call.in_mode("waiting"):
            await _wait_in_queue(session, member, wait_source)
        result = "leave"
    except HungUp:
        await session.notify(_leave(call, member, verb, action_url, "hangup"))
        raise
    except Redirected:
        # Dequeued by a REST redirect: Twilio reports it, then runs the new TwiML instead.
        await session.notify(_leave(call, member, verb, action_url, "redirected"))
        raise
    except Exception:
        await session.notify(_leave(call, member, verb, action_url, "system-error"))
        raise
    return _leave(call, member, verb, action_url, result)


def _leave(
    call: SimCall, member: QueueMember, verb: Verb, action_url: str | None, result: str
) -> TwimlSource | None:
    queue = member.queue
    if member in queue.members:
        queue.members.remove(member)
    call.queue_member = None
    waited = call.clock.seconds_since(member.enqueued_at)
    call.record.queue_seconds += waited
    call.record.left_queue_at = call.clock.now()
    call.record.queue_results.append(result)
    return _action(verb, action_url, queue, result, whole_seconds(waited))


def _action(
    verb: Verb, action_url: str | None, queue: SimQueue, result: str, waited: int
) -> TwimlSource | None:
    # Without an action Twilio goes on with the verb after <Enqueue>.
    if action_url is None:
        return None
    params = {"QueueResult": result, "QueueSid": queue.sid, "QueueTime": str(waited)}
    return TwimlSource(url=action_url, method=verb.method(), params=params)


async def _wait_in_queue(
    session: CallSession, member: QueueMember, wait_source: TwimlSource | None
) -> None:
    """Loop over the waitUrl's TwiML until the caller leaves; returns only on <Leave>."""
    call = session.call
    if wait_source is None:  # Twilio's own hold music: nothing to request, just wait
        await call.wait(None)
        return
    while True:
        played_before = session.audio_played
        step: Step | None = TwimlSource(
            url=wait_source.url, method=wait_source.method, params=_wait_params(member)
        )
        try:
            while step is not None:
                document = step if isinstance(step, Document) else await session.fetch(step)
                step = await session.run_document(document, allowed=WAIT_VERBS)
        except LeftQueue:
            return
        if session.audio_played == played_before:
            await session.spend_audio(1.0)


def _wait_params(member: QueueMember) -> dict[str, str]:
    queue, now = member.queue, member.call.clock.now()
    return {
        "QueueSid": queue.sid,
        "QueuePosition": str(queue.position(member)),
        "QueueTime": str(whole_seconds((now - member.enqueued_at).total_seconds())),
        "AvgQueueTime": str(queue.average_wait(now)),
        "CurrentQueueSize": str(len(queue.members)),
        "MaxQueueSize": str(queue.max_size),
    }
