from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q

from callcenter.business_hours import is_open, validate_business_hours, validate_time_zone, zone
from callcenter.choices import EscalationAction, MaxWaitAction, RoutingStrategy
from callcenter.querysets import QueueQuerySet

E164 = RegexValidator(
    r"^\+[1-9]\d{1,14}$", "Enter a phone number in E.164 form, e.g. +14155550100."
)
TWILIO_QUEUE_NAME = RegexValidator(
    r"^[A-Za-z0-9_.-]{1,64}$", "Letters, digits, '_', '.' and '-' only (at most 64)."
)


class Queue(models.Model):
    name = models.CharField(max_length=100, unique=True)
    twilio_queue_name = models.CharField(max_length=64, unique=True, validators=[TWILIO_QUEUE_NAME])
    strategy = models.CharField(
        max_length=20, choices=RoutingStrategy.choices, default=RoutingStrategy.LONGEST_IDLE
    )
    # Tiers: members of level 1 are tried before level 2, and so on, then the strategy.
    use_tiers = models.BooleanField(default=False)
    priority = models.SmallIntegerField(default=0, help_text="Higher is served first.")
    service_level_seconds = models.PositiveIntegerField(default=20)
    short_abandon_seconds = models.PositiveIntegerField(default=5)
    ring_timeout_seconds = models.PositiveIntegerField(default=20)
    wrap_up_seconds = models.PositiveIntegerField(default=30)
    # After an agent rejects (busy) or misses (no answer) an offer, no offer for this long.
    reject_delay_seconds = models.PositiveIntegerField(default=0)
    no_answer_delay_seconds = models.PositiveIntegerField(default=0)
    max_size = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: no limit.")
    max_wait_seconds = models.PositiveIntegerField(null=True, blank=True)
    max_wait_action = models.CharField(
        max_length=16, choices=MaxWaitAction.choices, default=MaxWaitAction.VOICEMAIL
    )
    overflow_queue = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="overflow_from"
    )
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    business_hours = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_business_hours],
        help_text='{"mon": [["09:00", "17:00"]], ...}; empty: always open.',
    )
    greeting = models.CharField(max_length=500, blank=True)
    hold_music_url = models.URLField(blank=True)
    announce_position = models.BooleanField(default=True)
    announce_interval_seconds = models.PositiveIntegerField(default=60)
    supervisors = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="supervised_queues"
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = QueueQuerySet.as_manager()

    class Meta:
        ordering = ["-priority", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ring_timeout_seconds__gte=5), name="queue_ring_timeout_at_least_5s"
            ),
            models.CheckConstraint(
                condition=Q(service_level_seconds__gte=1), name="queue_service_level_positive"
            ),
            models.CheckConstraint(
                condition=Q(max_size__isnull=True) | Q(max_size__gte=1),
                name="queue_max_size_positive",
            ),
            models.CheckConstraint(
                condition=Q(announce_interval_seconds__gte=10),
                name="queue_announce_interval_at_least_10s",
            ),
            models.CheckConstraint(
                condition=~Q(max_wait_action=MaxWaitAction.OVERFLOW)
                | Q(overflow_queue__isnull=False),
                name="queue_overflow_needs_target",
            ),
            models.CheckConstraint(
                condition=~Q(overflow_queue=F("id")), name="queue_no_overflow_to_itself"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.time_zone)

    def is_open(self, at: datetime) -> bool:
        """Whether `at` (aware) falls in the business hours, read in the queue's time zone."""
        return is_open(self.business_hours, at.astimezone(self.tz))


class QueueMembership(models.Model):
    agent = models.ForeignKey(
        "callcenter.Agent", on_delete=models.CASCADE, related_name="memberships"
    )
    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="memberships")
    level = models.PositiveSmallIntegerField(default=1, help_text="Tier: 1 is tried first.")

    class Meta:
        ordering = ["queue_id", "level", "agent_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["agent", "queue"], name="membership_agent_queue_unique"
            ),
            models.CheckConstraint(condition=Q(level__gte=1), name="membership_level_at_least_1"),
        ]
        indexes = [
            # Routing: a queue's members by tier.
            models.Index(fields=["queue", "level", "agent"], name="membership_queue_level_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.agent} in {self.queue} (tier {self.level})"


class EscalationStep(models.Model):
    """After `after_seconds` of waiting in `queue`, do `action` to the caller, once per queue
    entry, in `after_seconds` order (routing's sweep applies them, routing.escalation).

    raise_priority: the caller's priority becomes at least `priority` (never lowered);
    move_to_queue: the caller is redirected into `target_queue`;
    widen_tier: the caller may be offered to the next tier that has members (a queue with
    such a step offers its callers to its first tier only until then)."""

    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="escalation_steps")
    after_seconds = models.PositiveIntegerField(help_text="Seconds waited in the queue.")
    action = models.CharField(max_length=16, choices=EscalationAction.choices)
    priority = models.SmallIntegerField(null=True, blank=True, help_text="raise_priority: to N.")
    target_queue = models.ForeignKey(
        Queue,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="move_to_queue: where to.",
    )

    class Meta:
        ordering = ["queue_id", "after_seconds"]
        constraints = [
            # One step per moment: the order of a queue's steps is their `after_seconds`.
            models.UniqueConstraint(
                fields=["queue", "after_seconds"], name="escalation_step_queue_after_unique"
            ),
            # Each action has exactly the parameters it needs.
            models.CheckConstraint(
                condition=Q(
                    action=EscalationAction.RAISE_PRIORITY,
                    priority__isnull=False,
                    target_queue__isnull=True,
                )
                | Q(
                    action=EscalationAction.MOVE_TO_QUEUE,
                    priority__isnull=True,
                    target_queue__isnull=False,
                )
                | Q(
                    action=EscalationAction.WIDEN_TIER,
                    priority__isnull=True,
                    target_queue__isnull=True,
                ),
                name="escalation_step_action_parameters",
            ),
            models.CheckConstraint(
                condition=~Q(target_queue=F("queue")), name="escalation_step_no_move_to_itself"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.queue} after {self.after_seconds}s: {self.action}"


class Menu(models.Model):
    """A DTMF menu: a prompt and digit → queue options."""

    name = models.CharField(max_length=100, unique=True)
    prompt = models.CharField(max_length=500)
    timeout_seconds = models.PositiveSmallIntegerField(default=5)
    # Where callers go after invalid or no input (twice); empty: the first option.
    fallback_queue = models.ForeignKey(
        Queue, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return self.name


class MenuOption(models.Model):
    menu = models.ForeignKey(Menu, on_delete=models.CASCADE, related_name="options")
    digit = models.CharField(max_length=1, validators=[RegexValidator(r"^[0-9*#]$")])
    label = models.CharField(max_length=100)
    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="+")

    class Meta:
        ordering = ["menu_id", "digit"]
        constraints = [
            models.UniqueConstraint(fields=["menu", "digit"], name="menu_option_digit_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.digit}: {self.label}"


class PhoneNumber(models.Model):
    """One of our Twilio numbers: callers to it go to a queue or through a menu."""

    e164 = models.CharField("number", max_length=16, unique=True, validators=[E164])
    friendly_name = models.CharField(max_length=100, blank=True)
    greeting = models.CharField(max_length=500, blank=True)
    default_queue = models.ForeignKey(
        Queue, null=True, blank=True, on_delete=models.PROTECT, related_name="phone_numbers"
    )
    menu = models.ForeignKey(
        Menu, null=True, blank=True, on_delete=models.PROTECT, related_name="phone_numbers"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(default_queue__isnull=False, menu__isnull=True)
                | Q(default_queue__isnull=True, menu__isnull=False),
                name="phone_number_queue_xor_menu",
            ),
            models.CheckConstraint(
                condition=Q(e164__regex=r"^\+[1-9][0-9]{1,14}$"), name="phone_number_e164"
            ),
        ]

    def __str__(self) -> str:
        return self.friendly_name or self.e164
