from django.db import models
from django.db.models import F, Q

from callcenter.choices import (
    TERMINAL_STATUSES,
    CallDirection,
    CallOutcome,
    CallStage,
    CallStatus,
    QueueExit,
)
from callcenter.querysets import ACTIVE, WAITING, CallQuerySet

# Predicate shared by the known-agent indexes: customers' calls an agent answered.
KNOWN_AGENT = Q(parent__isnull=True, agent__isnull=False, answered_at__isnull=False)


class Call(models.Model):
    call_sid = models.CharField(max_length=64, unique=True)
    parent_call_sid = models.CharField(max_length=64, blank=True, db_index=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="legs"
    )
    direction = models.CharField(max_length=16, choices=CallDirection.choices)
    # E.164 numbers, or client:/sip: addresses of legs to softphones.
    from_number = models.CharField(max_length=128, blank=True)
    to_number = models.CharField(max_length=128, blank=True)
    status = models.CharField(max_length=16, choices=CallStatus.choices, default=CallStatus.QUEUED)
    stage = models.CharField(max_length=16, choices=CallStage.choices, default=CallStage.NEW)
    outcome = models.CharField(max_length=20, choices=CallOutcome.choices, blank=True)
    queue = models.ForeignKey(
        "callcenter.Queue", null=True, blank=True, on_delete=models.PROTECT, related_name="calls"
    )
    agent = models.ForeignKey(
        "callcenter.Agent", null=True, blank=True, on_delete=models.PROTECT, related_name="calls"
    )
    priority = models.SmallIntegerField(default=0, help_text="Higher is served first.")
    created_at = models.DateTimeField()
    enqueued_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    wait_seconds = models.PositiveIntegerField(null=True, blank=True)
    talk_seconds = models.PositiveIntegerField(null=True, blank=True)
    hold_seconds = models.PositiveIntegerField(default=0)
    # Since when the customer is on hold in the conference (None: not on hold, or ended).
    held_since = models.DateTimeField(null=True, blank=True)
    # Since when a recording we started on the call runs (None: none runs, or ended).
    recording_since = models.DateTimeField(null=True, blank=True)
    # Telephony bookkeeping, filled from Twilio's callbacks.
    conference_sid = models.CharField(max_length=64, blank=True)
    queue_result = models.CharField(max_length=24, blank=True, help_text="Last <Enqueue> result.")
    queue_exit = models.CharField(max_length=16, choices=QueueExit.choices, blank=True)
    # The agent's wrap-up: what came of the call (one of settings.CALL_DISPOSITIONS) and notes.
    disposition = models.CharField(max_length=40, blank=True)
    notes = models.TextField(blank=True, max_length=2000)
    # Escalation (routing.escalation): the last step applied in the current queue entry, and
    # the highest tier the caller may be offered to once a step widened it.
    escalation_step = models.ForeignKey(
        "callcenter.EscalationStep",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    max_tier_level = models.PositiveSmallIntegerField(null=True, blank=True)
    # Known-agent routing (routing.known_agent): the agent the caller last spoke with, offered
    # the call first until `preferred_agent_until`; set once, at the first claim attempt.
    preferred_agent = models.ForeignKey(
        "callcenter.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    preferred_agent_until = models.DateTimeField(null=True, blank=True)
    # A leg to an agent's softphone that routing did not offer (click-to-call, an internal
    # call, joining a colleague's call): counted in the agent's active calls while it talks
    # (callcenter.services.direct_legs).
    holds_agent = models.BooleanField(default=False)

    objects = CallQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(wait_seconds__isnull=True) | Q(wait_seconds__gte=0),
                name="call_wait_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(talk_seconds__isnull=True) | Q(talk_seconds__gte=0),
                name="call_talk_non_negative",
            ),
            models.CheckConstraint(condition=Q(hold_seconds__gte=0), name="call_hold_non_negative"),
            models.CheckConstraint(
                condition=Q(enqueued_at__isnull=True) | Q(enqueued_at__gte=F("created_at")),
                name="call_enqueued_after_created",
            ),
            models.CheckConstraint(
                condition=Q(answered_at__isnull=True) | Q(answered_at__gte=F("created_at")),
                name="call_answered_after_created",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("created_at")),
                name="call_ended_after_created",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True)
                | Q(answered_at__isnull=True)
                | Q(ended_at__gte=F("answered_at")),
                name="call_ended_after_answered",
            ),
            models.CheckConstraint(
                condition=(Q(stage=CallStage.ENDED) & Q(ended_at__isnull=False))
                | (~Q(stage=CallStage.ENDED) & Q(ended_at__isnull=True)),
                name="call_ended_stage_iff_ended_at",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=TERMINAL_STATUSES) | Q(stage=CallStage.ENDED),
                name="call_terminal_status_is_ended",
            ),
            models.CheckConstraint(
                condition=~Q(stage=CallStage.WAITING)
                | Q(queue__isnull=False, enqueued_at__isnull=False),
                name="call_waiting_has_queue",
            ),
            models.CheckConstraint(
                condition=Q(max_tier_level__isnull=True) | Q(max_tier_level__gte=1),
                name="call_max_tier_level_at_least_1",
            ),
            models.CheckConstraint(
                condition=Q(preferred_agent__isnull=True) | Q(preferred_agent_until__isnull=False),
                name="call_preferred_agent_has_deadline",
            ),
        ]
        indexes = [
            # Routing and wait announcements: a queue's waiting callers, priority then age.
            models.Index(
                F("queue"),
                F("priority").desc(),
                F("enqueued_at").asc(),
                F("id").asc(),
                condition=WAITING,
                name="call_waiting_queue_order_idx",
            ),
            # Routing: every queue's waiting callers in one service order (global fairness).
            models.Index(
                F("priority").desc(),
                F("enqueued_at").asc(),
                F("id").asc(),
                condition=WAITING,
                name="call_waiting_global_order_idx",
            ),
            # Dashboards: calls not yet ended.
            models.Index(fields=["created_at"], condition=ACTIVE, name="call_active_created_idx"),
            # API lists and history by time, by queue, by agent.
            models.Index(fields=["created_at", "id"], name="call_created_idx"),
            models.Index(fields=["queue", "created_at"], name="call_queue_created_idx"),
            models.Index(fields=["agent", "created_at"], name="call_agent_created_idx"),
            # Known-agent routing: a number's latest answered calls, inbound and placed by us.
            models.Index(
                fields=["from_number", "answered_at"],
                condition=KNOWN_AGENT & Q(direction=CallDirection.INBOUND),
                name="call_known_agent_inbound_idx",
            ),
            models.Index(
                fields=["to_number", "answered_at"],
                condition=KNOWN_AGENT
                & Q(direction__in=[CallDirection.OUTBOUND_API, CallDirection.OUTBOUND_DIAL]),
                name="call_known_agent_outbound_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.call_sid

    @property
    def customer_number(self) -> str:
        """The outside party's number: the caller on inbound calls, the callee otherwise."""
        return self.from_number if self.direction == CallDirection.INBOUND else self.to_number
