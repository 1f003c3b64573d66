"""Presence: a dashboard heartbeat keeps its agent logged in; silence past the timeout sets
the agent offline (source system), so nobody rings a closed browser."""

from datetime import timedelta

import pytest
from django.utils import timezone

from callcenter.choices import AgentActivity, AgentStatus
from callcenter.models import Agent, AgentStatusEvent
from callcenter.services import agent_heartbeat, agents_presence_sweep
from realtime.signals import client_heartbeat
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db


def _seen(agent, seconds_ago, status=AgentStatus.AVAILABLE, **fields):
    Agent.objects.filter(pk=agent.pk).update(
        status=status, last_seen_at=timezone.now() - timedelta(seconds=seconds_ago), **fields
    )


def test_a_heartbeat_signal_marks_the_agent_seen():
    agent = AgentFactory()
    client_heartbeat.send(sender=None, user_id=agent.user_id)
    assert Agent.objects.get(pk=agent.pk).last_seen_at is not None


def test_silent_dashboards_go_offline_and_others_stay(settings):
    settings.PRESENCE_TIMEOUT_SECONDS = 90
    silent, away_silent, fresh, never_seen, busy = (AgentFactory() for _ in range(5))
    _seen(silent, 120)
    _seen(away_silent, 300, status=AgentStatus.AWAY, away_reason="lunch")
    _seen(fresh, 10)
    Agent.objects.filter(pk=never_seen.pk).update(status=AgentStatus.AVAILABLE)
    _seen(busy, 120, activity=AgentActivity.ON_CALL, active_calls=1)

    assert agents_presence_sweep() == 3
    statuses = dict(Agent.objects.values_list("pk", "status"))
    assert statuses[silent.pk] == statuses[away_silent.pk] == AgentStatus.OFFLINE
    assert statuses[busy.pk] == AgentStatus.OFFLINE  # the system may: its browser is gone
    assert statuses[fresh.pk] == statuses[never_seen.pk] == AgentStatus.AVAILABLE
    event = AgentStatusEvent.objects.get(agent=silent)
    assert (event.source, event.to_status) == ("system", AgentStatus.OFFLINE)
    assert agents_presence_sweep() == 0  # nothing left to do


def test_heartbeat_after_a_timeout_does_not_log_the_agent_back_in():
    agent = AgentFactory()
    _seen(agent, 500)
    agents_presence_sweep()
    agent_heartbeat(user_id=agent.user_id)
    assert Agent.objects.get(pk=agent.pk).status == AgentStatus.OFFLINE
