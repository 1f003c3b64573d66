"""A local Twilio: serves the REST API subset our gateway uses, runs the TwiML our webhooks
return, plays callers, agents' softphones and customers, and records the ground truth.

Next to a live Django server (the embedded run, or pytest's `live_server`)::

    config = config_from_settings(number="+15005550006", rest_port=0, speed=20, seed=1)
    simulator = SimulatorThread(config)
    settings.TWILIO_API_BASE_URL = simulator.start()  # where the gateway finds the REST API
    truth = simulator.run_traffic(calls=100, calls_per_minute=30, timeout=300)
    simulator.stop()

`config_from_settings` lives in `telephony.simulator.from_settings` (it imports Django's
settings); everything else here runs without Django. In async code use `Simulator` directly:
`async with Simulator(config) as sim: await sim.run_traffic(10, 6)`.
"""

from telephony.simulator.config import (
    DEFAULT_ACCOUNT_SID,
    AgentBehaviour,
    CallerBehaviour,
    ChaosConfig,
    CustomerBehaviour,
    FaultConfig,
    MediaTiming,
    NumberConfig,
    SimulatorConfig,
)
from telephony.simulator.parties import AgentPhone, Caller, CustomerPhone, RecordInput
from telephony.simulator.simulator import Simulator
from telephony.simulator.thread import SimulatorThread

__all__ = [
    "DEFAULT_ACCOUNT_SID",
    "AgentBehaviour",
    "AgentPhone",
    "Caller",
    "CallerBehaviour",
    "ChaosConfig",
    "CustomerBehaviour",
    "CustomerPhone",
    "FaultConfig",
    "MediaTiming",
    "NumberConfig",
    "RecordInput",
    "Simulator",
    "SimulatorConfig",
    "SimulatorThread",
]
