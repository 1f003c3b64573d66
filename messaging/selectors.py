"""Reads of messaging: conversation lists, message pages, pending invitations, attachments."""

from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import (
    Count,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from .errors import NotFound
from .frames import invitation_data, user_data
from .models import (
    Attachment,
    CallInvitation,
    InvitationStatus,
    Message,
    Participant,
    Ping,
    PingStat,
    PingStatScope,
)
from .services.invitations import invitations_expire, pending_cache_key, pending_version_key


def inbox_of(user) -> QuerySet[Participant]:
    """The user's seats with their conversation, its latest message and sender, the other
    seats (prefetched) and the unread count: two queries per page whatever the number of
    conversations (`messaging_inbox_idx` gives the page; the count reads
    `messaging_message_conv_idx` from the read pointer on)."""
    unread = (
        Message.objects.filter(
            conversation_id=OuterRef("conversation_id"),
            id__gt=OuterRef("last_read_message_id"),
            deleted_at__isnull=True,
        )
        .exclude(sender_id=user.pk)
        .order_by()
        .values("conversation_id")
        .annotate(n=Count("*"))
        .values("n")
    )
    return (
        Participant.objects.filter(user=user)
        .select_related("conversation", "last_message__sender")
        .prefetch_related(
            Prefetch(
                "conversation__participants",
                queryset=Participant.objects.select_related("user").order_by("user_id"),
            )
        )
        .annotate(unread=Coalesce(Subquery(unread, output_field=IntegerField()), Value(0)))
    )


def _last_message(message: Message | None) -> dict | None:
    if message is None:
        return None
    deleted = message.deleted_at is not None
    return {
        "id": message.pk,
        "sender": user_data(message.sender),
        "kind": message.kind,
        "body": "" if deleted else message.body[:200],
        "created_at": message.created_at,
        "deleted": deleted,
    }


def seat_data(seat: Participant) -> dict:
    conversation = seat.conversation
    return {
        "id": conversation.pk,
        "kind": conversation.kind,
        "title": conversation.title,
        "participants": [
            {**user_data(p.user), "last_read_message_id": p.last_read_message_id}
            for p in conversation.participants.all()
        ],
        "last_message": _last_message(seat.last_message),
        "last_activity_at": seat.last_activity_at,
        "last_read_message_id": seat.last_read_message_id,
        "unread": seat.unread,
    }


def seat_of(user, conversation_id: int) -> Participant:
    seat = inbox_of(user).filter(conversation_id=conversation_id).first()
    if seat is None:
        raise NotFound("No such conversation.")
    return seat


def messages_of(user, conversation_id: int) -> QuerySet[Message]:
    """A conversation's messages with senders, files and ping details, for a participant
    (NotFound otherwise): one query to check, then a page costs two."""
    if not Participant.objects.filter(conversation_id=conversation_id, user=user).exists():
        raise NotFound("No such conversation.")
    return (
        Message.objects.filter(conversation_id=conversation_id)
        .select_related("sender", "ping")
        .prefetch_related("attachments")
    )


def ping_of(message: Message) -> dict | None:
    try:
        ping = message.ping
    except Ping.DoesNotExist:
        return None
    return {
        "id": ping.pk,
        "receiver": ping.receiver_id,
        "call": ping.call_id,
        "queue": ping.queue_id,
        "responded_at": ping.responded_at,
    }


def attachment_for(user, attachment_id: int) -> Attachment:
    """The file of a (not deleted) message in one of the user's conversations."""
    found = Attachment.objects.filter(
        pk=attachment_id,
        message__deleted_at__isnull=True,
        message__conversation__participants__user=user,
    ).first()
    if found is None:
        raise NotFound("No such attachment.")
    return found


def pings_of(user, direction: str) -> QuerySet[Ping]:
    field = "receiver" if direction == "received" else "sender"
    return (
        Ping.objects.filter(**{field: user})
        .select_related("sender", "receiver", "message")
        .order_by("-created_at", "-id")
    )


def pending_invitations(user) -> list[dict]:
    """The user's pending invitations, soonest to expire first. Cached per user for
    MESSAGING_INVITATION_CACHE_SECONDS (never past the first expiry) and made stale by every
    change (forget_pending): no query warm; cold, one UPDATE marks the overdue ones and one
    SELECT reads the rest (`pending_invitations_idx`)."""
    key, version_key = pending_cache_key(user.pk), pending_version_key(user.pk)
    found = cache.get_many([key, version_key])
    version, cached = found.get(version_key, 0), found.get(key)
    if cached is not None and cached[0] == version:
        return cached[1]
    invitations_expire(receiver_id=user.pk)
    now = timezone.now()
    pending = list(
        CallInvitation.objects.filter(
            receiver=user, status=InvitationStatus.PENDING, expires_at__gt=now
        )
        .select_related("caller", "receiver")
        .order_by("expires_at")
    )
    data = [invitation_data(i) for i in pending]
    ttl = settings.MESSAGING_INVITATION_CACHE_SECONDS
    if pending:
        ttl = min(ttl, (pending[0].expires_at - now).total_seconds())
    if ttl > 0:
        cache.set(key, (version, data), ttl)
    return data


def invitations_of(user) -> QuerySet[CallInvitation]:
    return (
        CallInvitation.objects.filter(Q(receiver=user) | Q(caller=user))
        .select_related("caller", "receiver")
        .order_by("-created_at", "-id")
    )


def ping_stats_of(user, days: int) -> QuerySet[PingStat]:
    """The user's own daily ping statistics and those of the teams (queues) they belong to,
    for the last `days` days: one query."""
    since = timezone.now().date() - timedelta(days=days - 1)
    return (
        PingStat.objects.filter(day__gte=since)
        .filter(
            Q(scope=PingStatScope.USER, user=user)
            | Q(scope=PingStatScope.TEAM, queue__memberships__agent__user=user)
        )
        .select_related("queue")
        .order_by("-day", "scope", "queue_id")
    )
