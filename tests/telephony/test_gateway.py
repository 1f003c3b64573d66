"""The gateway's operations against the simulated Twilio REST API (the real SDK client):
retried on 5xx, 429 and timeouts, failed for good on other 4xx, never twice for one key,
never inside a database transaction."""

import pytest
from django.db import transaction

from telephony.client import twilio_client
from telephony.models import Operation, OperationKind, OperationStatus
from telephony.services import operation_request
from telephony.simulator.config import AgentBehaviour, FaultConfig, SimulatorConfig
from telephony.simulator.thread import SimulatorThread
from telephony.tasks import backoff_seconds, telephony_operation_task

pytestmark = pytest.mark.django_db(transaction=True)
IDENTITY = "agent_gatewaytest"


@pytest.fixture
def twilio(settings):
    def start(*plan: str, stall: float = 3.0) -> SimulatorThread:
        config = SimulatorConfig(
            auth_token=settings.TWILIO_AUTH_TOKEN,
            account_sid=settings.TWILIO_ACCOUNT_SID,
            api_keys={settings.TWILIO_API_KEY: settings.TWILIO_API_SECRET},
            webhook_base_url="http://127.0.0.1:9",  # nobody answers the legs' TwiML here
            agents=AgentBehaviour(identities=()),
            faults=FaultConfig(plan=plan, stall_seconds=stall),
        )
        simulator = SimulatorThread(config)
        settings.TWILIO_API_BASE_URL = simulator.start()
        started.append(simulator)
        return simulator

    started: list[SimulatorThread] = []
    settings.TWILIO_HTTP_TIMEOUT_SECONDS = 1.0
    yield start
    for simulator in started:
        simulator.stop()


def dial(key: str = "dial:1") -> Operation:
    with transaction.atomic():  # like a service: the task runs when this commits
        return operation_request(
            kind=OperationKind.DIAL_AGENT,
            key=key,
            call_sid="CA" + "1" * 32,
            params={"customer_call_sid": "CA" + "1" * 32, "identity": IDENTITY, "ring_timeout": 5},
        )


def legs_to_agent() -> list:
    return list(twilio_client().calls.list(to=f"client:{IDENTITY}"))


@pytest.mark.parametrize("fault", ["500", "503", "429"])
def test_transient_errors_are_retried_until_twilio_answers(twilio, fault):
    twilio(fault, fault)
    operation = dial()
    operation.refresh_from_db()
    assert operation.status == OperationStatus.SUCCEEDED
    assert operation.attempts == 3
    assert operation.result_sid.startswith("CA")
    assert [leg.sid for leg in legs_to_agent()] == [operation.result_sid]


def test_a_timeout_is_retried(twilio):
    twilio("stall")
    operation = dial()
    operation.refresh_from_db()
    assert operation.status == OperationStatus.SUCCEEDED and operation.attempts == 2
    assert len(legs_to_agent()) == 1


def test_an_ambiguous_create_is_not_dialed_twice(twilio):
    """An attempt that reached Twilio but lost its answer: the retry finds the leg."""
    twilio()
    earlier = twilio_client().calls.create(
        to=f"client:{IDENTITY}", from_="+15005550006", url="http://127.0.0.1:9/join"
    )
    with transaction.atomic():
        operation = Operation.objects.create(
            kind=OperationKind.DIAL_AGENT,
            key="dial:lost",
            status=OperationStatus.RUNNING,
            error="ReadTimeout: lost",
            attempts=1,
            params={"customer_call_sid": "CA1", "identity": IDENTITY, "ring_timeout": 5},
        )
    telephony_operation_task.delay(operation.pk)
    operation.refresh_from_db()
    assert (operation.status, operation.result_sid) == (OperationStatus.SUCCEEDED, earlier.sid)
    assert len(legs_to_agent()) == 1


def test_same_key_reaches_twilio_once(twilio):
    twilio()
    first, again = dial("dial:same"), dial("dial:same")
    assert first.pk == again.pk
    assert len(legs_to_agent()) == 1


def test_other_client_errors_fail_for_good(twilio, caplog):
    twilio()
    with transaction.atomic():
        operation = operation_request(
            kind=OperationKind.HANGUP,
            key="hangup:unknown",
            call_sid="CA" + "f" * 32,
            params={"call_sid": "CA" + "f" * 32},
        )
    operation.refresh_from_db()
    assert operation.status == OperationStatus.FAILED and operation.attempts == 1
    assert "404" in operation.error or "not found" in operation.error.lower()
    assert [r.levelname for r in caplog.records if "failed for good" in r.message] == ["ERROR"]


def test_twilio_is_never_called_inside_a_transaction(twilio):
    twilio()
    with transaction.atomic():
        operation = Operation.objects.create(
            kind=OperationKind.HANGUP, key="in-tx", params={"call_sid": "CA" + "e" * 32}
        )
        with pytest.raises(RuntimeError, match="transaction"):
            telephony_operation_task.apply(args=[operation.pk], throw=True)


def test_backoff_grows_and_is_capped():
    assert [backoff_seconds(n) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert backoff_seconds(20) == 30.0


def on_an_ended_call(kind: str, key: str, **params) -> Operation:
    """Run the operation `kind` on a call Twilio has already ended; the operation after."""
    call = twilio_client().calls.create(
        to="+15551230000", from_="+15005550006", url="http://127.0.0.1:9/twiml"
    )
    twilio_client().calls(call.sid).update(status="completed")
    with transaction.atomic():
        operation = operation_request(
            kind=kind, key=key, call_sid=call.sid, params={"call_sid": call.sid, **params}
        )
    operation.refresh_from_db()
    return operation


def test_hanging_up_an_ended_call_is_already_done(twilio):
    twilio()
    operation = on_an_ended_call(OperationKind.HANGUP, "hangup:again")
    assert operation.status == OperationStatus.SUCCEEDED
    assert operation.error.startswith("already done")


def test_moving_a_caller_who_hung_up_fails_quietly(twilio, caplog):
    """The caller hung up as we redirected them: not done, but no error to page anyone for."""
    twilio()
    operation = on_an_ended_call(
        OperationKind.REDIRECT, "redirect:gone", url="http://127.0.0.1:9/elsewhere"
    )
    assert operation.status == OperationStatus.FAILED and operation.attempts == 1
    assert "21220" in operation.error or "not in-progress" in operation.error
    telephony = [r for r in caplog.records if r.name == "telephony.tasks"]
    assert [(r.levelname, "the call was over" in r.message) for r in telephony] == [
        ("WARNING", True)
    ]
