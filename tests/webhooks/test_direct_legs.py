"""Agents on legs routing did not offer (click-to-call, internal calls, joining a colleague's
call): busy while the leg talks, free again after, however Twilio's callbacks arrive."""

import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from callcenter.choices import AgentActivity
from callcenter.models import Agent, AgentStatusEvent, Call
from tests.factories import AgentFactory, QueueFactory
from tests.webhooks.conftest import call_params

pytestmark = pytest.mark.django_db
STATUS = "/webhooks/twilio/voice/status/"
LEG = "CA" + "d" * 32
_seq = itertools.count(1)


@pytest.fixture
def agent(db):
    agent = AgentFactory(queues=[QueueFactory()])
    Agent.objects.filter(pk=agent.pk).update(status="available")
    return agent


def leg_status(
    twilio, agent, call_status: str, *, query: str = "?direct=1", to: str = "", sid: str = LEG
):
    params = call_params(
        sid,
        CallStatus=call_status,
        Direction="outbound-api",
        From="+15005550006",
        To=to or f"client:{agent.softphone_identity}",
        SequenceNumber=str(next(_seq)),
        CallbackSource="call-progress-events",
        CallDuration="42" if call_status == "completed" else "",
    )
    response = twilio.post(STATUS + query, params)
    assert response.status_code == 204, response.content


def state(agent) -> tuple[str, int]:
    agent.refresh_from_db()
    return agent.activity, agent.active_calls


def test_the_agent_is_on_a_call_while_the_leg_talks_and_idle_after(twilio, agent):
    leg_status(twilio, agent, "ringing")
    assert state(agent) == (AgentActivity.IDLE, 0)
    leg_status(twilio, agent, "in-progress")
    assert state(agent) == (AgentActivity.ON_CALL, 1)
    assert Call.objects.get(call_sid=LEG).holds_agent
    assert not Agent.objects.routable().filter(pk=agent.pk).exists()
    leg_status(twilio, agent, "in-progress")  # a retried delivery: counted once
    assert state(agent) == (AgentActivity.ON_CALL, 1)
    leg_status(twilio, agent, "completed")
    assert state(agent) == (AgentActivity.IDLE, 0)
    assert not Call.objects.get(call_sid=LEG).holds_agent
    reasons = AgentStatusEvent.objects.filter(agent=agent).order_by("id")
    assert list(reasons.values_list("reason", flat=True)) == ["direct call", "direct call ended"]


def test_an_answer_reported_after_the_end_changes_nothing(twilio, agent):
    leg_status(twilio, agent, "completed")
    leg_status(twilio, agent, "in-progress")
    assert state(agent) == (AgentActivity.IDLE, 0)
    assert not AgentStatusEvent.objects.filter(agent=agent).exists()


def test_an_agent_at_capacity_is_left_to_the_offer_that_holds_them(twilio, agent):
    Agent.objects.filter(pk=agent.pk).update(activity=AgentActivity.OFFERED, active_calls=1)
    leg_status(twilio, agent, "in-progress")
    assert state(agent) == (AgentActivity.OFFERED, 1)
    leg_status(twilio, agent, "completed")
    assert state(agent) == (AgentActivity.OFFERED, 1)


def test_a_second_call_within_capacity_keeps_the_agent_on_a_call(twilio, agent):
    Agent.objects.filter(pk=agent.pk).update(
        activity=AgentActivity.ON_CALL, active_calls=1, max_concurrent_calls=2
    )
    leg_status(twilio, agent, "in-progress")
    assert state(agent) == (AgentActivity.ON_CALL, 2)
    leg_status(twilio, agent, "completed")
    assert state(agent) == (AgentActivity.ON_CALL, 1)


def test_legs_routing_offers_and_legs_to_numbers_are_not_held(twilio, agent):
    leg_status(twilio, agent, "in-progress", query="")  # an offer's leg: routing's to settle
    assert state(agent) == (AgentActivity.IDLE, 0)
    with CaptureQueriesContext(connection) as queries:
        leg_status(twilio, agent, "in-progress", to="+14155550100", sid="CA" + "e" * 32)
    assert state(agent) == (AgentActivity.IDLE, 0)
    agent_locks = [q for q in queries if q["sql"].startswith('SELECT "callcenter_agent"')]
    assert not [q for q in agent_locks if "FOR UPDATE" in q["sql"]]
