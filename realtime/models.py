"""The per-user event log (DESIGN.md §3.5): what a person must not miss (an offer, a message, a
ping, an invitation) is appended here in the same transaction as the change that caused it."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class EventCursor(models.Model):
    """One row per user: the last `seq` handed out (bumped under the row's lock, so one user's
    events commit in `seq` order) and the last one the user's client acknowledged."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    last_seq = models.BigIntegerField(default=0)
    acked_seq = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(acked_seq__lte=models.F("last_seq")),
                name="realtime_cursor_ack_not_ahead",
            )
        ]

    def __str__(self):
        return f"user {self.user_id} at seq {self.last_seq}"


class UserEvent(models.Model):
    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    seq = models.BigIntegerField()
    type = models.CharField(max_length=64)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # Also the index every replay reads: WHERE user_id = ? AND seq > ? ORDER BY seq.
            models.UniqueConstraint(fields=["user", "seq"], name="realtime_event_user_seq_uniq")
        ]
        indexes = [models.Index(fields=["created_at"], name="realtime_event_created_idx")]

    def __str__(self):
        return f"{self.type} #{self.seq} for user {self.user_id}"

    def frame(self) -> dict:
        return {"type": self.type, "seq": self.seq, "data": self.data}
