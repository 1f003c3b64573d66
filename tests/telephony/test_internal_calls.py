"""An invitation to a new call, end to end against the simulator and a live server: the
invitee accepts, both softphones ring into one conference, both agents are on a call (and
offered nothing) while they talk, and free again after."""

import pytest
import requests
from rest_framework.authtoken.models import Token

from callcenter.choices import AgentActivity, CallStage
from callcenter.models import Agent, AgentStatusEvent, Call
from telephony.models import Operation, OperationStatus
from telephony.simulator.config import AgentBehaviour
from tests.factories import AgentFactory
from tests.simulation import simulated_twilio, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def simulated(live_server, settings):
    agents = AgentBehaviour(
        miss_probability=0,
        reject_probability=0,
        hang_up_probability=1,
        answer_delay_median_seconds=1,
        talk_median_seconds=40,
        alone_patience_seconds=120,
    )
    with simulated_twilio(settings, live_server.url, seed=5, speed=10, agents=agents):
        yield live_server.url


def post(url: str, user, path: str, body: dict | None = None) -> requests.Response:
    token = Token.objects.get_or_create(user=user)[0].key
    return requests.post(
        url + path, json=body or {}, timeout=10, headers={"Authorization": f"Token {token}"}
    )


def test_an_accepted_invitation_to_a_new_call_connects_both_agents(simulated):
    ana, ben = AgentFactory(), AgentFactory()
    Agent.objects.filter(pk__in=[ana.pk, ben.pk]).update(status="available")
    created = post(simulated, ana.user, "/api/v1/invitations/", {"receiver": ben.user_id})
    assert created.status_code == 201, created.content
    accepted = post(simulated, ben.user, f"/api/v1/invitations/{created.json()['id']}/accept/")
    assert accepted.status_code == 200, accepted.content

    callee = f"client:{ben.softphone_identity}"
    talking = Agent.objects.filter(activity=AgentActivity.ON_CALL, active_calls=1)
    wait_until(lambda: talking.filter(pk__in=[ana.pk, ben.pk]).count() == 2, 45)
    assert not Agent.objects.routable().filter(pk__in=[ana.pk, ben.pk]).exists()
    wait_until(lambda: Call.objects.filter(to_number=callee, ended_at__isnull=False).exists(), 45)
    wait_until(lambda: not Call.objects.filter(ended_at__isnull=True).exists(), 45)

    call = Call.objects.get(to_number=callee)
    assert call.stage == CallStage.ENDED and call.answered_at is not None
    assert call.agent == ana and call.conference_sid.startswith("CF") and call.queue is None
    leg = Call.objects.get(parent=call)
    assert leg.agent == ana and leg.to_number == f"client:{ana.softphone_identity}"
    for agent in (ana, ben):
        agent.refresh_from_db()
        assert (agent.activity, agent.active_calls) == (AgentActivity.IDLE, 0)
        trail = AgentStatusEvent.objects.filter(agent=agent).order_by("id")
        assert list(trail.values_list("reason", "to_activity")) == [
            ("direct call", AgentActivity.ON_CALL),
            ("direct call ended", AgentActivity.IDLE),
        ]
    assert not Operation.objects.filter(status=OperationStatus.FAILED).exists()
