"""Serve the whole system from one process: HTTP and WebSockets (ASGI, uvicorn); in the
embedded run also the periodic Celery schedule and, unless SIMULATE=0, the Twilio simulator
with gentle demo traffic."""

import random

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand

from callcenter.celery import app as celery_app
from callcenter.choices import AgentStatus, StatusEventSource
from callcenter.models import Agent, PhoneNumber
from callcenter.scheduler import EmbeddedScheduler
from callcenter.services import agent_set_status

DEMO_CALLS_PER_MINUTE = 2.0


class Command(BaseCommand):
    help = "Run the ASGI server (and the in-process scheduler and simulator when embedded)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, host: str, port: int, **options):
        scheduler = simulator = None
        if settings.CELERY_TASK_ALWAYS_EAGER:
            scheduler = EmbeddedScheduler(celery_app)
            scheduler.start()
        if settings.TELEPHONY_MODE == "simulated":
            simulator = self._start_simulator()
        shown = "localhost" if host in ("0.0.0.0", "127.0.0.1") else host  # noqa: S104
        self.stdout.write(f"Switchboard is running at http://{shown}:{port}/  (Ctrl+C stops it)")
        try:
            uvicorn.run(
                "callcenter.asgi:application",
                host=host,
                port=port,
                log_config=None,
                lifespan="off",
                ws="auto",
                # Frames are small JSON: compression saves little and costs ~35 KB of zlib
                # state per socket (bench/results: 72 vs 37 KB per idle connection).
                ws_per_message_deflate=False,
                # A channels-redis receive can ignore its cancellation: don't wait forever.
                timeout_graceful_shutdown=5,
            )
        finally:
            if simulator:
                simulator.stop()
            if scheduler:
                scheduler.stop()

    def _start_simulator(self):
        """The local Twilio: its REST API for the gateway, and callers unless SIMULATE=0."""
        from telephony.simulator.from_settings import config_from_settings
        from telephony.simulator.thread import SimulatorThread

        number = PhoneNumber.objects.order_by("pk").values_list("e164", flat=True).first()
        if number is None:
            self.stdout.write("No phone number configured: the Twilio simulator is not started.")
            return None
        simulator = SimulatorThread(
            config_from_settings(number=number, seed=random.randrange(1 << 30))
        )
        rest = simulator.start()
        self.stdout.write(f"Twilio simulator: REST API at {rest}, calling {number}")
        if settings.SIMULATE:
            self._agents_on_simulated_softphones()
            simulator.start_traffic(calls_per_minute=DEMO_CALLS_PER_MINUTE)
            self.stdout.write(
                f"  simulated callers: {DEMO_CALLS_PER_MINUTE:g} a minute (SIMULATE=0 stops them)"
            )
        return simulator

    def _agents_on_simulated_softphones(self) -> None:
        """The demo's agents answer on simulated softphones: sign them in so calls get answered
        (a person signing in as one of them takes over their status)."""
        offline = Agent.objects.filter(status=AgentStatus.OFFLINE).values_list("pk", flat=True)
        for agent_id in offline:
            agent_set_status(
                agent_id=agent_id, status=AgentStatus.AVAILABLE, source=StatusEventSource.SYSTEM
            )
        if offline:
            self.stdout.write(f"  {len(offline)} demo agents available on simulated softphones")
