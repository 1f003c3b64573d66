"""The statements a message is stored with, shared by sends and pings: the pair's direct
conversation (get or create, race-safe) and the idempotent insert that also moves every seat's
latest message and answers pending pings (one statement on PostgreSQL)."""

import uuid
from collections.abc import Sequence

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from messaging.models import (
    Conversation,
    ConversationKind,
    Message,
    Participant,
    Ping,
    direct_key,
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


_STORE_SQL = """
WITH m AS (
  INSERT INTO messaging_message (conversation_id, sender_id, client_id, kind, body, created_at)
  VALUES (%(conv)s, %(sender)s, %(client)s, %(kind)s, %(body)s, %(now)s)
  ON CONFLICT (sender_id, client_id) DO NOTHING
  RETURNING id, created_at
), seats AS (
  UPDATE messaging_participant AS p SET last_message_id = m.id, last_activity_at = m.created_at
  FROM m WHERE p.conversation_id = %(conv)s
    -- Rechecked after waiting for a concurrent send's row lock: the latest never moves back.
    AND (p.last_message_id IS NULL OR p.last_message_id < m.id)
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
    Participant.objects.filter(conversation_id=conversation_id).filter(
        Q(last_message_id__isnull=True) | Q(last_message_id__lt=message_id)
    ).update(last_message_id=message_id, last_activity_at=now)
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


def queue_ping_stats(user_ids: Sequence[int], day) -> None:
    from messaging.tasks import ping_stats_refresh_task

    ids = sorted(set(user_ids))
    transaction.on_commit(lambda: ping_stats_refresh_task.delay(day.isoformat(), ids))
