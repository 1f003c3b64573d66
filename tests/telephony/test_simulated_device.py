"""The agent's browser page as their softphone in simulated mode: rings to a registered
identity wait for answer/reject through our API instead of the simulator's script."""

import time

import pytest
import requests
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from callcenter.models import Agent, Queue
from callcenter.services import agent_set_status
from telephony.client import twilio_client
from telephony.simulated_device import device_calls, device_register, device_unregister
from telephony.simulator.config import AgentBehaviour, CallerBehaviour
from telephony.simulator.from_settings import config_from_settings
from telephony.simulator.thread import SimulatorThread
from tests.factories import AgentFactory, UserFactory

REGISTER = "/api/v1/softphone/simulated/register/"
ANSWER = "/api/v1/softphone/simulated/answer/"
REJECT = "/api/v1/softphone/simulated/reject/"
HANGUP = "/api/v1/softphone/simulated/hangup/"
CALLS = "/api/v1/softphone/simulated/calls/"
# Answered, a leg runs this: it stays up until it is hung up.
STAY = '<Response><Pause length="3600"/></Response>'
# A scripted softphone would answer at once and hang up soon: any wait shows it did not.
SCRIPTED = AgentBehaviour(
    miss_probability=0,
    reject_probability=0,
    answer_delay_median_seconds=0.5,
    hang_up_probability=1,
    talk_median_seconds=1,
    alone_patience_seconds=1,
)


def wait_until(predicate, seconds: float = 15.0):
    deadline = time.monotonic() + seconds
    while not (value := predicate()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return value


@pytest.fixture
def simulator(settings):
    started: list[SimulatorThread] = []

    def start(base_url: str = "http://127.0.0.1:9", speed: float = 10.0, **overrides):
        thread = SimulatorThread(
            config_from_settings(
                number="+15005550006",
                base_url=base_url,
                rest_port=0,
                seed=11,
                speed=speed,
                agents=SCRIPTED,
                **overrides,
            )
        )
        settings.TWILIO_API_BASE_URL = thread.start()
        started.append(thread)
        return thread

    settings.TELEPHONY_MODE = "simulated"
    yield start
    for thread in started:
        thread.stop()


def ring(identity: str, timeout: int = 20) -> str:
    """Ring the softphone as the gateway does; returns the leg's CallSid."""
    call = twilio_client().calls.create(
        to=f"client:{identity}", from_="+15005550006", twiml=STAY, timeout=timeout
    )
    return call.sid


def status_of(sid: str) -> str:
    return twilio_client().calls(sid).fetch().status


def ringing(identity: str) -> list:
    return [c for c in device_calls(identity) if c.awaiting_decision]


@pytest.fixture
def agent_api(db):
    agent = AgentFactory()
    api = APIClient()
    api.force_authenticate(agent.user)
    return agent, api


def test_answered_leg_stays_up_until_hung_up(simulator, agent_api):
    agent, api = agent_api
    simulator()
    response = api.post(REGISTER, {"ttl": 60}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["identity"] == agent.softphone_identity
    assert response.json()["interactive"] is True and 55 < response.json()["expires_in"] <= 60
    sid = ring(agent.softphone_identity)
    wait_until(lambda: ringing(agent.softphone_identity))
    time.sleep(0.5)  # 5 simulated seconds: a scripted softphone would have answered by now
    assert status_of(sid) == "ringing"

    response = api.post(ANSWER, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["call_sid"] == sid
    wait_until(lambda: status_of(sid) == "in-progress")
    time.sleep(3)  # 30 simulated seconds: past the ring timeout and any scripted talk time
    [leg] = device_calls(agent.softphone_identity)
    assert leg.sid == sid and leg.status == "in-progress" and not leg.awaiting_decision
    assert api.post(ANSWER, format="json").status_code == 404  # nothing ringing any more

    twilio_client().calls(sid).update(status="completed")  # how our app hangs up
    wait_until(lambda: status_of(sid) == "completed")
    assert device_calls(agent.softphone_identity) == []


def test_the_person_hangs_up_their_answered_leg(simulator, agent_api):
    agent, api = agent_api
    simulator()
    assert api.post(REGISTER, format="json").status_code == 200
    sid = ring(agent.softphone_identity)
    wait_until(lambda: ringing(agent.softphone_identity))
    listed = api.get(CALLS).json()["calls"]
    assert [(c["call_sid"], c["awaiting_decision"]) for c in listed] == [(sid, True)]
    response = api.post(HANGUP, format="json")  # ringing is not answered: nothing to hang up
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert status_of(sid) == "ringing"

    assert api.post(ANSWER, format="json").status_code == 200
    wait_until(lambda: status_of(sid) == "in-progress")
    assert api.get(CALLS).json()["calls"][0]["awaiting_decision"] is False
    response = api.post(HANGUP, {"call_sid": "CA" + "0" * 32}, format="json")  # not this leg
    assert response.status_code == 404 and status_of(sid) == "in-progress"
    response = api.post(HANGUP, {"call_sid": "x" * 35}, format="json")
    assert response.status_code == 400 and status_of(sid) == "in-progress"

    response = api.post(HANGUP, {"call_sid": sid}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["call_sid"] == sid
    wait_until(lambda: status_of(sid) == "completed")
    assert api.get(CALLS).json()["calls"] == []
    assert api.post(HANGUP, format="json").status_code == 404


def test_rejected_leg_ends_busy(simulator, agent_api):
    agent, api = agent_api
    simulator()
    assert api.post(REGISTER, format="json").status_code == 200
    sid = ring(agent.softphone_identity)
    wait_until(lambda: ringing(agent.softphone_identity))
    response = api.post(REJECT, {"call_sid": sid}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["call_sid"] == sid
    assert wait_until(lambda: status_of(sid) in ("busy", "completed", "no-answer")) and (
        status_of(sid) == "busy"
    )


def test_no_decision_is_no_answer_after_the_ring_timeout(simulator, agent_api):
    agent, api = agent_api
    simulator(speed=10)
    assert api.post(REGISTER, format="json").status_code == 200
    started = time.monotonic()
    sid = ring(agent.softphone_identity, timeout=20)  # 2 wall seconds at speed 10
    wait_until(lambda: status_of(sid) not in ("queued", "initiated", "ringing"), seconds=10)
    assert status_of(sid) == "no-answer"
    assert time.monotonic() - started >= 1.9
    assert api.post(ANSWER, format="json").status_code == 404


def test_caller_hanging_up_while_it_rings_cancels_the_leg(simulator, agent_api):
    agent, api = agent_api
    simulator()
    assert api.post(REGISTER, format="json").status_code == 200
    sid = ring(agent.softphone_identity)
    wait_until(lambda: ringing(agent.softphone_identity))
    twilio_client().calls(sid).update(status="canceled")
    wait_until(lambda: status_of(sid) == "canceled")
    response = api.post(ANSWER, format="json")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_unregistered_or_lapsed_devices_ring_as_scripted(simulator, agent_api):
    agent, _api = agent_api
    simulator()
    identity = agent.softphone_identity
    device_register(identity, ttl=60)
    device_unregister(identity)
    sid = ring(identity)
    wait_until(lambda: status_of(sid) == "in-progress", seconds=5)  # the script answered

    registration = device_register(identity, ttl=1)
    assert registration.interactive and registration.expires_in <= 1
    time.sleep(1.1)
    sid = ring(identity)
    wait_until(lambda: status_of(sid) == "in-progress", seconds=5)


def test_the_device_api_needs_the_simulator_credentials(simulator):
    thread = simulator()
    response = requests.post(f"{thread.rest_base_url}/Simulator/Devices/x/Register", timeout=5)
    assert response.status_code == 401
    response = requests.post(
        f"{thread.rest_base_url}/Simulator/Devices/x/Answer",
        auth=("AC" + "0" * 32, "wrong"),
        timeout=5,
    )
    assert response.status_code == 401


@pytest.mark.parametrize("method,url", [("post", REGISTER), ("post", ANSWER), ("post", REJECT),
                                        ("post", HANGUP), ("get", CALLS)])  # fmt: skip
def test_anonymous_and_non_agents_are_refused(db, method, url):
    api = APIClient()
    assert getattr(api, method)(url, format="json").status_code in (401, 403)
    api.force_authenticate(UserFactory(roles=["supervisor"]))
    response = getattr(api, method)(url, format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"


@pytest.mark.parametrize("method,url", [("post", REGISTER), ("post", ANSWER), ("post", REJECT),
                                        ("post", HANGUP), ("get", CALLS)])  # fmt: skip
def test_not_found_outside_simulated_mode(agent_api, settings, method, url):
    _agent, api = agent_api
    settings.TELEPHONY_MODE = "twilio"
    response = getattr(api, method)(url, format="json")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert "simulated" in response.json()["error"]["message"]


@pytest.mark.parametrize("url", [REGISTER, ANSWER])
def test_unreachable_simulator_is_a_bad_gateway(agent_api, settings, url):
    _agent, api = agent_api
    settings.TELEPHONY_MODE = "simulated"
    settings.TWILIO_API_BASE_URL = "http://127.0.0.1:9"  # discard port: nothing listens
    response = api.post(url, format="json")
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "simulator_unavailable"


def test_bad_ttl_is_refused(agent_api, settings):
    _agent, api = agent_api
    response = api.post(REGISTER, {"ttl": 1}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"


# --- the whole path: a caller rings in, routing rings the agent's page ------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_routing_rings_the_page_and_the_agent_answers(live_server, settings, simulator):
    settings.TWILIO_WEBHOOK_BASE_URL = live_server.url
    settings.TWILIO_AUTH_TOKEN = "simulated-device-token"
    call_command("seed_demo", verbosity=0)
    Queue.objects.update(business_hours={}, max_wait_seconds=None, wrap_up_seconds=0)
    alice = Agent.objects.get(user__username="alice")  # in Sales and Support: every caller's
    agent_set_status(agent_id=alice.pk, status="available")
    thread = simulator(
        base_url=live_server.url,
        speed=5,
        callers=CallerBehaviour(
            patience_mean_seconds=100_000,
            menu_hangup_probability=0,
            menu_invalid_probability=0,
            callback_probability=0,
            talk_median_seconds=100_000,
        ),
    )
    token = Token.objects.create(user=alice.user).key
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.post(REGISTER, format="json").status_code == 200

    caller = thread.submit(_place_call(thread)).result(5)
    [leg] = wait_until(lambda: ringing(alice.softphone_identity), seconds=30)
    response = api.post(ANSWER, format="json")
    assert response.status_code == 200, response.content
    # The agent joins the caller's conference (named after the caller's call) and stays.
    wait_until(
        lambda: [c.conference_name for c in device_calls(alice.softphone_identity)] == [caller]
    )
    time.sleep(2)  # 10 simulated seconds beyond a scripted agent's patience and talk time
    [leg] = device_calls(alice.softphone_identity)
    assert leg.status == "in-progress" and leg.conference_name == caller
    truth = {c["call_sid"]: c for c in thread.ground_truth()["calls"]}
    assert truth[caller]["agent_identity"] == alice.softphone_identity
    assert truth[leg.sid]["status"] is None  # still up


async def _place_call(thread: SimulatorThread) -> str:
    return thread.simulator.place_call()
