"""Presence: the server owns agent state, and a dashboard that stops sending heartbeats (a
closed browser, a dead laptop) takes its agent offline, so nobody rings a closed browser."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from callcenter.choices import AgentStatus, StatusEventSource
from callcenter.errors import TransitionNotAllowed
from callcenter.models import Agent

from .agents import agent_set_status


def agent_heartbeat(*, user_id: int) -> None:
    """The user's dashboard is alive (one UPDATE; no row lock, no audit row)."""
    Agent.objects.filter(user_id=user_id).update(last_seen_at=timezone.now())


def agents_presence_sweep(*, now=None) -> int:
    """Set offline every logged-in agent not seen for PRESENCE_TIMEOUT_SECONDS; how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.PRESENCE_TIMEOUT_SECONDS)
    gone = Agent.objects.exclude(status=AgentStatus.OFFLINE).filter(last_seen_at__lt=cutoff)
    went_offline = 0
    for agent_id in gone.values_list("pk", flat=True):
        try:
            change = agent_set_status(
                agent_id=agent_id, status=AgentStatus.OFFLINE, source=StatusEventSource.SYSTEM
            )
        except TransitionNotAllowed:
            continue
        went_offline += change.changed
    return went_offline
