"""Messaging under /api/v1/ (included by callcenter.urls)."""

from django.urls import path

from . import apis

urlpatterns = [
    path("conversations/", apis.ConversationListView.as_view(), name="messaging-conversations"),
    path(
        "conversations/<int:conversation_id>/",
        apis.ConversationDetailView.as_view(),
        name="messaging-conversation",
    ),
    path(
        "conversations/<int:conversation_id>/messages/",
        apis.MessageListView.as_view(),
        name="messaging-messages",
    ),
    path(
        "conversations/<int:conversation_id>/messages/<int:message_id>/",
        apis.MessageDetailView.as_view(),
        name="messaging-message",
    ),
    path(
        "conversations/<int:conversation_id>/read/",
        apis.MarkReadView.as_view(),
        name="messaging-read",
    ),
    path(
        "conversations/<int:conversation_id>/typing/",
        apis.TypingView.as_view(),
        name="messaging-typing",
    ),
    path(
        "attachments/<int:attachment_id>/",
        apis.AttachmentView.as_view(),
        name="messaging-attachment",
    ),
    path("pings/", apis.PingListView.as_view(), name="messaging-pings"),
    path("pings/batch/", apis.PingBatchView.as_view(), name="messaging-pings-batch"),
    path("pings/stats/", apis.PingStatsView.as_view(), name="messaging-ping-stats"),
    path("invitations/", apis.InvitationListView.as_view(), name="messaging-invitations"),
    path(
        "invitations/pending/",
        apis.PendingInvitationsView.as_view(),
        name="messaging-invitations-pending",
    ),
    *[
        path(
            f"invitations/<int:invitation_id>/{action}/",
            apis.InvitationRespondView.as_view(action=action),
            name=f"messaging-invitation-{action}",
        )
        for action in ("accept", "decline", "cancel")
    ],
]
