"""The write path of messaging: every change passes through here and publishes after commit."""

from .chat import (
    MessageSent,
    conversation_create_group,
    conversation_mark_read,
    conversation_start_direct,
    conversation_typing,
    message_delete,
    message_edit,
    message_send,
)
from .invitations import (
    invitation_create,
    invitation_respond,
    invitations_cleanup,
    invitations_expire,
)
from .pings import PingOutcome, ping_send, pings_send_batch

__all__ = [
    "MessageSent",
    "PingOutcome",
    "conversation_create_group",
    "conversation_mark_read",
    "conversation_start_direct",
    "conversation_typing",
    "invitation_create",
    "invitation_respond",
    "invitations_cleanup",
    "invitations_expire",
    "message_delete",
    "message_edit",
    "message_send",
    "ping_send",
    "pings_send_batch",
]
