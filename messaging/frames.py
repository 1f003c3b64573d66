"""The JSON shapes of messaging objects: one representation for REST answers and realtime
frames, so a client treats a message from either the same way."""

from django.urls import reverse

from callcenter.people import person_data

from .models import Attachment, CallInvitation, Message


def user_data(user) -> dict:
    return {**person_data(user), "username": user.username}


def attachment_data(attachment: Attachment) -> dict:
    return {
        "id": attachment.pk,
        "name": attachment.name,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "url": reverse("messaging-attachment", args=[attachment.pk]),
    }


def message_data(message: Message, *, attachments=None, ping: dict | None = None) -> dict:
    """`message.sender` must be loaded (select_related or set); attachments prefetched or given.
    A deleted message keeps its place but shows no body and no files."""
    deleted = message.deleted_at is not None
    if attachments is None:
        attachments = list(message.attachments.all())
    return {
        "id": message.pk,
        "conversation": message.conversation_id,
        "sender": user_data(message.sender),
        "client_id": str(message.client_id),
        "kind": message.kind,
        "body": "" if deleted else message.body,
        "created_at": message.created_at,
        "edited_at": message.edited_at,
        "deleted": deleted,
        "attachments": [] if deleted else [attachment_data(a) for a in attachments],
        "ping": ping,
    }


def invitation_data(invitation: CallInvitation) -> dict:
    """`caller` and `receiver` must be loaded."""
    return {
        "id": invitation.pk,
        "caller": user_data(invitation.caller),
        "receiver": user_data(invitation.receiver),
        "call": invitation.call_id,
        "status": invitation.status,
        "note": invitation.note,
        "created_at": invitation.created_at,
        "expires_at": invitation.expires_at,
        "responded_at": invitation.responded_at,
    }
