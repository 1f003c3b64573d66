"""Enumerations of the core domain (Twilio's words where Twilio has them)."""

from django.db import models


class AgentStatus(models.TextChoices):
    """What the agent chose (or a supervisor, or presence, chose for them)."""

    OFFLINE = "offline"
    AVAILABLE = "available"
    AWAY = "away"


class AgentActivity(models.TextChoices):
    """What the system is doing with the agent; independent of the chosen status."""

    IDLE = "idle"
    OFFERED = "offered"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"


class RoutingStrategy(models.TextChoices):
    LONGEST_IDLE = "longest_idle"
    ROUND_ROBIN = "round_robin"
    FEWEST_CALLS = "fewest_calls"
    LEAST_TALK_TIME = "least_talk_time"
    RANDOM = "random"


class MaxWaitAction(models.TextChoices):
    """What happens to a caller when the queue is closed, full, or the wait is too long."""

    VOICEMAIL = "voicemail"
    CALLBACK = "callback"
    OVERFLOW = "overflow"


class EscalationAction(models.TextChoices):
    """What an escalation step does to a caller who has waited long enough."""

    RAISE_PRIORITY = "raise_priority", "Raise the priority to at least N"
    MOVE_TO_QUEUE = "move_to_queue", "Move to another queue"
    WIDEN_TIER = "widen_tier", "Widen to the next tier"


class CallStatus(models.TextChoices):
    """Twilio's words for a call's status."""

    QUEUED = "queued"
    INITIATED = "initiated"
    RINGING = "ringing"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    BUSY = "busy"
    FAILED = "failed"
    NO_ANSWER = "no-answer"
    CANCELED = "canceled"


class CallDirection(models.TextChoices):
    """Twilio's words for a call's direction."""

    INBOUND = "inbound"
    OUTBOUND_API = "outbound-api"
    OUTBOUND_DIAL = "outbound-dial"


class CallStage(models.TextChoices):
    """Where the call is in our flow (Twilio's status says where it is on the network)."""

    NEW = "new"
    MENU = "menu"
    WAITING = "waiting"
    OFFERED = "offered"
    CONNECTED = "connected"
    VOICEMAIL = "voicemail"
    ENDED = "ended"


class CallOutcome(models.TextChoices):
    ANSWERED = "answered"
    ABANDONED = "abandoned"
    SHORT_ABANDONED = "short_abandoned"
    VOICEMAIL = "voicemail"
    CALLBACK = "callback"
    OVERFLOWED = "overflowed"
    FAILED = "failed"


TERMINAL_STATUSES = (
    CallStatus.COMPLETED,
    CallStatus.BUSY,
    CallStatus.FAILED,
    CallStatus.NO_ANSWER,
    CallStatus.CANCELED,
)


class QueueExit(models.TextChoices):
    """Why a caller is leaving a queue without an agent, decided before Twilio's <Leave>."""

    NONE = ""
    VOICEMAIL = "voicemail"
    CALLBACK = "callback"
    OVERFLOW = "overflow"


class WorkStatus(models.TextChoices):
    """Lifecycle of a voicemail or a callback request as work for agents."""

    WAITING = "waiting"
    OFFERED = "offered"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    FAILED = "failed"
    CANCELED = "canceled"


class StatusEventSource(models.TextChoices):
    AGENT = "agent"
    SYSTEM = "system"
    SUPERVISOR = "supervisor"
