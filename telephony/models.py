"""Intents of call-control operations, recorded before Twilio is asked.

A retried task reads its operation first: a finished one is not repeated, and a create whose
outcome was unknown (a timeout) looks for what Twilio already made before dialing again.
"""

from django.db import models
from django.db.models import Q


class OperationKind(models.TextChoices):
    DIAL_AGENT = "dial_agent"
    BRIDGE_CUSTOMER = "bridge_customer"
    HOLD = "hold"
    UNHOLD = "unhold"
    HANGUP = "hangup"
    REDIRECT = "redirect"
    START_RECORDING = "start_recording"
    STOP_RECORDING = "stop_recording"
    ADD_PARTICIPANT = "add_participant"
    REMOVE_PARTICIPANT = "remove_participant"
    DIAL_OUT = "dial_out"
    DIAL_CALLBACK = "dial_callback"


class OperationStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Operation(models.Model):
    key = models.CharField(max_length=200, unique=True, help_text="The caller's idempotency key.")
    kind = models.CharField(max_length=24, choices=OperationKind.choices)
    call_sid = models.CharField(max_length=64, blank=True, help_text="The call acted on.")
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=OperationStatus.choices, default=OperationStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    result_sid = models.CharField(max_length=64, blank=True, help_text="What Twilio created.")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["call_sid", "id"], name="operation_call_idx"),
            # The sweep: operations not finished.
            models.Index(
                fields=["updated_at"],
                condition=Q(status__in=["pending", "running"]),
                name="operation_unfinished_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.call_sid}"
