"""Agents API: listing, the status endpoint, permissions per role, query counts."""

import pytest

from callcenter.choices import AgentStatus, StatusEventSource
from callcenter.models import Agent, AgentStatusEvent
from tests.conftest import as_user, queries_for
from tests.factories import AgentFactory, QueueFactory, UserFactory

pytestmark = pytest.mark.django_db


def status_url(agent) -> str:
    return f"/api/v1/agents/{agent.pk}/status/"


def test_unauthenticated_requests_get_401_in_the_error_shape(api, agent):
    for url in ("/api/v1/agents/", f"/api/v1/agents/{agent.pk}/", status_url(agent)):
        response = api.get(url) if not url.endswith("status/") else api.post(url, {})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"


def test_a_user_without_a_role_is_refused(api, agent):
    response = as_user(api, UserFactory()).get("/api/v1/agents/")
    assert response.status_code == 403
    assert response.json()["error"]["status"] == 403


def test_list_shows_status_and_queues(api, agent, queue):
    body = as_user(api, agent.user).get("/api/v1/agents/").json()
    assert body["count"] == 1
    row = body["results"][0]
    assert row["id"] == agent.pk
    assert row["user"]["username"] == agent.user.username
    assert row["status"] == "offline" and row["activity"] == "idle"
    assert row["max_concurrent_calls"] == 1
    assert row["queues"] == [{"id": queue.pk, "name": queue.name, "level": 1}]


def test_list_query_count_is_constant(api, supervisor):
    queues = QueueFactory.create_batch(3)
    AgentFactory.create_batch(3, queues=queues)
    small = queries_for(api, supervisor, "/api/v1/agents/")
    AgentFactory.create_batch(30, queues=queues)
    assert queries_for(api, supervisor, "/api/v1/agents/") == small
    # roles, count, the page of agents with users, their memberships with queues
    assert small == 4


def test_agent_sets_own_status(api, agent):
    response = as_user(api, agent.user).post(
        status_url(agent), {"status": "away", "reason": "lunch"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "away"
    assert response.json()["away_reason"] == "lunch"
    event = AgentStatusEvent.objects.get(agent=agent)
    assert event.source == StatusEventSource.AGENT and event.acting_user == agent.user


def test_agent_cannot_set_a_colleagues_status(api, agent, queue):
    colleague = AgentFactory(queues=[queue])
    response = as_user(api, agent.user).post(
        status_url(colleague), {"status": "available"}, format="json"
    )
    assert response.status_code == 403
    assert Agent.objects.get(pk=colleague.pk).status == AgentStatus.OFFLINE


def test_supervisor_sets_status_of_their_queues_agents_only(api, supervisor, agent):
    outsider = AgentFactory(queues=[QueueFactory()])
    client = as_user(api, supervisor)
    assert client.post(status_url(agent), {"status": "available"}, format="json").status_code == 200
    assert AgentStatusEvent.objects.get(agent=agent).source == StatusEventSource.SUPERVISOR
    denied = client.post(status_url(outsider), {"status": "available"}, format="json")
    assert denied.status_code == 403
    assert not AgentStatusEvent.objects.filter(agent=outsider).exists()


def test_admin_sets_anyones_status(api, admin_user):
    agent = AgentFactory(queues=[QueueFactory()])
    response = as_user(api, admin_user).post(status_url(agent), {"status": "available"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "invalid"),
        ({"status": "busy"}, "invalid"),
        ({"status": "away"}, "reason_required"),
        ({"status": "available", "reason": "x"}, "reason_not_allowed"),
        ({"status": "away", "reason": "x" * 101}, "invalid"),
    ],
)
def test_bad_input_is_a_400_and_changes_nothing(api, agent, body, code):
    response = as_user(api, agent.user).post(status_url(agent), body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    assert Agent.objects.get(pk=agent.pk).status == AgentStatus.OFFLINE
    assert not AgentStatusEvent.objects.exists()


def test_illegal_transition_is_a_409_and_changes_nothing(api, agent):
    Agent.objects.filter(pk=agent.pk).update(
        status=AgentStatus.AVAILABLE, activity="on_call", active_calls=1
    )
    response = as_user(api, agent.user).post(status_url(agent), {"status": "offline"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "agent_busy"
    assert Agent.objects.get(pk=agent.pk).status == AgentStatus.AVAILABLE


def test_unknown_agent_is_a_404_in_the_error_shape(api, agent):
    response = as_user(api, agent.user).post("/api/v1/agents/999999/status/", {"status": "away"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_unknown_api_path_is_a_json_404(api):
    response = api.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
