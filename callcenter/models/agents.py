import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from callcenter.choices import AgentActivity, AgentStatus
from callcenter.querysets import ROUTABLE, AgentQuerySet


def new_softphone_identity() -> str:
    # Opaque and stable: it names the agent's softphone to Twilio and never reveals the user.
    return f"agent_{secrets.token_hex(12)}"


class Agent(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent"
    )
    softphone_identity = models.CharField(
        max_length=64, unique=True, default=new_softphone_identity, editable=False
    )
    status = models.CharField(
        max_length=16, choices=AgentStatus.choices, default=AgentStatus.OFFLINE
    )
    away_reason = models.CharField(max_length=100, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    activity = models.CharField(
        max_length=16, choices=AgentActivity.choices, default=AgentActivity.IDLE
    )
    activity_changed_at = models.DateTimeField(null=True, blank=True)
    max_concurrent_calls = models.PositiveSmallIntegerField(default=1)
    # Counters the routing strategies read; maintained by services, reset daily.
    active_calls = models.PositiveSmallIntegerField(default=0)
    idle_since = models.DateTimeField(
        default=timezone.now, help_text="Since when the agent has had no call (longest idle)."
    )
    last_call_ended_at = models.DateTimeField(null=True, blank=True)
    # Round-robin resumes after the agent offered a call longest ago.
    last_offered_at = models.DateTimeField(null=True, blank=True)
    calls_answered_today = models.PositiveIntegerField(default=0)
    talk_seconds_today = models.PositiveIntegerField(default=0)
    counters_date = models.DateField(null=True, blank=True)
    consecutive_missed_offers = models.PositiveSmallIntegerField(default=0)
    wrap_up_until = models.DateTimeField(null=True, blank=True)
    # Routing offers the agent nothing before this (the queue's reject / no-answer delay).
    not_before = models.DateTimeField(null=True, blank=True)
    # The dashboard's last heartbeat. Presence is tracked once a dashboard has been seen: an
    # agent working only through the API (or the simulator's demo agents) is never timed out.
    last_seen_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AgentQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_concurrent_calls__gte=1), name="agent_capacity_at_least_one"
            ),
            models.CheckConstraint(
                condition=Q(active_calls__gte=0, active_calls__lte=F("max_concurrent_calls")),
                name="agent_active_calls_within_capacity",
            ),
            models.CheckConstraint(
                condition=Q(status=AgentStatus.AWAY) | Q(away_reason=""),
                name="agent_away_reason_only_when_away",
            ),
            models.CheckConstraint(
                condition=~Q(activity=AgentActivity.WRAP_UP) | Q(wrap_up_until__isnull=False),
                name="agent_wrap_up_has_deadline",
            ),
            models.CheckConstraint(
                condition=Q(status__in=AgentStatus.values), name="agent_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(activity__in=AgentActivity.values), name="agent_activity_valid"
            ),
        ]
        indexes = [
            # Routing: eligible agents, longest idle first (AgentQuerySet.routable()).
            models.Index(
                fields=["idle_since", "id"],
                condition=ROUTABLE,
                name="agent_routable_idle_since_idx",
            ),
            # Dashboards: agents by status and activity.
            models.Index(fields=["status", "activity"], name="agent_status_activity_idx"),
            # Presence sweep: logged-in agents whose dashboard went quiet.
            models.Index(
                fields=["last_seen_at"],
                condition=~Q(status=AgentStatus.OFFLINE) & Q(last_seen_at__isnull=False),
                name="agent_present_seen_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.user.get_username()
