"""A cold transfer hands the caller over only once the target answers: a target who declines
or never answers leaves the caller with their agent, and an outside party who answered keeps
the caller up after the agent left, until they hang up too."""

import pytest

from callcenter.choices import CallStage
from callcenter.models import Call
from telephony.models import Operation, OperationKind
from tests.conftest import as_user
from tests.factories import AgentFactory, QueueFactory, UserFactory, ended_call
from tests.webhooks.conftest import call_params

pytestmark = pytest.mark.django_db
CUSTOMER, MINE = "CA" + "c" * 32, "CA" + "a" * 32
OUTSIDE = "+442071838750"


@pytest.fixture
def on_a_call(sales):
    """Ana talks to a customer of Sales in the customer's conference, on her leg MINE."""
    ana = AgentFactory(queues=[sales])
    call = ended_call(sales, ana, call_sid=CUSTOMER)
    Call.objects.filter(pk=call.pk).update(
        stage=CallStage.CONNECTED, ended_at=None, status="in-progress",
        conference_sid="CF" + "1" * 32,
    )  # fmt: skip
    Call.objects.create(
        call_sid=MINE, parent=call, agent=ana, direction="outbound-api", status="in-progress",
        to_number=f"client:{ana.softphone_identity}", created_at=call.created_at,
        answered_at=call.answered_at,
    )  # fmt: skip
    return ana, Call.objects.get(pk=call.pk)


def transfer(api, ana, call, **target):
    response = as_user(api, ana.user).post(
        f"/api/v1/calls/{call.pk}/transfer/", {"mode": "cold", **target}, format="json"
    )
    assert response.status_code == 202, response.content


def leg(twilio, sid, to, status):
    """A status callback of a leg dialed into the customer's call, as add_participant asks."""
    path = f"/webhooks/twilio/voice/status/?for={CUSTOMER}&direct=1"
    params = call_params(sid, CallStatus=status, To=to, Direction="outbound-api")
    assert twilio.post(path, params).status_code == 204


def removals() -> list[str]:
    ops = Operation.objects.filter(kind=OperationKind.REMOVE_PARTICIPANT)
    return [op.params["call_sid"] for op in ops]


def hang_ups() -> list[str]:
    return list(
        Operation.objects.filter(kind=OperationKind.HANGUP).values_list("call_sid", flat=True)
    )


def test_the_agent_leaves_once_the_target_agent_answers(api, twilio, sales, on_a_call):
    ana, call = on_a_call
    ben = AgentFactory(queues=[sales])
    transfer(api, ana, call, agent=ben.pk)
    assert removals() == []  # not yet: Ben has not answered
    target = "CA" + "b" * 32
    leg(twilio, target, f"client:{ben.softphone_identity}", "ringing")
    assert removals() == []
    leg(twilio, target, f"client:{ben.softphone_identity}", "in-progress")
    leg(twilio, target, f"client:{ben.softphone_identity}", "in-progress")  # a duplicate
    assert removals() == [MINE] and hang_ups() == []


def test_a_target_who_declines_leaves_the_caller_with_their_agent(api, twilio, sales, on_a_call):
    ana, call = on_a_call
    ben = AgentFactory(queues=[sales])
    transfer(api, ana, call, agent=ben.pk)
    leg(twilio, "CA" + "b" * 32, f"client:{ben.softphone_identity}", "busy")
    assert removals() == [] and hang_ups() == []
    assert Call.objects.get(pk=call.pk).stage == CallStage.CONNECTED


def test_an_outside_party_keeps_the_caller_until_they_hang_up(api, twilio, sales, on_a_call):
    ana, call = on_a_call
    transfer(api, ana, call, number=OUTSIDE)
    outside = "CA" + "d" * 32
    leg(twilio, outside, OUTSIDE, "in-progress")
    assert removals() == [MINE]
    leg(twilio, MINE, f"client:{ana.softphone_identity}", "completed")  # Ana's leg is gone
    assert hang_ups() == []  # the customer talks to the outside party
    leg(twilio, outside, OUTSIDE, "completed")
    assert hang_ups() == [CUSTOMER]  # alone now


def test_the_call_is_controlled_by_whoever_talks_on_it_now(api, twilio, sales, on_a_call):
    ana, call = on_a_call
    ben = AgentFactory(queues=[sales])
    transfer(api, ana, call, agent=ben.pk)
    target = "CA" + "b" * 32
    leg(twilio, target, f"client:{ben.softphone_identity}", "in-progress")
    leg(twilio, MINE, f"client:{ana.softphone_identity}", "completed")  # Ana handed over

    def hold(agent):
        url = f"/api/v1/calls/{call.pk}/hold/"
        return as_user(api, agent.user).post(url, {"hold": True}, format="json").status_code

    assert hold(ana) == 403  # she left: her page's Hang up must not end Ben's call
    assert hold(ben) == 202  # on a live leg of it
    assert hang_ups() == []


def test_an_agent_of_another_queue_sees_the_call_transferred_to_them(
    api, twilio, sales, on_a_call
):
    ana, call = on_a_call
    ben = AgentFactory(queues=[QueueFactory()])
    url = f"/api/v1/calls/{call.pk}/"
    assert as_user(api, ben.user).get(url).status_code == 404  # not his queue, not his call
    transfer(api, ana, call, agent=ben.pk)
    leg(twilio, "CA" + "b" * 32, f"client:{ben.softphone_identity}", "ringing")
    assert as_user(api, ben.user).get(url).status_code == 200  # a leg of his serves it
    listed = as_user(api, ben.user).get("/api/v1/calls/", {"call_sid": CUSTOMER}).json()
    assert [c["id"] for c in listed["results"]] == [call.pk]


def test_a_warm_transfer_hands_over_when_the_agent_leaves(api, twilio, sales, on_a_call):
    ana, call = on_a_call
    ben = AgentFactory(queues=[sales])
    response = as_user(api, ana.user).post(
        f"/api/v1/calls/{call.pk}/transfer/", {"mode": "warm", "agent": ben.pk}, format="json"
    )
    assert response.status_code == 202
    assert Operation.objects.filter(kind=OperationKind.HOLD).count() == 1  # the customer waits
    target = "CA" + "b" * 32
    leg(twilio, target, f"client:{ben.softphone_identity}", "in-progress")
    assert removals() == []  # warm: Ana and Ben talk first

    Call.objects.filter(pk=call.pk).update(held_since=call.answered_at)  # as the hold said
    leave = f"/api/v1/calls/{call.pk}/leave/"
    boss = UserFactory(roles=["supervisor"])
    sales.supervisors.add(boss)
    AgentFactory(user=boss)
    response = as_user(api, boss).post(leave)  # controls the call, but is not on it
    assert response.status_code == 409 and response.json()["error"]["code"] == "not_on_call"
    assert as_user(api, ana.user).post(leave).status_code == 202
    assert removals() == [MINE]
    assert Operation.objects.filter(kind=OperationKind.UNHOLD).exists()  # back to talking
    leg(twilio, MINE, f"client:{ana.softphone_identity}", "completed")
    assert hang_ups() == []  # Ben is still there
    assert as_user(api, ana.user).post(leave).status_code == 403  # gone: not hers to control
    outsider = AgentFactory(queues=[sales])
    assert as_user(api, outsider.user).post(leave).status_code == 403
