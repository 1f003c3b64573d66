"""Pings: a nudge to a colleague, optionally about a call or a queue, within the sender's
daily limit and a cooldown per receiver. One transaction: take the quota, check the cooldown,
get or create the direct conversation, store the ping as a message there, publish, and queue
the analytics refresh on commit. Four queries on PostgreSQL when the pair has a conversation,
six for their first ping."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone

from callcenter.errors import DomainError, InvalidInput
from callcenter.models import Call, Queue
from messaging.errors import PingLimited
from messaging.frames import message_data
from messaging.models import Conversation, Message, MessageKind, Ping, direct_key
from realtime.publish import publish_to_users

from .store import create_direct_conversation, queue_ping_stats, store_message

MAX_BATCH = 50
MAX_NOTE = 500

_QUOTA_SQL = (
    "INSERT INTO messaging_pingquota (user_id, day, sent) VALUES (%s, %s, 1) "
    "ON CONFLICT (user_id) DO UPDATE SET "
    "sent = CASE WHEN messaging_pingquota.day = excluded.day "
    "THEN messaging_pingquota.sent + 1 ELSE 1 END, day = excluded.day "
    "WHERE messaging_pingquota.day <> excluded.day OR messaging_pingquota.sent < %s "
    "RETURNING sent"
)


@dataclass(frozen=True)
class PingOutcome:
    receiver_id: int
    ping_id: int | None = None
    conversation_id: int | None = None
    message: Message | None = None
    error: DomainError | None = None


def _next_day(now: datetime) -> datetime:
    return datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=now.tzinfo)


def _take_quota(sender_id: int, now: datetime) -> None:
    """Count one ping against today's limit, or refuse. The upsert locks the sender's quota
    row until commit, so the sender's pings are checked one after the other."""
    limit = settings.MESSAGING_PING_DAILY_LIMIT
    if limit > 0:
        with connection.cursor() as cursor:
            cursor.execute(
                _QUOTA_SQL, [sender_id, connection.ops.adapt_datefield_value(now.date()), limit]
            )
            if cursor.fetchone() is not None:
                return
    raise PingLimited(
        f"You have sent your {limit} pings for today; the next one tomorrow (UTC).",
        code="daily_limit",
        next_allowed_at=_next_day(now),
    )


def _lookup(sender_id: int, receiver_id: int, call_id, queue_id) -> tuple[int | None, object]:
    """The receiver (active), the pair's conversation and the sender's last ping to them, and
    that the call and queue exist: one query."""
    found = get_user_model().objects.filter(pk=receiver_id, is_active=True)
    found = found.annotate(
        conversation_id=Subquery(
            Conversation.objects.filter(direct_key=direct_key(sender_id, receiver_id)).values("pk")[
                :1
            ]
        ),
        last_ping_at=Subquery(
            # messaging_ping_pair_idx
            Ping.objects.filter(sender_id=sender_id, receiver_id=OuterRef("pk"))
            .order_by("-created_at")
            .values("created_at")[:1]
        ),
    )
    fields = ["conversation_id", "last_ping_at"]
    if call_id is not None:
        found = found.annotate(call_ok=Exists(Call.objects.filter(pk=call_id)))
        fields.append("call_ok")
    if queue_id is not None:
        found = found.annotate(queue_ok=Exists(Queue.objects.filter(pk=queue_id)))
        fields.append("queue_ok")
    row = found.values(*fields).first()
    if row is None:
        raise InvalidInput("No such user.", code="unknown_user")
    if not row.get("call_ok", True):
        raise InvalidInput("No such call.", code="unknown_call")
    if not row.get("queue_ok", True):
        raise InvalidInput("No such queue.", code="unknown_queue")
    return row["conversation_id"], row["last_ping_at"]


def _ping_one(*, sender, receiver_id: int, note: str, call_id, queue_id, now) -> PingOutcome:
    if receiver_id == sender.pk:
        raise InvalidInput("You cannot ping yourself.", code="self")
    _take_quota(sender.pk, now)
    conversation_id, last_ping_at = _lookup(sender.pk, receiver_id, call_id, queue_id)
    cooldown = timedelta(seconds=settings.MESSAGING_PING_COOLDOWN_SECONDS)
    if last_ping_at is not None and now < last_ping_at + cooldown:
        raise PingLimited(
            f"You pinged this person a moment ago; again after "
            f"{last_ping_at + cooldown:%H:%M:%S} UTC.",
            code="cooldown",
            next_allowed_at=last_ping_at + cooldown,
        )
    if conversation_id is None:
        conversation_id, _ = create_direct_conversation(sender.pk, receiver_id, now)
    body = note or "Ping"
    ping = {"receiver": receiver_id, "call": call_id, "queue": queue_id}
    client_id = uuid.uuid4()
    message_id, ping_id, answered = store_message(
        conversation_id=conversation_id,
        sender_id=sender.pk,
        client_id=client_id,
        body=body,
        kind=MessageKind.PING,
        now=now,
        ping=ping,
    )
    message = Message(
        pk=message_id,
        conversation_id=conversation_id,
        sender=sender,
        client_id=client_id,
        kind=MessageKind.PING,
        body=body,
        created_at=now,
    )
    publish_to_users(
        [sender.pk, receiver_id],
        "message.created",
        message_data(message, attachments=[], ping={"id": ping_id, **ping}),
    )
    queue_ping_stats([sender.pk, receiver_id, *answered], now.date())
    return PingOutcome(receiver_id, ping_id, conversation_id, message)


def _clean_note(note: str) -> str:
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise InvalidInput(f"A ping's note is at most {MAX_NOTE} characters.", code="too_long")
    return note


@transaction.atomic
def ping_send(
    *,
    sender,
    receiver_id: int,
    note: str = "",
    call_id: int | None = None,
    queue_id: int | None = None,
) -> PingOutcome:
    """Ping one colleague; PingLimited (429) over the daily limit or inside the cooldown."""
    return _ping_one(
        sender=sender,
        receiver_id=receiver_id,
        note=_clean_note(note),
        call_id=call_id,
        queue_id=queue_id,
        now=timezone.now(),
    )


@transaction.atomic
def pings_send_batch(
    *,
    sender,
    receiver_ids: Sequence[int],
    note: str = "",
    call_id: int | None = None,
    queue_id: int | None = None,
) -> list[PingOutcome]:
    """Ping several colleagues in one transaction: one outcome per receiver, in the order
    given; a refused one (limit, cooldown, unknown) does not stop the others."""
    note = _clean_note(note)
    receivers = list(dict.fromkeys(receiver_ids))
    if not receivers or len(receivers) > MAX_BATCH:
        raise InvalidInput(f"Ping 1..{MAX_BATCH} colleagues at once.", code="batch_size")
    now = timezone.now()
    outcomes = []
    for receiver_id in receivers:
        try:
            with transaction.atomic():  # a refusal undoes only this receiver's ping
                outcomes.append(
                    _ping_one(
                        sender=sender,
                        receiver_id=receiver_id,
                        note=note,
                        call_id=call_id,
                        queue_id=queue_id,
                        now=now,
                    )
                )
        except DomainError as error:
            outcomes.append(PingOutcome(receiver_id, error=error))
    return outcomes
