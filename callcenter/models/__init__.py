"""The core call-center domain. Writes go through callcenter.services only."""

from callcenter.choices import (
    AgentActivity,
    AgentStatus,
    CallDirection,
    CallOutcome,
    CallStage,
    CallStatus,
    RoutingStrategy,
    StatusEventSource,
)

from .agents import Agent
from .calls import Call
from .events import AgentStatusEvent, CallEvent, PendingCallEvent
from .queues import Menu, MenuOption, PhoneNumber, Queue, QueueMembership
from .work import CallbackRequest, Voicemail

__all__ = [
    "Agent",
    "AgentActivity",
    "AgentStatus",
    "AgentStatusEvent",
    "Call",
    "CallDirection",
    "CallEvent",
    "CallOutcome",
    "CallStage",
    "CallStatus",
    "CallbackRequest",
    "Menu",
    "MenuOption",
    "PendingCallEvent",
    "PhoneNumber",
    "Queue",
    "QueueMembership",
    "RoutingStrategy",
    "StatusEventSource",
    "Voicemail",
]
