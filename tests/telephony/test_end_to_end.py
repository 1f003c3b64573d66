"""End to end: the Twilio simulator against a live server on PostgreSQL and Redis.

100 simulated callers ring the demo number; agents' softphones answer, miss or reject; callers
abandon, leave voicemails or ask for callbacks. Routing offers each waiting call to a free
agent (reservations, misses, wrap-up), as in production. Every call must end in a terminal
state that matches the simulator's ground truth, and no webhook may get a 5xx.
"""

import pytest
from django.core.management import call_command

from callcenter.choices import CallStage, MaxWaitAction
from callcenter.models import Agent, Call, CallbackRequest, Queue, Voicemail
from callcenter.services import agent_set_status
from routing.models import Reservation
from telephony.models import Operation, OperationStatus
from telephony.simulator.config import AgentBehaviour, CallerBehaviour, ChaosConfig
from telephony.simulator.from_settings import config_from_settings
from telephony.simulator.thread import SimulatorThread
from tests.simulation import NO_RETRY_IN_A_RUN, wait_until_quiet

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

SPEED = 25.0  # simulated seconds per wall second
CALLS = 100
# Ground truth → our outcome.
EXPECTED = {
    "answered": {"answered"},
    "voicemail": {"voicemail"},
    "callback-requested": {"callback"},
    "abandoned": {"abandoned", "short_abandoned"},
    "menu-hangup": {""},
}
# Callers the server sent out of the queue at the maximum wait without a message from them:
# Support turns them into callback requests, the other queues count them abandoned.
LEFT_AT_MAX_WAIT = {"callback", "abandoned"}


@pytest.fixture
def center(live_server, settings):
    settings.TWILIO_WEBHOOK_BASE_URL = live_server.url
    settings.TWILIO_AUTH_TOKEN = "e2e-token"
    call_command("seed_demo", verbosity=0)
    # Always open; a short maximum wait (wall seconds on our side) sends callers to voicemail,
    # Support offers callbacks.
    Queue.objects.update(business_hours={}, max_wait_seconds=8)
    Queue.objects.filter(name="Support").update(max_wait_action=MaxWaitAction.CALLBACK)
    # Billing is closed: its callers go to voicemail whatever the machine's speed (how many
    # reach the maximum wait elsewhere depends on it).
    Queue.objects.filter(name="Billing").update(business_hours={"mon": []})
    Queue.objects.update(wrap_up_seconds=0)  # agents are free again as soon as a call ends
    for agent in Agent.objects.all():
        agent_set_status(agent_id=agent.pk, status="available")
    return live_server


# Twilio's at-least-once delivery: the same run with callbacks duplicated and delayed so they
# arrive out of order must end in the same accounting.
CHAOS = {
    "in-order": ChaosConfig(),
    "duplicated-and-late": ChaosConfig(
        duplicate_probability=0.25, delay_probability=0.25, max_delay_seconds=20
    ),
}


@pytest.mark.parametrize("chaos", CHAOS.values(), ids=CHAOS.keys())
def test_hundred_calls_match_the_ground_truth(center, settings, chaos):
    simulator = SimulatorThread(
        config_from_settings(
            number="+15005550006",
            base_url=center.url,
            rest_port=0,
            seed=7,
            speed=SPEED,
            # Most callers sent to voicemail leave a message (the default hangs up 60% of
            # them); a third choose Billing (3), which is closed.
            callers=CallerBehaviour(
                menu_digits=("1", "2", "3"),
                patience_mean_seconds=200,
                callback_probability=0.2,
                voicemail_hangup_probability=0.2,
            ),
            chaos=chaos,
            agents=AgentBehaviour(
                miss_probability=0.12, reject_probability=0.05, talk_median_seconds=60
            ),
        )
    )
    settings.CALLBACK_RETRY_SECONDS = NO_RETRY_IN_A_RUN
    settings.TWILIO_API_BASE_URL = simulator.start()
    try:
        # About twice what five agents can take: answered, abandoned and voicemail all occur
        # (at 40 a minute nearly everyone timed out and a run could answer nobody).
        truth = simulator.run_traffic(CALLS, calls_per_minute=12, timeout=600)
        # Late (chaos) callbacks may still be on their way, and agents call back the callers
        # who asked for it: until neither side has anything left.
        wait_until_quiet(simulator, 180)
        everything = simulator.ground_truth()  # the agents' and called-back customers' legs
    finally:
        simulator.stop()

    assert truth["server_error_count"] == 0, truth["non_2xx"][:5]
    assert truth["non_2xx_count"] == 0, truth["non_2xx"][:5]
    callers = [c for c in truth["calls"] if c["role"] == "caller"]
    assert len(callers) == CALLS
    ours = {
        c.call_sid: c for c in Call.objects.filter(call_sid__in=[c["call_sid"] for c in callers])
    }
    mismatches = []
    for record in callers:
        call = ours.get(record["call_sid"])
        if call is None:
            mismatches.append((record["call_sid"], record["outcome"], "missing"))
            continue
        assert call.stage == CallStage.ENDED and call.status in ("completed", "canceled", "failed")
        expected = EXPECTED.get(record["outcome"], {record["outcome"]})
        if record["outcome"] == "completed" and "leave" in record["queue_results"]:
            expected = LEFT_AT_MAX_WAIT
        if {"abandoned", "callback-requested"} <= set(record["happenings"]):
            # The caller pressed for a callback and hung up at once: either may win the race.
            expected = expected | {"callback", "abandoned", "short_abandoned"}
        if record["outcome"] == "completed" and "redirected" in record["queue_results"]:
            expected = {"failed"}  # bridged for an agent who had gone: counted as our failure
        if call.outcome not in expected:
            mismatches.append(
                (
                    record["outcome"],
                    call.outcome,
                    record["happenings"],
                    record["queue_results"],
                    call.queue_result,
                    call.answered_at is not None,
                )
            )
        if record["outcome"] == "answered":
            assert call.agent.softphone_identity == record["agent_identity"]
    assert not mismatches, mismatches[:10]

    outcomes = {c["outcome"] for c in callers}
    assert {"answered", "abandoned"} <= outcomes  # the mix the acceptance asks for
    assert Voicemail.objects.exists() and CallbackRequest.objects.exists()
    legs = [c for c in everything["calls"] if c["role"] == "agent"]
    assert any(leg["status"] in ("no-answer", "busy") for leg in legs)  # misses and rejects
    assert Reservation.objects.count() == len(legs)  # every ring was a reservation
    assert not Reservation.objects.filter(status__in=["offered", "accepted"]).exists()
    for agent in Agent.objects.all():  # nobody stays reserved
        assert agent.active_calls == 0 and agent.activity in ("idle", "wrap_up"), agent
    # An operation may fail only because its call was already over (a customer who hung up
    # while their agent answered cannot be bridged any more).
    for operation in Operation.objects.filter(status=OperationStatus.FAILED).exclude(call_sid=""):
        call = Call.objects.get(call_sid=operation.call_sid)
        assert call.ended_at is not None, (operation.kind, operation.error)
        assert "not in-progress" in operation.error or "21220" in operation.error, operation.error

    # Callers who asked to be called back were: their agent on the line first, then the
    # customer dialed into a conference with that agent.
    assert set(CallbackRequest.objects.values_list("status", flat=True)) <= {
        "done",
        "waiting",
        "failed",
    }
    done = CallbackRequest.objects.filter(status="done").select_related("dialed_call")
    assert done.exists()
    for request in done:
        dialed = request.dialed_call
        assert dialed.to_number == request.number and dialed.answered_at is not None
        assert dialed.agent_id == request.agent_id and dialed.conference_sid
        agent_leg = Call.objects.filter(parent=request.call, agent=request.agent).latest("id")
        assert agent_leg.answered_at <= dialed.created_at
