"""Known-agent routing: a returning caller is offered first to the agent they last spoke with.

Resolved once per call, at its first claim attempt (`Call.preferred_agent`, and until when the
preference holds, `Call.preferred_agent_until`, which also marks the call resolved): the agent
of the caller's latest answered call within KNOWN_AGENT_WINDOW_HOURS (72), when that agent is a
member of the call's queue. For KNOWN_AGENT_WAIT_SECONDS (20) after the caller entered the
queue, the call is offered to that agent only, and waits for them while they are available
but busy (ringing, talking, wrapping up, in a reject delay); it goes to the queue's strategy at
once when they are logged off or away, or already missed this call, and to anyone after it.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from callcenter.choices import AgentStatus, CallDirection
from callcenter.models import Agent, Call, Queue, QueueMembership
from callcenter.models.calls import KNOWN_AGENT
from callcenter.services.call_facts import save_fields

OUTBOUND = (CallDirection.OUTBOUND_API, CallDirection.OUTBOUND_DIAL)


def window() -> timedelta:
    return timedelta(hours=settings.KNOWN_AGENT_WINDOW_HOURS)


def wait() -> timedelta:
    return timedelta(seconds=settings.KNOWN_AGENT_WAIT_SECONDS)


def conversations_with(number: str, *, since: datetime) -> tuple[QuerySet, QuerySet]:
    """Customers' calls with `number` an agent answered since `since`, latest first: the
    caller's inbound calls (call_known_agent_inbound_idx) and the calls we placed to them
    (call_known_agent_outbound_idx)."""
    answered = Call.objects.filter(KNOWN_AGENT, answered_at__gte=since).order_by("-answered_at")
    return (
        answered.filter(direction=CallDirection.INBOUND, from_number=number),
        answered.filter(direction__in=OUTBOUND, to_number=number),
    )


def last_agent_of(number: str, *, since: datetime) -> int | None:
    """The agent of the latest call answered with `number` since `since` (two index reads)."""
    latest = [
        calls.values_list("answered_at", "agent_id").first()
        for calls in conversations_with(number, since=since)
    ]
    found = [row for row in latest if row is not None]
    return max(found)[1] if found else None


def resolve_preferred_agent(call: Call) -> None:
    """Remember whom `call` is offered to first, and until when (once per call).
    Precondition: the caller holds the call's row lock, in a transaction."""
    now = timezone.now()
    agent_id, until = None, now
    number = call.customer_number
    if wait() and window() and number.startswith("+"):
        agent_id = last_agent_of(number, since=now - window())
        member = QueueMembership.objects.filter(queue_id=call.queue_id, agent_id=agent_id)
        if agent_id is not None and member.exists():
            until = max(call.enqueued_at or now, call.created_at) + wait()
        else:
            agent_id = None
    call.preferred_agent_id, call.preferred_agent_until = agent_id, until
    save_fields(call, "preferred_agent", "preferred_agent_until")


def preference_holds(call: Call) -> bool:
    return (
        call.preferred_agent_id is not None
        and call.preferred_agent_until is not None
        and timezone.now() < call.preferred_agent_until
    )


def waits_for(call: Call, queue: Queue, missed) -> bool:
    """Whether `call` waits for its known agent, who is not free right now: they are
    available (logged in, taking calls) in the queue and have not missed this call."""
    return (
        Agent.objects.filter(
            pk=call.preferred_agent_id, status=AgentStatus.AVAILABLE, memberships__queue=queue
        )
        .exclude(pk__in=missed)
        .exists()
    )
