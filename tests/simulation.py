"""The Twilio simulator for tests that run calls against a live server of ours."""

import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.db.models import Q
from django.utils import timezone

from callcenter.choices import WorkStatus
from callcenter.models import Agent, Call, CallbackRequest, PendingCallEvent
from routing.models import OPEN_STATUSES, Reservation
from routing.services import routing_run
from telephony.simulator.from_settings import config_from_settings
from telephony.simulator.thread import SimulatorThread

DEMO_NUMBER = "+15005550006"  # seed_demo's main line
# A callback whose customer was not reached is not dialed again while a test runs, so the
# run ends with nothing left to offer (wait_until_settled).
NO_RETRY_IN_A_RUN = 24 * 3600


@contextmanager
def simulated_twilio(settings, server_url: str, **config) -> Iterator[SimulatorThread]:
    """The simulator sending signed webhooks to `server_url`, and our gateway pointed at its
    REST API, for the duration of the block (`settings` is pytest-django's fixture)."""
    settings.TWILIO_WEBHOOK_BASE_URL = server_url
    settings.TWILIO_AUTH_TOKEN = "simulated-twilio-token"
    settings.CALLBACK_RETRY_SECONDS = NO_RETRY_IN_A_RUN
    simulator = SimulatorThread(
        config_from_settings(number=DEMO_NUMBER, base_url=server_url, rest_port=0, **config)
    )
    settings.TWILIO_API_BASE_URL = simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()


def wait_until(predicate, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def still_open() -> list[str]:
    """What the server has not settled yet: calls not ended, offers open, callbacks not
    applied, callback requests being dialed, and ones due while an agent could take them
    (one waiting for its retry is settled)."""
    due = Q(retry_at__isnull=True) | Q(retry_at__lte=timezone.now())
    checks = {
        "calls": Call.objects.filter(ended_at__isnull=True),
        "offers": Reservation.objects.filter(status__in=OPEN_STATUSES),
        "callbacks not applied": PendingCallEvent.objects.all(),
        "callback requests": CallbackRequest.objects.filter(
            status__in=(WorkStatus.OFFERED, WorkStatus.IN_PROGRESS)
        ),
        "callback requests due": CallbackRequest.objects.filter(due, status=WorkStatus.WAITING)
        if Agent.objects.routable().exists()
        else CallbackRequest.objects.none(),
    }
    return [name for name, rows in checks.items() if rows.exists()]


def wait_until_settled(seconds: float) -> None:
    """Once the traffic is over: wait for late callbacks, and for the callbacks agents
    return to callers, to end. Routes again every second meanwhile, as the beat's sweep
    does (work that waited again while every agent was busy); due callback requests nobody
    free may take now are settled."""
    deadline, nudge = time.monotonic() + seconds, 0.0
    while still := still_open():
        assert time.monotonic() < deadline, f"still open after the traffic: {still}; {_open_work()}"
        if time.monotonic() >= nudge:
            offered = routing_run()
            if still == ["callback requests due"] and not offered:
                return  # every free agent missed them lately (routing.claim.WORK_MISS_MEMORY)
            nudge = time.monotonic() + 1
        time.sleep(0.2)


def _open_work() -> list[dict]:
    """The callback requests not settled, with their calls' legs and offers (a failure's
    report)."""
    report = []
    for request in CallbackRequest.objects.exclude(
        status__in=(WorkStatus.DONE, WorkStatus.FAILED, WorkStatus.CANCELED)
    ).select_related("dialed_call"):
        dialed = request.dialed_call
        report.append(
            {
                "id": request.pk,
                "status": request.status,
                "attempts": request.attempts,
                "retry_at": request.retry_at,
                "dialed": dialed and (dialed.status, dialed.answered_at, dialed.ended_at),
                "legs": list(
                    Call.objects.filter(parent_id=request.call_id).values_list(
                        "call_sid", "agent_id", "status", "answered_at", "ended_at"
                    )
                ),
                "offers": list(
                    Reservation.objects.filter(call_id=request.call_id).values_list(
                        "agent_id", "status", "offered_at", "ended_at"
                    )
                ),
            }
        )
    return report


def wait_until_quiet(simulator: SimulatorThread, seconds: float) -> None:
    """wait_until_settled, until the simulator has nothing left to send either: callbacks
    chaos holds back may still be on their way when the server has nothing open, and one that
    arrives can open work again."""
    deadline = time.monotonic() + seconds
    while True:
        wait_until_settled(max(1.0, deadline - time.monotonic()))
        simulator.wait_idle(timeout=max(1.0, deadline - time.monotonic()))
        if not still_open():
            return
