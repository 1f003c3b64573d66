"""Click-to-call and call control against the simulator and a live server: the agent's
softphone and the customer meet in the customer call's conference."""

import pytest
import requests
from rest_framework.authtoken.models import Token

from callcenter.choices import CallStage
from callcenter.models import AgentStatusEvent, Call
from telephony.models import Operation, OperationStatus
from telephony.simulator.config import AgentBehaviour, CustomerBehaviour
from telephony.simulator.from_settings import config_from_settings
from telephony.simulator.thread import SimulatorThread
from tests.factories import AgentFactory, UserFactory
from tests.simulation import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
CUSTOMER = "+442071838750"


@pytest.fixture
def world(live_server, settings):
    settings.TWILIO_WEBHOOK_BASE_URL = live_server.url
    settings.TWILIO_AUTH_TOKEN = "click-to-call-token"
    agent = AgentFactory()
    token = Token.objects.create(user=agent.user).key

    def start(answer_probability: float) -> SimulatorThread:
        simulator = SimulatorThread(
            config_from_settings(
                number="+15005550006",
                base_url=live_server.url,
                rest_port=0,
                seed=3,
                # Slow enough that a loaded machine still lets both sides meet before the
                # customer's (simulated) minute of talk is over.
                speed=10,
                agents=AgentBehaviour(
                    miss_probability=0,
                    reject_probability=0,
                    hang_up_probability=0,
                    answer_delay_median_seconds=1,
                    alone_patience_seconds=120,
                ),
                customers=CustomerBehaviour(
                    answer_probability=answer_probability,
                    busy_probability=0,
                    talk_median_seconds=60,
                    alone_patience_seconds=120,
                ),
            )
        )
        settings.TWILIO_API_BASE_URL = simulator.start()
        started.append(simulator)
        return simulator

    started: list[SimulatorThread] = []
    yield live_server.url, agent, token, start
    for simulator in started:
        simulator.stop()


def dial(url: str, token: str, number: str) -> requests.Response:
    return requests.post(
        f"{url}/api/v1/calls/dial/",
        json={"to": number},
        timeout=10,
        headers={"Authorization": f"Token {token}"},
    )


def test_agent_and_customer_meet_and_the_call_ends_cleanly(world):
    url, agent, token, start = world
    start(answer_probability=1.0)
    assert dial(url, token, CUSTOMER).status_code == 202
    wait_until(lambda: Call.objects.filter(to_number=CUSTOMER, ended_at__isnull=False).exists())
    customer = Call.objects.get(to_number=CUSTOMER)
    wait_until(lambda: not Call.objects.filter(ended_at__isnull=True).exists())
    customer.refresh_from_db()
    assert customer.direction == "outbound-api" and customer.stage == CallStage.ENDED
    assert customer.agent == agent and customer.answered_at is not None
    assert customer.conference_sid.startswith("CF")
    leg = Call.objects.get(parent=customer)
    assert leg.agent == agent and leg.to_number == f"client:{agent.softphone_identity}"
    assert not Operation.objects.filter(status=OperationStatus.FAILED).exists()
    # On a call while talking (routing offered them nothing meanwhile), idle after.
    trail = AgentStatusEvent.objects.filter(agent=agent).order_by("id")
    assert list(trail.values_list("to_activity", flat=True)) == ["on_call", "idle"]
    agent.refresh_from_db()
    assert (agent.activity, agent.active_calls) == ("idle", 0)


def test_unreached_customer_releases_the_agent(world):
    url, _agent, token, start = world
    start(answer_probability=0.0)
    assert dial(url, token, CUSTOMER).status_code == 202
    wait_until(lambda: Call.objects.filter(to_number=CUSTOMER, ended_at__isnull=False).exists())
    wait_until(lambda: not Call.objects.filter(ended_at__isnull=True).exists())
    customer = Call.objects.get(to_number=CUSTOMER)
    assert customer.status == "no-answer" and customer.answered_at is None
    assert customer.agent is None


def test_bad_numbers_and_users_without_a_softphone_are_refused(world):
    url, _agent, token, _start = world
    response = dial(url, token, "12345")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"
    supervisor = Token.objects.create(user=UserFactory(roles=["supervisor"])).key
    assert dial(url, supervisor, "+15551234567").status_code == 403
    assert not Operation.objects.exists()
