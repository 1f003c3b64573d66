"""The write path of the core domain (DESIGN.md §6): every change of state passes through here."""

from .agents import (
    STATUS_TRANSITIONS,
    StatusChange,
    agent_set_status,
    agents_reset_daily_counters,
    callcenter_today,
)
from .calls import (
    CLIENT_PREFIX,
    STATUS_RANK,
    TwilioEvent,
    agent_participant_label,
    call_apply_conference_event,
    call_apply_status,
    call_enqueue,
    call_enter_menu,
    call_event_record,
    call_left_queue,
    call_request_callback,
    call_request_queue_exit,
    call_send_to_voicemail,
    call_start_inbound,
    call_store_recording,
)

__all__ = [
    "CLIENT_PREFIX",
    "STATUS_RANK",
    "STATUS_TRANSITIONS",
    "StatusChange",
    "TwilioEvent",
    "agent_participant_label",
    "agent_set_status",
    "agents_reset_daily_counters",
    "call_apply_conference_event",
    "call_apply_status",
    "call_enqueue",
    "call_enter_menu",
    "call_event_record",
    "call_left_queue",
    "call_request_callback",
    "call_request_queue_exit",
    "call_send_to_voicemail",
    "call_start_inbound",
    "call_store_recording",
    "callcenter_today",
]
