"""The audit trail of people's actions on a call (`GET /api/v1/calls/{id}/actions/`): every
control a person asks for leaves one row with who and what, a retried request none more, a
refused one none at all, and the system's own actions none."""

import pytest

from callcenter.choices import CallStage
from callcenter.models import Call, CallEvent
from callcenter.services import call_hang_up
from tests.callcenter.test_api_call_control import post
from tests.conftest import as_user, queries_for
from tests.factories import AgentFactory, QueueFactory

pytestmark = pytest.mark.django_db
NUMBER = "+442071838750"


def actions(api, user, call) -> list[dict]:
    response = as_user(api, user).get(f"/api/v1/calls/{call.pk}/actions/")
    assert response.status_code == 200, response.content
    return response.json()["results"]


def _audit_rows() -> int:
    return CallEvent.objects.filter(kind__startswith=CallEvent.CONTROL_PREFIX).count()


def test_each_action_says_who_did_what(api, queue, agent, supervisor, connected):
    agent.user.first_name, agent.user.last_name = "Ana", "Lima"
    agent.user.save()
    assert post(api, agent.user, connected, "hold", {"hold": True}).status_code == 202
    assert post(api, agent.user, connected, "recording", {"record": True}).status_code == 202
    AgentFactory(user=supervisor)  # a softphone to listen in with
    # Whispering needs the agent's live leg, which this call has none of: refused, not audited.
    assert post(api, supervisor, connected, "monitor", {"mode": "whisper"}).status_code == 409
    assert post(api, supervisor, connected, "monitor", {"mode": "listen"}).status_code == 202
    body = {"mode": "cold", "number": NUMBER}
    assert post(api, agent.user, connected, "transfer", body).status_code == 202
    assert post(api, agent.user, connected, "hangup").status_code == 202

    got = actions(api, supervisor, connected)
    assert [(a["action"], a["user"]["id"], a["details"]) for a in got] == [
        ("hold", agent.user_id, {"hold": True}),
        ("recording", agent.user_id, {"record": True}),
        ("monitor", supervisor.pk, {"mode": "listen"}),
        ("transfer", agent.user_id, {"mode": "cold", "number": NUMBER}),
        ("hangup", agent.user_id, {}),
    ]
    assert got[0]["user"]["name"] == "Ana Lima" and got[0]["at"] <= got[-1]["at"]


def test_waiting_callers_moved_and_reprioritized_by_a_supervisor(api, queue, supervisor):
    other = QueueFactory()
    other.supervisors.add(supervisor)
    call = Call.objects.create(
        call_sid="CA" + "4" * 32, created_at=queue.created_at, queue=queue,
        stage=CallStage.WAITING, enqueued_at=queue.created_at, from_number=NUMBER,
    )  # fmt: skip
    url = f"/api/v1/calls/{call.pk}/"
    as_user(api, supervisor)
    assert api.post(url + "priority/", {"priority": 3}, format="json").status_code == 200
    assert api.post(url + "priority/", {"priority": 3}, format="json").status_code == 200  # same
    assert api.post(url + "move/", {"queue": other.pk}, format="json").status_code == 202
    got = [(a["action"], a["details"]) for a in actions(api, supervisor, call)]
    assert got == [("priority", {"before": 0, "after": 3}),
                   ("move", {"before": queue.pk, "after": other.pk})]  # fmt: skip


def test_a_retry_writes_once_and_a_refusal_writes_nothing(api, queue, agent, connected):
    for _ in range(2):
        response = post(
            api, agent.user, connected, "hold", {"hold": True}, HTTP_IDEMPOTENCY_KEY="k"
        )
        assert response.status_code == 202
    assert _audit_rows() == 1
    colleague = AgentFactory(queues=[queue])
    assert post(api, colleague.user, connected, "hangup").status_code == 403
    assert post(api, agent.user, connected, "transfer", {"mode": "cold"}).status_code == 400
    assert post(api, agent.user, connected, "recording", {"record": False}).status_code == 409
    assert _audit_rows() == 1
    call_hang_up(call=connected, request_key="offer-canceled")  # routing's, nobody's action
    assert _audit_rows() == 1


def test_who_may_read_them_and_numbers_hidden_from_others(api, queue, agent, connected):
    post(api, agent.user, connected, "transfer", {"mode": "cold", "number": NUMBER})
    outsider = AgentFactory(queues=[QueueFactory()])
    response = as_user(api, outsider.user).get(f"/api/v1/calls/{connected.pk}/actions/")
    assert response.status_code == 404  # not a call they see
    colleague = AgentFactory(queues=[queue])  # sees the queue's calls, not their numbers
    [transfer] = actions(api, colleague.user, connected)
    assert transfer["details"] == {"mode": "cold", "number": None}
    assert actions(api, agent.user, connected)[0]["details"]["number"] == NUMBER


def test_reading_them_costs_the_same_whatever_their_number(
    api, queue, agent, supervisor, connected
):
    url = f"/api/v1/calls/{connected.pk}/actions/"
    post(api, agent.user, connected, "hold", {"hold": True})
    one = queries_for(api, supervisor, url)
    assert one == 5  # roles, supervised queues, the call, its actions, their users
    for index in range(5):
        post(api, agent.user, connected, "hold", {"hold": bool(index % 2)})
    AgentFactory(user=supervisor)
    post(api, supervisor, connected, "monitor", {"mode": "listen"})
    assert queries_for(api, supervisor, url) == one
