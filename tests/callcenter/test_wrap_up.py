"""Wrap-up: the agent records the disposition and notes of their last call and is ready again;
routing offers the next waiting call at once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from callcenter.choices import AgentActivity, AgentStatus
from callcenter.models import Agent, Call, Voicemail
from routing.models import Reservation
from tests.factories import AgentFactory, UserFactory, ended_call, waiting_call

pytestmark = pytest.mark.django_db


def _wrapping(agent):
    Agent.objects.filter(pk=agent.pk).update(
        status=AgentStatus.AVAILABLE,
        activity=AgentActivity.WRAP_UP,
        wrap_up_until=timezone.now() + timedelta(seconds=60),
    )


def _post(api, user, agent, body):
    api.force_authenticate(user)
    return api.post(f"/api/v1/agents/{agent.pk}/wrap-up/", body, format="json")


def test_ready_records_the_disposition_and_routes_the_next_caller(
    api, queue, django_capture_on_commit_callbacks
):
    agent = AgentFactory(queues=[queue])
    older, last = ended_call(queue, agent), ended_call(queue, agent)
    Call.objects.filter(pk=older.pk).update(ended_at=last.ended_at - timedelta(seconds=30))
    _wrapping(agent)
    caller = waiting_call(queue)

    with django_capture_on_commit_callbacks(execute=True):
        response = _post(api, agent.user, agent, {"disposition": "resolved", "notes": " Refund "})
    assert response.status_code == 200, response.json()
    last.refresh_from_db()
    assert (last.disposition, last.notes) == ("resolved", "Refund")
    assert Call.objects.get(pk=older.pk).disposition == ""
    # Ready means routable at once: the waiting caller is offered to the agent.
    assert Reservation.objects.get().call_id == caller.pk
    assert Agent.objects.get(pk=agent.pk).activity == AgentActivity.OFFERED


def test_bad_input_changes_nothing(api, queue):
    agent = AgentFactory(queues=[queue])
    call = ended_call(queue, agent)
    _wrapping(agent)
    for body in ({"disposition": "bogus"}, {"notes": "x" * 2001}):
        response = _post(api, agent.user, agent, body)
        assert response.status_code == 400, body
        assert "error" in response.json()
    assert Agent.objects.get(pk=agent.pk).activity == AgentActivity.WRAP_UP
    assert Call.objects.get(pk=call.pk).disposition == ""


def test_outside_wrap_up_is_a_conflict(api, queue):
    agent = AgentFactory(queues=[queue])
    response = _post(api, agent.user, agent, {})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_in_wrap_up"


def test_permissions(api, queue):
    agent, colleague = AgentFactory(queues=[queue]), AgentFactory(queues=[queue])
    _wrapping(agent)
    assert _post(api, colleague.user, agent, {}).status_code == 403
    api.force_authenticate(None)
    assert api.post(f"/api/v1/agents/{agent.pk}/wrap-up/", {}).status_code == 401
    supervisor = UserFactory(roles=["supervisor"])
    queue.supervisors.add(supervisor)
    assert _post(api, supervisor, agent, {}).status_code == 200


def test_the_disposition_goes_to_the_call_handled_last_however_it_was_handled(api, queue):
    agent, colleague = AgentFactory(queues=[queue]), AgentFactory(queues=[queue])
    own = ended_call(queue, agent)  # answered by the agent: the call's agent
    transferred = ended_call(queue, colleague)  # answered by a colleague, then moved to them
    leg = ended_call(None, agent, parent=transferred, call_sid="CA" + "7" * 32)
    Call.objects.filter(pk=leg.pk).update(ended_at=own.ended_at + timedelta(minutes=1))
    _wrapping(agent)
    assert _post(api, agent.user, agent, {"disposition": "resolved"}).status_code == 200
    assert Call.objects.get(pk=transferred.pk).disposition == "resolved"
    assert Call.objects.get(pk=own.pk).disposition == ""

    left_message = ended_call(queue, outcome="voicemail")
    Voicemail.objects.create(
        call=left_message, queue=queue, agent=agent, enqueued_at=left_message.created_at,
        recording_sid="RE" + "3" * 32, status="done",
        completed_at=own.ended_at + timedelta(minutes=5),
    )  # fmt: skip
    _wrapping(agent)
    assert _post(api, agent.user, agent, {"disposition": "escalated"}).status_code == 200
    assert Call.objects.get(pk=left_message.pk).disposition == "escalated"
    assert Call.objects.get(pk=transferred.pk).disposition == "resolved"
