"""The agent status service: the transition table, the audit row, no change on refusal."""

import itertools
import threading

import pytest
from django.db import connection

from callcenter.choices import AgentActivity, AgentStatus, StatusEventSource
from callcenter.errors import InvalidInput, TransitionNotAllowed
from callcenter.models import Agent, AgentStatusEvent
from callcenter.services import STATUS_TRANSITIONS, agent_set_status
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db

ALL = [(a, b) for a in AgentStatus.values for b in AgentStatus.values if a != b]


def _put(agent: Agent, status: str) -> None:
    reason = "break" if status == AgentStatus.AWAY else ""
    Agent.objects.filter(pk=agent.pk).update(status=status, away_reason=reason)


@pytest.mark.parametrize(("start", "target"), ALL)
def test_transition_table(start, target):
    agent = AgentFactory()
    _put(agent, start)
    reason = "lunch" if target == AgentStatus.AWAY else ""
    if target in STATUS_TRANSITIONS[start]:
        change = agent_set_status(agent_id=agent.pk, status=target, reason=reason)
        assert change.changed and change.agent.status == target
        event = AgentStatusEvent.objects.get(agent=agent)
        assert (event.from_status, event.to_status, event.reason) == (start, target, reason)
        assert event.source == StatusEventSource.AGENT
    else:
        with pytest.raises(TransitionNotAllowed):
            agent_set_status(agent_id=agent.pk, status=target, reason=reason)
        assert not AgentStatusEvent.objects.exists()


def test_every_status_has_a_row_in_the_table():
    assert set(STATUS_TRANSITIONS) == set(AgentStatus.values)


def test_same_status_is_a_no_op_without_an_event():
    agent = AgentFactory()
    change = agent_set_status(agent_id=agent.pk, status=AgentStatus.OFFLINE)
    assert not change.changed
    assert not AgentStatusEvent.objects.exists()


def test_away_needs_a_reason_and_only_away_takes_one():
    agent = AgentFactory()
    with pytest.raises(InvalidInput):
        agent_set_status(agent_id=agent.pk, status=AgentStatus.AWAY)
    with pytest.raises(InvalidInput):
        agent_set_status(agent_id=agent.pk, status=AgentStatus.AVAILABLE, reason="why")
    with pytest.raises(InvalidInput):
        agent_set_status(agent_id=agent.pk, status="busy")
    agent.refresh_from_db()
    assert agent.status == AgentStatus.OFFLINE


def test_away_to_away_changes_the_reason():
    agent = AgentFactory()
    agent_set_status(agent_id=agent.pk, status=AgentStatus.AWAY, reason="lunch")
    agent_set_status(agent_id=agent.pk, status=AgentStatus.AWAY, reason="training")
    agent.refresh_from_db()
    assert agent.away_reason == "training"
    assert AgentStatusEvent.objects.filter(agent=agent).count() == 2


def test_becoming_available_restarts_idle_time_and_missed_offers():
    agent = AgentFactory()
    Agent.objects.filter(pk=agent.pk).update(consecutive_missed_offers=3)
    before = Agent.objects.get(pk=agent.pk).idle_since
    change = agent_set_status(agent_id=agent.pk, status=AgentStatus.AVAILABLE)
    assert change.agent.consecutive_missed_offers == 0
    assert change.agent.idle_since > before


def test_agent_with_a_call_cannot_go_offline_but_presence_loss_can():
    agent = AgentFactory()
    _put(agent, AgentStatus.AVAILABLE)
    Agent.objects.filter(pk=agent.pk).update(activity=AgentActivity.ON_CALL, active_calls=1)
    for source in (StatusEventSource.AGENT, StatusEventSource.SUPERVISOR):
        with pytest.raises(TransitionNotAllowed):
            agent_set_status(agent_id=agent.pk, status=AgentStatus.OFFLINE, source=source)
    agent_set_status(agent_id=agent.pk, status=AgentStatus.OFFLINE, source=StatusEventSource.SYSTEM)
    assert Agent.objects.get(pk=agent.pk).status == AgentStatus.OFFLINE


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_changes_serialize_into_a_consistent_event_chain():
    """Threads race to change one agent; the row lock orders them, so each event starts
    where the previous one ended and the agent's final status is the last event's."""
    agent = AgentFactory()
    targets = [AgentStatus.AVAILABLE, AgentStatus.AWAY, AgentStatus.OFFLINE] * 4
    barrier = threading.Barrier(len(targets))
    errors: list[Exception] = []

    def change(status: str) -> None:
        try:
            barrier.wait()
            reason = "break" if status == AgentStatus.AWAY else ""
            agent_set_status(agent_id=agent.pk, status=status, reason=reason)
        except TransitionNotAllowed:
            pass
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=change, args=(s,)) for s in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    events = list(AgentStatusEvent.objects.filter(agent=agent).order_by("id"))
    assert events, "at least one change went through"
    assert events[0].from_status == AgentStatus.OFFLINE
    for previous, current in itertools.pairwise(events):
        assert current.from_status == previous.to_status
    assert Agent.objects.get(pk=agent.pk).status == events[-1].to_status
