"""Supervisors raise (or lower) a waiting caller's priority; routing serves by priority first."""

import pytest

from callcenter.models import Call
from routing.services import routing_claim_next
from tests.factories import AgentFactory, UserFactory, ended_call, waiting_call

pytestmark = pytest.mark.django_db


@pytest.fixture
def supervised(queue):
    supervisor = UserFactory(roles=["supervisor"])
    queue.supervisors.add(supervisor)
    return supervisor


def test_raised_caller_is_served_first(api, queue, supervised, django_capture_on_commit_callbacks):
    first, second = waiting_call(queue), waiting_call(queue)  # `first` waited as long
    api.force_authenticate(supervised)
    response = api.post(f"/api/v1/calls/{second.pk}/priority/", {"priority": 5}, format="json")
    assert response.status_code == 200 and response.json()["priority"] == 5
    AgentFactory(queues=[queue], status="available")
    with django_capture_on_commit_callbacks(execute=False):
        assert routing_claim_next().call_id == second.pk
    assert Call.objects.get(pk=first.pk).priority == 0


def test_bad_input_and_ended_calls_change_nothing(api, queue, supervised):
    call, done = waiting_call(queue), ended_call(queue)
    api.force_authenticate(supervised)
    url = f"/api/v1/calls/{call.pk}/priority/"
    for body in ({"priority": 101}, {"priority": "x"}, {}):
        assert api.post(url, body, format="json").status_code == 400
    response = api.post(f"/api/v1/calls/{done.pk}/priority/", {"priority": 1}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "not_waiting"
    assert Call.objects.get(pk=call.pk).priority == 0


def test_only_the_queues_supervisors(api, queue):
    call = waiting_call(queue)
    member = AgentFactory(queues=[queue])
    api.force_authenticate(member.user)
    assert api.post(f"/api/v1/calls/{call.pk}/priority/", {"priority": 1}).status_code == 403
    other = UserFactory(roles=["supervisor"])
    api.force_authenticate(other)
    assert api.post(f"/api/v1/calls/{call.pk}/priority/", {"priority": 1}).status_code == 404
