"""Conversations and messages: start, send (idempotent on the client's id), edit, delete, read
pointers and typing. Logged events: `message.created`, `message.updated`, `conversation.read`,
`conversation.created`; typing goes out unlogged (`typing`) and expires on the receiver."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce, Least
from django.utils import timezone

from callcenter.errors import InvalidInput
from messaging.errors import NotFound
from messaging.frames import message_data, user_data
from messaging.models import (
    Attachment,
    Conversation,
    ConversationKind,
    Message,
    MessageKind,
    Participant,
    attachment_path,
)
from messaging.services.store import (
    direct_conversation_id,
    queue_ping_stats,
    store_message,
)
from realtime.publish import broadcast, publish_to_users, user_group

NOT_FOUND = "No such conversation."


@dataclass(frozen=True)
class MessageSent:
    message: Message
    created: bool  # False: a retry of a send already stored (same sender and client id)
    attachments: tuple[Attachment, ...] = ()
    answered_ping_senders: tuple[int, ...] = ()


def seats_of(conversation_id: int, user_id: int) -> list[int]:
    """The conversation's participants; NotFound unless `user_id` is one of them. One query."""
    seats = list(
        Participant.objects.filter(conversation_id=conversation_id).values_list(
            "user_id", flat=True
        )
    )
    if user_id not in seats:
        raise NotFound(NOT_FOUND)
    return seats


def _active_users(user_ids: Sequence[int]) -> set[int]:
    return set(
        get_user_model()
        .objects.filter(pk__in=user_ids, is_active=True)
        .values_list("pk", flat=True)
    )


def _publish_conversation(conversation: Conversation, user_ids: list[int]) -> None:
    publish_to_users(
        user_ids,
        "conversation.created",
        {"id": conversation.pk, "kind": conversation.kind, "title": conversation.title},
    )


@transaction.atomic
def conversation_start_direct(*, user, other_id: int) -> tuple[Conversation, bool]:
    """Open (or find) the direct conversation of `user` and `other_id`."""
    if other_id == user.pk:
        raise InvalidInput("A direct conversation needs someone else.", code="self")
    if not _active_users([other_id]):
        raise InvalidInput("No such user.", code="unknown_user")
    conversation_id, created = direct_conversation_id(user.pk, other_id)
    conversation = Conversation.objects.get(pk=conversation_id)
    if created:
        _publish_conversation(conversation, [user.pk, other_id])
    return conversation, created


@transaction.atomic
def conversation_create_group(*, creator, title: str, member_ids: Sequence[int]) -> Conversation:
    """A group conversation of `creator` and `member_ids`."""
    members = set(member_ids) - {creator.pk}
    if not members:
        raise InvalidInput("A group needs at least one other member.", code="no_members")
    unknown = members - _active_users(list(members))
    if unknown:
        raise InvalidInput(f"No such users: {sorted(unknown)}.", code="unknown_user")
    now = timezone.now()
    conversation = Conversation.objects.create(
        kind=ConversationKind.GROUP, title=title, created_by=creator, created_at=now
    )
    everyone = sorted(members | {creator.pk})
    Participant.objects.bulk_create(
        Participant(conversation=conversation, user_id=uid, joined_at=now, last_activity_at=now)
        for uid in everyone
    )
    _publish_conversation(conversation, everyone)
    return conversation


def _check_files(files) -> None:
    for upload in files:
        if upload.size > settings.MESSAGING_ATTACHMENT_MAX_BYTES:
            raise InvalidInput(
                f"{upload.name} is larger than {settings.MESSAGING_ATTACHMENT_MAX_BYTES} bytes.",
                code="attachment_too_large",
            )
        if upload.content_type not in settings.MESSAGING_ATTACHMENT_TYPES:
            raise InvalidInput(
                f"{upload.name}: files of type {upload.content_type} are not accepted.",
                code="attachment_type",
            )


@transaction.atomic
def message_send(
    *,
    conversation_id: int,
    sender,
    body: str,
    client_id: uuid.UUID | None = None,
    files: Sequence = (),
) -> MessageSent:
    """Send a message; a retry with the same `client_id` returns the stored one unchanged.
    Three queries on PostgreSQL without files: the seats, the store, the events."""
    body = body.strip()
    if not body and not files:
        raise InvalidInput("A message needs text or a file.", code="empty")
    if len(body) > settings.MESSAGING_MESSAGE_MAX_LENGTH:
        raise InvalidInput(
            f"A message is at most {settings.MESSAGING_MESSAGE_MAX_LENGTH} characters.",
            code="too_long",
        )
    _check_files(files)
    seats = seats_of(conversation_id, sender.pk)
    client_id = client_id or uuid.uuid4()
    now = timezone.now()
    stored = store_message(
        conversation_id=conversation_id,
        sender_id=sender.pk,
        client_id=client_id,
        body=body,
        kind=MessageKind.TEXT,
        now=now,
    )
    if stored is None:
        existing = (
            Message.objects.select_related("sender")
            .prefetch_related("attachments")
            .get(sender=sender, client_id=client_id)
        )
        if existing.conversation_id != conversation_id:
            raise InvalidInput(
                "This client id was used for a message in another conversation.",
                code="client_id_reused",
            )
        return MessageSent(existing, created=False, attachments=tuple(existing.attachments.all()))
    message_id, _, answered = stored
    message = Message(
        pk=message_id,
        conversation_id=conversation_id,
        sender=sender,
        client_id=client_id,
        kind=MessageKind.TEXT,
        body=body,
        created_at=now,
    )
    attachments = []
    if files:
        attachments = Attachment.objects.bulk_create(
            Attachment(
                message=message,
                file=default_storage.save(
                    attachment_path(None, default_storage.get_valid_name(upload.name)), upload
                ),
                name=upload.name[:200],
                content_type=upload.content_type,
                size=upload.size,
            )
            for upload in files
        )
    publish_to_users(seats, "message.created", message_data(message, attachments=attachments))
    if answered:
        queue_ping_stats([*answered, sender.pk], now.date())
    return MessageSent(
        message, created=True, attachments=tuple(attachments), answered_ping_senders=answered
    )


def _locked_own_message(conversation_id: int, message_id: int, user) -> Message:
    message = (
        Message.objects.select_for_update(of=("self",))
        .select_related("sender")
        .filter(
            pk=message_id,
            conversation_id=conversation_id,
            conversation__participants__user=user,
        )
        .first()
    )
    if message is None:
        raise NotFound("No such message.")
    if message.sender_id != user.pk:
        raise InvalidInput("Only the sender can change a message.", code="not_sender")
    return message


def _publish_update(message: Message) -> None:
    seats = list(
        Participant.objects.filter(conversation_id=message.conversation_id).values_list(
            "user_id", flat=True
        )
    )
    publish_to_users(seats, "message.updated", message_data(message))


@transaction.atomic
def message_edit(*, conversation_id: int, message_id: int, user, body: str) -> Message:
    """Replace the text of one's own message (not of a deleted one)."""
    body = body.strip()
    if not body or len(body) > settings.MESSAGING_MESSAGE_MAX_LENGTH:
        raise InvalidInput(
            f"A message is 1..{settings.MESSAGING_MESSAGE_MAX_LENGTH} characters.",
            code="invalid_body",
        )
    message = _locked_own_message(conversation_id, message_id, user)
    if message.deleted_at is not None:
        raise InvalidInput("A deleted message cannot be edited.", code="deleted")
    if message.body == body:
        return message
    message.body, message.edited_at = body, timezone.now()
    message.save(update_fields=["body", "edited_at"])
    _publish_update(message)
    return message


@transaction.atomic
def message_delete(*, conversation_id: int, message_id: int, user) -> Message:
    """Soft-delete one's own message: it stays in place, shown as deleted, without its text."""
    message = _locked_own_message(conversation_id, message_id, user)
    if message.deleted_at is not None:
        return message
    message.deleted_at = timezone.now()
    message.save(update_fields=["deleted_at"])
    _publish_update(message)
    return message


@transaction.atomic
def conversation_mark_read(*, conversation_id: int, user, message_id: int | None = None) -> int:
    """Move the user's read pointer forward (to `message_id`, or to the latest message); never
    back. Tells every participant (read receipts, and the reader's other tabs)."""
    seats = seats_of(conversation_id, user.pk)
    latest = Coalesce(F("last_message_id"), 0)
    target = latest if message_id is None else Least(Value(message_id), latest)
    seat = Participant.objects.filter(conversation_id=conversation_id, user=user)
    moved = seat.filter(last_read_message_id__lt=target).update(last_read_message_id=target)
    pointer = seat.values_list("last_read_message_id", flat=True).get()
    if moved:
        publish_to_users(
            seats,
            "conversation.read",
            {"conversation": conversation_id, "user": user.pk, "last_read_message_id": pointer},
        )
    return pointer


def conversation_typing(*, conversation_id: int, user, typing: bool) -> None:
    """Tell the other participants that `user` started or stopped typing: an unlogged frame
    (never stored) that the receiver drops after `ttl` seconds unless it is refreshed."""
    seats = seats_of(conversation_id, user.pk)
    broadcast(
        [user_group(uid) for uid in seats if uid != user.pk],
        "typing",
        {
            "conversation": conversation_id,
            "user": user_data(user),
            "typing": typing,
            "ttl": settings.MESSAGING_TYPING_TTL_SECONDS,
        },
    )
