"""REST API of messaging (DESIGN.md §5): conversations and their messages, pings, call
invitations. Thin: read through selectors, write through services. A conversation, its
messages and its files are 404 to anyone but its participants."""

from .chat import (
    AttachmentView,
    ConversationDetailView,
    ConversationListView,
    MarkReadView,
    MessageDetailView,
    MessageListView,
    TypingView,
)
from .invitations import (
    InvitationListView,
    InvitationRespondView,
    PendingInvitationsView,
)
from .pings import PingBatchView, PingListView, PingStatsView

__all__ = [
    "AttachmentView",
    "ConversationDetailView",
    "ConversationListView",
    "InvitationListView",
    "InvitationRespondView",
    "MarkReadView",
    "MessageDetailView",
    "MessageListView",
    "PendingInvitationsView",
    "PingBatchView",
    "PingListView",
    "PingStatsView",
    "TypingView",
]
