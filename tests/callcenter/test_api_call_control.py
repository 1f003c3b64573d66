"""Call control API: who may do what, bad input, and the operation queued after commit."""

import time

import jwt
import pytest
from django.conf import settings

from callcenter.models import Call
from realtime.models import UserEvent
from telephony.models import Operation, OperationKind
from tests.conftest import as_user
from tests.factories import AgentFactory, QueueFactory, UserFactory, ended_call

pytestmark = pytest.mark.django_db


def post(api, user, call, action, body=None, **headers):
    return as_user(api, user).post(
        f"/api/v1/calls/{call.pk}/{action}/", body or {}, format="json", **headers
    )


def test_agent_holds_own_call_and_twilio_is_asked_after_commit(
    api, agent, connected, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post(api, agent.user, connected, "hold", {"hold": True})
    assert response.status_code == 202, response.json()
    operation = Operation.objects.get()
    assert (operation.kind, operation.call_sid) == (OperationKind.HOLD, connected.call_sid)
    assert operation.params == {
        "conference_sid": connected.conference_sid,
        "call_sid": connected.call_sid,
    }
    assert operation.status == "pending" and len(callbacks) == 1  # the task, on commit


def test_idempotency_key_makes_a_retry_a_no_op(
    api, agent, connected, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        for _ in range(2):
            response = post(api, agent.user, connected, "hangup", HTTP_IDEMPOTENCY_KEY="k1")
            assert response.status_code == 202
    assert Operation.objects.count() == 1 and len(callbacks) == 1


def test_colleague_cannot_control_and_supervisor_can(
    api, queue, connected, supervisor, django_capture_on_commit_callbacks
):
    colleague = AgentFactory(queues=[queue])
    assert post(api, colleague.user, connected, "hangup").status_code == 403
    with django_capture_on_commit_callbacks(execute=False):
        assert post(api, supervisor, connected, "hangup").status_code == 202
    assert Operation.objects.count() == 1


@pytest.mark.parametrize(
    ("action", "body"),
    [("hold", {}), ("hold", {"hold": "maybe"}), ("recording", {}), ("monitor", {"mode": "spy"})],
)
def test_bad_input_is_400_and_queues_nothing(api, admin_user, connected, action, body):
    AgentFactory(user=admin_user)
    response = post(api, admin_user, connected, action, body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert not Operation.objects.exists()


def test_controls_need_a_connected_call(api, agent, queue):
    waiting = ended_call(queue, agent)
    response = post(api, agent.user, waiting, "hold", {"hold": True})
    assert response.status_code == 409 and response.json()["error"]["code"] == "not_connected"
    assert post(api, agent.user, waiting, "hangup").status_code == 409  # already ended
    assert not Operation.objects.exists()


def test_stop_recording_needs_a_started_recording(api, agent, connected):
    response = post(api, agent.user, connected, "recording", {"record": False})
    assert response.status_code == 409 and response.json()["error"]["code"] == "not_recording"


def test_monitor_modes(
    api, supervisor, queue, agent, connected, django_capture_on_commit_callbacks
):
    sup_phone = AgentFactory(user=supervisor)
    leg = Call.objects.create(
        call_sid="CA" + "9" * 32,
        parent=connected,
        agent=agent,
        direction="outbound-api",
        created_at=connected.created_at,
    )
    with django_capture_on_commit_callbacks(execute=False):
        for mode in ("listen", "whisper", "barge"):
            assert post(api, supervisor, connected, "monitor", {"mode": mode}).status_code == 202
    ops = {op.params["label"]: op.params for op in Operation.objects.all()}
    assert ops["supervisor:listen"]["muted"] is True
    assert ops["supervisor:whisper"]["coach_call_sid"] == leg.call_sid
    assert ops["supervisor:barge"]["muted"] is False
    assert all(p["to"] == f"client:{sup_phone.softphone_identity}" for p in ops.values())
    # the agent on the call cannot monitor it
    assert post(api, agent.user, connected, "monitor", {"mode": "listen"}).status_code == 403


def test_softphone_token_is_for_the_agent_only(api, agent):
    response = as_user(api, agent.user).post("/api/v1/softphone/token/")
    assert response.status_code == 200
    body = response.json()
    claims = jwt.decode(body["token"], settings.TWILIO_API_SECRET, algorithms=["HS256"])
    assert claims["grants"]["identity"] == agent.softphone_identity == body["identity"]
    assert claims["grants"]["voice"]["incoming"]["allow"] is True
    assert claims["exp"] - time.time() <= 3600
    assert agent.user.username not in body["token"]  # opaque identity, no personal data
    supervisor_without_phone = UserFactory(roles=["supervisor"])
    assert (
        as_user(api, supervisor_without_phone).post("/api/v1/softphone/token/").status_code == 403
    )
    assert api.__class__().post("/api/v1/softphone/token/").status_code == 401


def test_transfers(api, agent, queue, connected, django_capture_on_commit_callbacks):
    other_queue, colleague = QueueFactory(), AgentFactory(queues=[queue])
    Call.objects.create(
        call_sid="CA" + "8" * 32,
        parent=connected,
        agent=agent,
        direction="outbound-api",
        created_at=connected.created_at,
    )
    with django_capture_on_commit_callbacks(execute=False):
        assert (
            post(api, agent.user, connected, "transfer", {"queue": other_queue.pk}).status_code
            == 202
        )
        redirect = Operation.objects.get(kind=OperationKind.REDIRECT)
        assert (
            redirect.params["url"]
            .split("#")[0]
            .endswith(f"/webhooks/twilio/voice/transfer/?queue={other_queue.pk}")
        )
        assert (
            post(api, agent.user, connected, "transfer", {"agent": colleague.pk}).status_code == 202
        )
        added = Operation.objects.get(kind=OperationKind.ADD_PARTICIPANT)
        assert added.params["to"] == f"client:{colleague.softphone_identity}"
        assert added.params["label"] == f"agent:{colleague.softphone_identity}"
        # Cold: I leave once the target answers (tests/webhooks/test_transfer_handover.py).
        assert not Operation.objects.filter(kind=OperationKind.REMOVE_PARTICIPANT).exists()
        body = {"number": "+442071838750", "mode": "warm"}
        assert post(api, agent.user, connected, "transfer", body).status_code == 202
        assert Operation.objects.filter(kind=OperationKind.HOLD).count() == 1  # warm: held first


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"queue": 999999},
        {"number": "0800 123"},
        {"agent": 1, "number": "+15005550006"},
        {"queue": None, "mode": "sideways"},
    ],
)
def test_transfer_bad_input(api, agent, connected, body):
    response = post(api, agent.user, connected, "transfer", body)
    assert response.status_code == 400
    assert not Operation.objects.exists()


def test_the_agent_a_call_is_transferred_to_hears_of_it_once(
    api, queue, agent, connected, django_capture_on_commit_callbacks
):
    target = AgentFactory(queues=[queue])
    body = {"mode": "warm", "agent": target.pk}
    with django_capture_on_commit_callbacks(execute=False):
        for _ in range(2):  # a retry with the same key
            response = post(api, agent.user, connected, "transfer", body, HTTP_IDEMPOTENCY_KEY="t")
            assert response.status_code == 202
        post(api, agent.user, connected, "transfer", {"mode": "cold", "queue": queue.pk})
    [event] = UserEvent.objects.filter(type="transfer.offered")
    assert event.user_id == target.user_id
    assert event.data["call_id"] == connected.pk and event.data["mode"] == "warm"
    assert event.data["by"]["id"] == agent.user_id
