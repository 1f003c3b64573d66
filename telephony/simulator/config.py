"""What the simulator plays: the Twilio account, our numbers' webhooks, the simulated parties."""

from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_ACCOUNT_SID = "AC" + "0" * 32
VOICE_PATH = "/webhooks/twilio/voice/incoming/"
STATUS_PATH = "/webhooks/twilio/voice/status/"


@dataclass(frozen=True)
class NumberConfig:
    """One of our numbers as configured in the (simulated) Twilio console.

    Paths are joined to `SimulatorConfig.webhook_base_url` and may carry Twilio's connection
    overrides as a fragment (`#rc=3&rp=all`).
    """

    e164: str
    voice_path: str = VOICE_PATH
    voice_method: str = "POST"
    status_path: str = STATUS_PATH
    # Twilio sends only `completed` to a number's status callback; more can be asked for here.
    status_events: tuple[str, ...] = ("completed",)


@dataclass(frozen=True)
class CallerBehaviour:
    """People calling our numbers."""

    patience_mean_seconds: float = 90.0
    menu_digits: tuple[str, ...] = ("1", "2")
    menu_valid_probability: float = 0.85
    menu_invalid_probability: float = 0.05
    invalid_digit: str = "9"
    menu_hangup_probability: float = 0.05
    callback_key: str = "1"
    callback_probability: float = 0.1
    voicemail_seconds: tuple[float, float] = (4.0, 40.0)
    voicemail_hangup_probability: float = 0.6
    talk_median_seconds: float = 150.0
    reaction_seconds: tuple[float, float] = (0.5, 2.5)


@dataclass(frozen=True)
class AgentBehaviour:
    """Agents' softphones (`client:<identity>`)."""

    # None: every identity has a registered softphone; otherwise only these do.
    identities: tuple[str, ...] | None = None
    answer_delay_median_seconds: float = 2.0
    miss_probability: float = 0.08
    reject_probability: float = 0.03
    # The rest keep talking until the other side hangs up.
    hang_up_probability: float = 0.8
    talk_median_seconds: float = 120.0
    # How long an agent stays alone in a conference before giving up.
    alone_patience_seconds: float = 60.0


@dataclass(frozen=True)
class CustomerBehaviour:
    """Numbers we dial out to (`+E164`)."""

    answer_probability: float = 0.7
    # Of those who do not answer, the share that is busy rather than not answering.
    busy_probability: float = 0.3
    answer_delay_median_seconds: float = 6.0
    talk_median_seconds: float = 90.0
    alone_patience_seconds: float = 60.0


@dataclass(frozen=True)
class ChaosConfig:
    """Status, conference and recording callbacks sent twice and/or late, as Twilio may."""

    duplicate_probability: float = 0.0
    delay_probability: float = 0.0
    max_delay_seconds: float = 5.0


@dataclass(frozen=True)
class FaultConfig:
    """REST requests that fail before doing anything, so the gateway's retries can be tested.

    `plan` scripts the first requests in order ("" for no fault); afterwards `rate` of them fail
    with one of `kinds` ("500", "503", "429", "stall"), drawn from a stream seeded by the seed.
    """

    rate: float = 0.0
    kinds: tuple[str, ...] = ("500", "503", "429", "stall")
    plan: tuple[str, ...] = ()
    retry_after_seconds: int = 1
    # Wall-clock seconds a stalled request hangs before answering 504: past the client's timeout.
    stall_seconds: float = 20.0


@dataclass(frozen=True)
class MediaTiming:
    words_per_second: float = 2.5
    play_seconds: float = 8.0
    beep_seconds: float = 1.0
    # Gaps Twilio needs to set a call up (initiated → ringing).
    setup_seconds: float = 1.0


@dataclass(frozen=True)
class SimulatorConfig:
    auth_token: str
    webhook_base_url: str = "http://127.0.0.1:8000"
    numbers: tuple[NumberConfig, ...] = (NumberConfig("+15005550006"),)
    account_sid: str = DEFAULT_ACCOUNT_SID
    # API key SID → secret, accepted as REST credentials besides the account's auth token.
    api_keys: Mapping[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = 0
    seed: int = 0
    speed: float = 1.0
    callers: CallerBehaviour = field(default_factory=CallerBehaviour)
    agents: AgentBehaviour = field(default_factory=AgentBehaviour)
    customers: CustomerBehaviour = field(default_factory=CustomerBehaviour)
    chaos: ChaosConfig = field(default_factory=ChaosConfig)
    faults: FaultConfig = field(default_factory=FaultConfig)
    media: MediaTiming = field(default_factory=MediaTiming)
    # Twilio's documented default MaxSize for a queue that <Enqueue> creates.
    default_queue_max_size: int = 1000

    def __post_init__(self) -> None:
        if not self.auth_token:
            raise ValueError("the simulator signs webhooks with the auth token: it cannot be empty")
        if not self.numbers:
            raise ValueError("the simulator needs at least one number to call")
