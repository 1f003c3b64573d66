"""Supervisors move a waiting caller to another queue: Twilio is asked to redirect the call into
the transfer URL of the target queue; meanwhile routing leaves the caller alone."""

import pytest

from callcenter.choices import CallStage
from callcenter.models import Call
from routing.services import routing_claim_next
from telephony.models import Operation, OperationKind
from tests.factories import AgentFactory, QueueFactory, UserFactory, ended_call, waiting_call

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_queues():
    return QueueFactory(name="Sales"), QueueFactory(name="Support")


def _supervisor_of(*queues):
    user = UserFactory(roles=["supervisor"])
    for queue in queues:
        queue.supervisors.add(user)
    return user


def _move(api, user, call, body):
    api.force_authenticate(user)
    return api.post(f"/api/v1/calls/{call.pk}/move/", body, format="json")


def test_move_redirects_into_the_target_queue(api, two_queues, django_capture_on_commit_callbacks):
    sales, support = two_queues
    call = waiting_call(sales)
    with django_capture_on_commit_callbacks(execute=False):
        response = _move(api, _supervisor_of(sales, support), call, {"queue": support.pk})
    assert response.status_code == 202, response.json()
    operation = Operation.objects.get(pk=response.json()["id"])
    assert operation.kind == OperationKind.REDIRECT
    assert operation.params["url"].split("#")[0].endswith(f"/transfer/?queue={support.pk}")
    assert Call.objects.get(pk=call.pk).stage == CallStage.NEW
    AgentFactory(queues=[sales], status="available")
    with django_capture_on_commit_callbacks(execute=False):
        assert routing_claim_next() is None  # not offered in the old queue meanwhile


def test_bad_moves_change_nothing(api, two_queues):
    sales, support = two_queues
    supervisor = _supervisor_of(sales, support)
    call, done = waiting_call(sales), ended_call(sales)
    assert _move(api, supervisor, call, {"queue": sales.pk}).json()["error"]["code"] == "same_queue"
    assert _move(api, supervisor, call, {"queue": 999_999}).status_code == 400
    assert _move(api, supervisor, call, {}).status_code == 400
    assert _move(api, supervisor, done, {"queue": support.pk}).status_code == 409
    assert Call.objects.get(pk=call.pk).stage == CallStage.WAITING
    assert not Operation.objects.exists()


def test_only_supervisors_of_both_queues(api, two_queues):
    sales, support = two_queues
    call = waiting_call(sales)
    assert _move(api, _supervisor_of(sales), call, {"queue": support.pk}).status_code == 403
    member = AgentFactory(queues=[sales, support])
    assert _move(api, member.user, call, {"queue": support.pk}).status_code == 403
    assert Call.objects.get(pk=call.pk).stage == CallStage.WAITING
