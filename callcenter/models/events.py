"""Append-only audit logs: what Twilio told us about calls, and every agent state change.

Rows are inserted and never updated (PostgreSQL enforces it with a trigger, see the
migration `forbid_updates_of_event_logs`); analytics are derived from them.
"""

from django.conf import settings
from django.db import models

from callcenter.choices import AgentActivity, AgentStatus, StatusEventSource

from .callback_slot import CallbackSlot


class AppendOnlyModel(models.Model):
    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError(f"{type(self).__name__} rows are append-only.")
        super().save(*args, **kwargs)


class CallEvent(AppendOnlyModel):
    """One raw event about a call: a Twilio callback, or an action of ours."""

    # Ours: source OURS; a person's action on the call (services.call_audit) is of kind
    # CONTROL_PREFIX + the action.
    OURS = "switchboard"
    CONTROL_PREFIX = "control-"

    # The natural key: CallSid + CallbackSource + SequenceNumber, or the event kind where
    # Twilio sends no sequence. An atomic insert on it deduplicates retried callbacks.
    dedup_key = models.CharField(max_length=200, unique=True)
    call = models.ForeignKey(
        "callcenter.Call", null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    call_sid = models.CharField(max_length=64)
    source = models.CharField(max_length=40, help_text="Twilio's CallbackSource, or 'switchboard'.")
    kind = models.CharField(max_length=40, help_text="e.g. status, enqueue-action, agent-assigned.")
    sequence_number = models.PositiveIntegerField(null=True, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    # Ours: the customer call a leg or conference serves, a recording's queue.
    context = models.JSONField(default=dict, blank=True)
    twilio_timestamp = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    # What the callback says happened to its call, kept by the database (callback_slot).
    shape_slot = models.GeneratedField(
        expression=CallbackSlot(), output_field=models.SmallIntegerField(null=True), db_persist=True
    )

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["call", "id"], name="call_event_call_idx"),
            # Analytics: incremental reads past a watermark.
            models.Index(fields=["received_at", "id"], name="call_event_received_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.call_sid} {self.kind}"


class PendingCallEvent(models.Model):
    """A stored Twilio callback not applied yet: the outbox `webhooks.outbox` drains.

    Written by the statement that stores its CallEvent (a stored callback is never lost) and
    deleted by the transaction that applies it (it is applied once)."""

    event = models.OneToOneField(
        "callcenter.CallEvent", primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    # The call the apply locks (a conference event's is the customer's): a call's pending
    # events are claimed together and applied in id order.
    subject_sid = models.CharField(max_length=64)
    available_at = models.DateTimeField(help_text="Not claimed before (a failed apply backs off).")
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["event"]
        indexes = [
            # call_events_claim: every pending event of the claimed call.
            models.Index(fields=["subject_sid"], name="pending_call_event_subject_idx"),
        ]

    def __str__(self) -> str:
        return f"pending {self.event_id}"


class AgentStatusEvent(AppendOnlyModel):
    """One change of an agent's status and/or activity, with who caused it."""

    agent = models.ForeignKey(
        "callcenter.Agent", on_delete=models.CASCADE, related_name="status_events"
    )
    from_status = models.CharField(max_length=16, choices=AgentStatus.choices)
    to_status = models.CharField(max_length=16, choices=AgentStatus.choices)
    from_activity = models.CharField(max_length=16, choices=AgentActivity.choices)
    to_activity = models.CharField(max_length=16, choices=AgentActivity.choices)
    reason = models.CharField(max_length=100, blank=True)
    source = models.CharField(max_length=16, choices=StatusEventSource.choices)
    acting_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(source__in=StatusEventSource.values),
                name="agent_status_event_source_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["agent", "occurred_at"], name="agent_status_event_agent_idx"),
            models.Index(fields=["occurred_at", "id"], name="agent_status_event_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.agent_id}: {self.from_status} → {self.to_status} ({self.to_activity})"
