"""What dashboards and agents see change live (DESIGN.md §3.5), sent through the realtime
layer after commit. Frames carry ids, states and times, never callers' numbers: a dashboard
that needs more reads its REST snapshot, where visibility rules apply.

- `agent.updated` → the `dashboard` group and the agent's own user (unlogged).
- `call.updated` → the call's `queue.<id>` group and, for an agent's call, that agent's user
  (unlogged: the agent dashboard resyncs its current call from REST on reconnect).
- `transfer.offered` → the agent a call is transferred to, logged (their softphone rings for
  it, outside routing's offers).
"""

from functools import lru_cache

from django.utils import timezone

from realtime.publish import broadcast, publish_to_user, user_group

from .models import Agent, Call
from .people import person_data

DASHBOARD = "dashboard"


def queue_group(queue_id: int) -> str:
    return f"queue.{queue_id}"


@lru_cache(maxsize=4096)
def _user_of_agent(agent_id: int) -> int | None:
    # An agent's user never changes (one-to-one, set at creation): safe to remember.
    return Agent.objects.filter(pk=agent_id).values_list("user_id", flat=True).first()


def agent_frame(agent: Agent) -> dict:
    return {
        "id": agent.pk,
        "status": agent.status,
        "away_reason": agent.away_reason,
        "activity": agent.activity,
        "active_calls": agent.active_calls,
        "status_changed_at": agent.status_changed_at,
        "activity_changed_at": agent.activity_changed_at,
        "wrap_up_until": agent.wrap_up_until,
        "calls_answered_today": agent.calls_answered_today,
    }


def call_frame(call: Call) -> dict:
    return {
        "id": call.pk,
        "parent_id": call.parent_id,
        "queue_id": call.queue_id,
        "agent_id": call.agent_id,
        "direction": call.direction,
        "status": call.status,
        "stage": call.stage,
        "outcome": call.outcome,
        "priority": call.priority,
        "enqueued_at": call.enqueued_at,
        "answered_at": call.answered_at,
        "ended_at": call.ended_at,
        "held_since": call.held_since,
        "recording_since": call.recording_since,
    }


def agent_changed(agent: Agent) -> None:
    broadcast([DASHBOARD, user_group(agent.user_id)], "agent.updated", agent_frame(agent))


def call_changed(call: Call) -> None:
    groups = []
    if call.queue_id is not None:
        groups.append(queue_group(call.queue_id))
    if call.agent_id is not None and (user_id := _user_of_agent(call.agent_id)) is not None:
        groups.append(user_group(user_id))
    if groups:
        broadcast(groups, "call.updated", call_frame(call))


def transfer_offered(call: Call, agent: Agent, mode: str, acting_user) -> None:
    """The agent's softphone is about to ring with `call`, transferred by `acting_user`."""
    by = person_data(acting_user) if acting_user is not None else None
    data = {"call_id": call.pk, "queue_id": call.queue_id, "mode": mode, "by": by,
            "at": timezone.now()}  # fmt: skip
    publish_to_user(agent.user_id, "transfer.offered", data)
