"""Work for agents that is not a live caller: voicemails and callback requests.

Both keep the caller's place: `enqueued_at` is when the caller first entered the queue, so
routing serves them in the same priority-then-age order as live callers.
"""

from django.db import models
from django.db.models import F, Q

from callcenter.choices import WorkStatus

# Predicate of the waiting-work partial indexes.
WORK_WAITING = Q(status=WorkStatus.WAITING)


class WorkItem(models.Model):
    call = models.OneToOneField("callcenter.Call", on_delete=models.CASCADE, related_name="+")
    queue = models.ForeignKey("callcenter.Queue", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=WorkStatus.choices, default=WorkStatus.WAITING)
    priority = models.SmallIntegerField(default=0)
    enqueued_at = models.DateTimeField()
    agent = models.ForeignKey(
        "callcenter.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]
        indexes = [
            # Routing: a queue's waiting work, priority then the caller's original place.
            models.Index(
                F("queue"),
                F("priority").desc(),
                F("enqueued_at").asc(),
                condition=WORK_WAITING,
                name="%(class)s_waiting_idx",
            ),
        ]


class Voicemail(WorkItem):
    recording_sid = models.CharField(max_length=64, unique=True)
    recording_url = models.URLField(max_length=500)
    duration_seconds = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return self.recording_sid


class CallbackRequest(WorkItem):
    """A caller who chose to be called back; `number` is whom to dial (personal data)."""

    number = models.CharField(max_length=32)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Dials that reached nobody.")
    retry_at = models.DateTimeField(
        null=True, blank=True, help_text="Not offered again before (after an unreached dial)."
    )
    # The outbound call of the latest attempt (the customer's leg, root of its conference).
    dialed_call = models.ForeignKey(
        "callcenter.Call", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"callback {self.pk}"
