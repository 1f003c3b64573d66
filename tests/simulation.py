"""The Twilio simulator for tests that run calls against a live server of ours."""

from collections.abc import Iterator
from contextlib import contextmanager

from telephony.simulator.from_settings import config_from_settings
from telephony.simulator.thread import SimulatorThread

DEMO_NUMBER = "+15005550006"  # seed_demo's main line


@contextmanager
def simulated_twilio(settings, server_url: str, **config) -> Iterator[SimulatorThread]:
    """The simulator sending signed webhooks to `server_url`, and our gateway pointed at its
    REST API, for the duration of the block (`settings` is pytest-django's fixture)."""
    settings.TWILIO_WEBHOOK_BASE_URL = server_url
    settings.TWILIO_AUTH_TOKEN = "simulated-twilio-token"
    simulator = SimulatorThread(
        config_from_settings(number=DEMO_NUMBER, base_url=server_url, rest_port=0, **config)
    )
    settings.TWILIO_API_BASE_URL = simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()
