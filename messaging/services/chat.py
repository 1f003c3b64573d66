"""Conversations and messages: start, send (idempotent on the client's id), edit, delete, read
pointers and typing. Logged events: `message.created`, `message.updated`, `conversation.read`,
`conversation.created`; typing goes out unlogged (`typing`) and expires on the receiver."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.db import connection, transaction
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
    Ping,
    attachment_path,
    direct_key,
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


def direct_conversation_id(user_id: int, other_id: int, *, now=None) -> tuple[int, bool]:
    """The pair's direct conversation, created with both seats if missing; (id, created).
    The unique `direct_key` settles a race: the loser waits for the winner and reads its row."""
    key = direct_key(user_id, other_id)
    found = Conversation.objects.filter(direct_key=key).values_list("pk", flat=True).first()
    if found is not None:
        return found, False
    return create_direct_conversation(user_id, other_id, now or timezone.now())


def create_direct_conversation(user_id: int, other_id: int, now) -> tuple[int, bool]:
    """Insert the pair's direct conversation and both seats; when a concurrent transaction
    inserted it first, wait for it and return its id (created False)."""
    key = direct_key(user_id, other_id)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO messaging_conversation (kind, title, direct_key, created_by_id, "
            "created_at) VALUES (%s, '', %s, %s, %s) ON CONFLICT (direct_key) DO NOTHING "
            "RETURNING id",
            [
                ConversationKind.DIRECT,
                key,
                user_id,
                Conversation._meta.get_field("created_at").get_db_prep_value(now, connection),
            ],
        )
        row = cursor.fetchone()
    if row is None:  # another transaction created it first (and has committed)
        return Conversation.objects.values_list("pk", flat=True).get(direct_key=key), False
    Participant.objects.bulk_create(
        [
            Participant(conversation_id=row[0], user_id=uid, joined_at=now, last_activity_at=now)
            for uid in sorted({user_id, other_id})
        ],
        ignore_conflicts=True,
    )
    return row[0], True


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


_STORE_SQL = """
WITH m AS (
  INSERT INTO messaging_message (conversation_id, sender_id, client_id, kind, body, created_at)
  VALUES (%(conv)s, %(sender)s, %(client)s, %(kind)s, %(body)s, %(now)s)
  ON CONFLICT (sender_id, client_id) DO NOTHING
  RETURNING id, created_at
), seats AS (
  UPDATE messaging_participant AS p SET last_message_id = m.id, last_activity_at = m.created_at
  FROM m WHERE p.conversation_id = %(conv)s
), answered AS (
  UPDATE messaging_ping AS g SET responded_at = m.created_at,
    response_seconds = GREATEST(0, EXTRACT(EPOCH FROM (m.created_at - g.created_at)))
  FROM m
  WHERE g.conversation_id = %(conv)s AND g.receiver_id = %(sender)s AND g.responded_at IS NULL
  RETURNING g.sender_id
), pinged AS (
  INSERT INTO messaging_ping (sender_id, receiver_id, conversation_id, message_id, call_id,
                              queue_id, created_at)
  SELECT %(sender)s, %(receiver)s, %(conv)s, m.id, %(call)s, %(queue)s, m.created_at
  FROM m WHERE %(is_ping)s
  RETURNING id
)
SELECT m.id, (SELECT id FROM pinged), ARRAY(SELECT sender_id FROM answered) FROM m
"""


def store_message(
    *,
    conversation_id: int,
    sender_id: int,
    client_id: uuid.UUID,
    body: str,
    kind: str,
    now,
    ping: dict | None = None,
) -> tuple[int, int | None, tuple[int, ...]] | None:
    """Insert the message unless this sender already sent `client_id`; make it every seat's
    latest; answer the sender's unanswered pings in the conversation; record `ping`
    (receiver, call, queue) for it. One statement on PostgreSQL. Returns (message id, ping id,
    senders of the pings answered), or None for a duplicate."""
    prep = connection.ops.adapt_datetimefield_value
    client = Message._meta.get_field("client_id").get_db_prep_value(client_id, connection)
    if connection.vendor == "postgresql":
        params = {
            "conv": conversation_id,
            "sender": sender_id,
            "client": client,
            "kind": kind,
            "body": body,
            "now": now,
            "is_ping": ping is not None,
            "receiver": (ping or {}).get("receiver"),
            "call": (ping or {}).get("call"),
            "queue": (ping or {}).get("queue"),
        }
        with connection.cursor() as cursor:
            cursor.execute(_STORE_SQL, params)
            row = cursor.fetchone()
        return None if row is None else (row[0], row[1], tuple(row[2]))
    with connection.cursor() as cursor:  # SQLite (the embedded run): the same, step by step
        cursor.execute(
            "INSERT INTO messaging_message (conversation_id, sender_id, client_id, kind, body, "
            "created_at) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (sender_id, client_id) "
            "DO NOTHING RETURNING id",
            [conversation_id, sender_id, client, kind, body, prep(now)],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    message_id = row[0]
    Participant.objects.filter(conversation_id=conversation_id).update(
        last_message_id=message_id, last_activity_at=now
    )
    answered = []
    for open_ping in Ping.objects.filter(
        conversation_id=conversation_id, receiver_id=sender_id, responded_at__isnull=True
    ):
        open_ping.responded_at = now
        open_ping.response_seconds = max(0.0, (now - open_ping.created_at).total_seconds())
        open_ping.save(update_fields=["responded_at", "response_seconds"])
        answered.append(open_ping.sender_id)
    ping_id = None
    if ping is not None:
        ping_id = Ping.objects.create(
            sender_id=sender_id,
            receiver_id=ping["receiver"],
            conversation_id=conversation_id,
            message_id=message_id,
            call_id=ping.get("call"),
            queue_id=ping.get("queue"),
            created_at=now,
        ).pk
    return message_id, ping_id, tuple(answered)


def _queue_ping_stats(user_ids: Sequence[int], day) -> None:
    from messaging.tasks import ping_stats_refresh_task

    ids = sorted(set(user_ids))
    transaction.on_commit(lambda: ping_stats_refresh_task.delay(day.isoformat(), ids))


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
        _queue_ping_stats([*answered, sender.pk], now.date())
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
