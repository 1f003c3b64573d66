"""Chat between staff, pings and call invitations (DESIGN.md §2: built on realtime/).

Invariants live in the database: one direct conversation per pair (`direct_key`), one message
per sender and client-supplied id, one pending invitation per caller and receiver.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class ConversationKind(models.TextChoices):
    DIRECT = "direct"
    GROUP = "group"


class Conversation(models.Model):
    kind = models.CharField(max_length=8, choices=ConversationKind.choices)
    title = models.CharField(max_length=120, blank=True)
    # "<lower user id>:<higher user id>" for direct conversations, so a pair has only one.
    direct_key = models.CharField(max_length=41, null=True, blank=True, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="direct", direct_key__isnull=False)
                | Q(kind="group", direct_key__isnull=True),
                name="messaging_conversation_direct_has_key",
            )
        ]

    def __str__(self):
        return self.title or f"{self.kind} conversation {self.pk}"


def direct_key(user_a: int, user_b: int) -> str:
    low, high = sorted((user_a, user_b))
    return f"{low}:{high}"


class Participant(models.Model):
    """A user in a conversation, with their read pointer and the conversation's latest
    message and activity time copied here on every send, so a user's conversation list is one
    index range (`messaging_inbox_idx`)."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="participants"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversation_seats"
    )
    joined_at = models.DateTimeField(default=timezone.now)
    last_read_message_id = models.BigIntegerField(default=0)
    last_message = models.ForeignKey(
        "Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_activity_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "user"], name="messaging_participant_uniq"
            )
        ]
        indexes = [
            # The conversation list: WHERE user_id = ? ORDER BY last_activity_at DESC, id DESC.
            models.Index(
                "user",
                models.F("last_activity_at").desc(),
                models.F("id").desc(),
                name="messaging_inbox_idx",
            )
        ]

    def __str__(self):
        return f"user {self.user_id} in conversation {self.conversation_id}"


class MessageKind(models.TextChoices):
    TEXT = "text"
    PING = "ping"


class Message(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    client_id = models.UUIDField(default=uuid.uuid4)
    kind = models.CharField(max_length=8, choices=MessageKind.choices, default=MessageKind.TEXT)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # Idempotent send: a retried request with the same client id finds its message.
            models.UniqueConstraint(
                fields=["sender", "client_id"], name="messaging_message_sender_client_uniq"
            )
        ]
        indexes = [
            # Pages of a conversation (cursor on id) and unread counts (id > read pointer).
            models.Index(fields=["conversation", "id"], name="messaging_message_conv_idx")
        ]

    def __str__(self):
        return f"message {self.pk} in conversation {self.conversation_id}"


def attachment_path(instance: "Attachment", filename: str) -> str:
    return f"messaging/{uuid.uuid4().hex}/{filename}"


class Attachment(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=255)
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()

    def __str__(self):
        return self.name


class Ping(models.Model):
    """A nudge to a colleague, optionally about a call or a queue; its message opens (or
    continues) their direct conversation. Responded when the receiver writes back there."""

    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    receiver = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="ping")
    call = models.ForeignKey(
        "callcenter.Call", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    queue = models.ForeignKey(
        "callcenter.Queue", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    responded_at = models.DateTimeField(null=True, blank=True)
    response_seconds = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(sender=models.F("receiver")), name="messaging_ping_not_to_self"
            ),
            models.CheckConstraint(
                condition=Q(responded_at__isnull=True) | Q(response_seconds__gte=0),
                name="messaging_ping_response_time",
            ),
        ]
        indexes = [
            # Cooldown: the sender's last ping to this receiver.
            models.Index(
                fields=["sender", "receiver", "-created_at"], name="messaging_ping_pair_idx"
            ),
            # Responses: the receiver's unanswered pings in a conversation.
            models.Index(
                fields=["conversation", "receiver"],
                condition=Q(responded_at__isnull=True),
                name="messaging_ping_open_idx",
            ),
            # Analytics: a day of pings.
            models.Index(fields=["created_at"], name="messaging_ping_created_idx"),
        ]

    def __str__(self):
        return f"ping {self.pk} from {self.sender_id} to {self.receiver_id}"


class PingQuota(models.Model):
    """Pings a user sent on `day` (UTC): checked and bumped by one conditional upsert that
    also serialises the user's concurrent pings."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    day = models.DateField()
    sent = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"user {self.user_id}: {self.sent} pings on {self.day}"


class PingStatScope(models.TextChoices):
    USER = "user"
    TEAM = "team"


class PingStat(models.Model):
    """Ping response statistics of one day for a user (as receiver) or a team (a queue's
    members), written by `ping_stats_refresh_task`."""

    day = models.DateField()
    scope = models.CharField(max_length=8, choices=PingStatScope.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    queue = models.ForeignKey(
        "callcenter.Queue", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    sent = models.PositiveIntegerField(default=0)
    received = models.PositiveIntegerField(default=0)
    responded = models.PositiveIntegerField(default=0)
    response_avg_seconds = models.FloatField(null=True, blank=True)
    response_p50_seconds = models.FloatField(null=True, blank=True)
    response_p90_seconds = models.FloatField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(scope="user", user__isnull=False, queue__isnull=True)
                | Q(scope="team", user__isnull=True, queue__isnull=False),
                name="messaging_pingstat_scope_subject",
            ),
            models.UniqueConstraint(
                fields=["day", "user"],
                condition=Q(scope="user"),
                name="messaging_pingstat_user_uniq",
            ),
            models.UniqueConstraint(
                fields=["day", "queue"],
                condition=Q(scope="team"),
                name="messaging_pingstat_team_uniq",
            ),
        ]

    def __str__(self):
        return f"ping stats {self.scope} {self.user_id or self.queue_id} on {self.day}"


class InvitationStatus(models.TextChoices):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    CANCELED = "canceled"
    EXPIRED = "expired"


class CallInvitation(models.Model):
    """An invitation to join the caller's current call (`call`), or to a new call between the
    two (no `call`). Accepted → the receiver's softphone is dialed into the call's conference;
    for a new call both softphones are rung into a conference of their own."""

    caller = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    receiver = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    call = models.ForeignKey(
        "callcenter.Call", on_delete=models.CASCADE, related_name="+", null=True, blank=True
    )
    status = models.CharField(
        max_length=10, choices=InvitationStatus.choices, default=InvitationStatus.PENDING
    )
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(caller=models.F("receiver")), name="messaging_invitation_not_self"
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")),
                name="messaging_invitation_expires_after_created",
            ),
            # One pending invitation per pair and call, and one per pair to a new call (two
            # partial indexes: SQLite, the embedded run's database, has no NULLS NOT DISTINCT).
            models.UniqueConstraint(
                fields=["caller", "receiver", "call"],
                condition=Q(status="pending"),
                name="messaging_invitation_one_pending",
            ),
            models.UniqueConstraint(
                fields=["caller", "receiver"],
                condition=Q(status="pending", call__isnull=True),
                name="messaging_invitation_one_pending_new_call",
            ),
        ]
        indexes = [
            # The receiver's pending check: receiver, status 'pending', expires_at > now.
            models.Index(
                fields=["receiver", "status", "expires_at"], name="pending_invitations_idx"
            ),
            # Cleanup: status = 'expired' AND created_at < cutoff.
            models.Index(fields=["status", "created_at"], name="cleanup_invitations_idx"),
            # The caller's sent invitations by status.
            models.Index(fields=["caller", "status"], name="sent_invitations_idx"),
        ]

    def __str__(self):
        return f"invitation {self.pk} ({self.status})"
