"""Reservations: an offer of one waiting call to one agent, and how it ended.

Partial unique constraints make a race fail loudly instead of double-booking: a call has at
most one open reservation, and an agent at most one ringing offer.
"""

from django.db import models
from django.db.models import F, Q


class ReservationStatus(models.TextChoices):
    OFFERED = "offered"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    TIMED_OUT = "timed_out"
    CANCELED = "canceled"
    COMPLETED = "completed"


class WorkKind(models.TextChoices):
    """What an offer is for: a live caller, or work a caller left (callcenter.models.work)."""

    CALL = "call"
    VOICEMAIL = "voicemail"
    CALLBACK = "callback"


OPEN_STATUSES = (ReservationStatus.OFFERED, ReservationStatus.ACCEPTED)
MISSED_STATUSES = (ReservationStatus.REJECTED, ReservationStatus.TIMED_OUT)


class Reservation(models.Model):
    # For a voicemail or a callback, the call that left it (WorkItem.call).
    call = models.ForeignKey(
        "callcenter.Call", on_delete=models.CASCADE, related_name="reservations"
    )
    kind = models.CharField(max_length=16, choices=WorkKind.choices, default=WorkKind.CALL)
    agent = models.ForeignKey(
        "callcenter.Agent", on_delete=models.CASCADE, related_name="reservations"
    )
    queue = models.ForeignKey("callcenter.Queue", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(
        max_length=16, choices=ReservationStatus.choices, default=ReservationStatus.OFFERED
    )
    offered_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["call"],
                condition=Q(status__in=OPEN_STATUSES),
                name="reservation_one_open_per_call",
            ),
            models.UniqueConstraint(
                fields=["agent"],
                condition=Q(status=ReservationStatus.OFFERED),
                name="reservation_one_ringing_per_agent",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("offered_at")), name="reservation_expires_after_offer"
            ),
            models.CheckConstraint(
                condition=Q(status__in=OPEN_STATUSES) | Q(ended_at__isnull=False),
                name="reservation_closed_has_end",
            ),
        ]
        indexes = [
            # The sweep: ringing offers past their ring timeout.
            models.Index(
                fields=["expires_at"],
                condition=Q(status=ReservationStatus.OFFERED),
                name="reservation_ringing_expiry_idx",
            ),
            # "Not the same agent again": who already missed this call.
            models.Index(fields=["call", "agent"], name="reservation_call_agent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.call_id} → {self.agent_id} ({self.status})"
