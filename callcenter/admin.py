"""Django admin: configure queues, memberships, numbers, menus and agents.

Agent state (status, activity, counters) is read-only here: it changes only through
callcenter.services so every change is audited.
"""

from django.contrib import admin

from .models import (
    Agent,
    AgentStatusEvent,
    Call,
    CallEvent,
    Menu,
    MenuOption,
    PhoneNumber,
    Queue,
    QueueMembership,
)
from .models.queues import EscalationStep


class MembershipInline(admin.TabularInline):
    model = QueueMembership
    extra = 1
    autocomplete_fields = ["agent", "queue"]


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = ["user", "status", "activity", "max_concurrent_calls", "active_calls"]
    list_filter = ["status", "activity"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    list_select_related = ["user"]
    inlines = [MembershipInline]
    readonly_fields = [
        "softphone_identity",
        "status",
        "away_reason",
        "status_changed_at",
        "activity",
        "activity_changed_at",
        "active_calls",
        "idle_since",
        "last_call_ended_at",
        "calls_answered_today",
        "talk_seconds_today",
        "counters_date",
        "consecutive_missed_offers",
        "wrap_up_until",
        "not_before",
    ]
    autocomplete_fields = ["user"]


class EscalationStepInline(admin.TabularInline):
    """A queue's escalation steps, in the order they apply (after_seconds)."""

    model = EscalationStep
    fk_name = "queue"
    extra = 0
    fields = ["after_seconds", "action", "priority", "target_queue"]


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin):
    list_display = ["name", "strategy", "priority", "service_level_seconds", "is_active"]
    list_filter = ["strategy", "is_active"]
    search_fields = ["name", "twilio_queue_name"]
    filter_horizontal = ["supervisors"]
    inlines = [MembershipInline, EscalationStepInline]


class MenuOptionInline(admin.TabularInline):
    model = MenuOption
    extra = 1


@admin.register(Menu)
class MenuAdmin(admin.ModelAdmin):
    list_display = ["name", "fallback_queue"]
    inlines = [MenuOptionInline]


@admin.register(PhoneNumber)
class PhoneNumberAdmin(admin.ModelAdmin):
    list_display = ["e164", "friendly_name", "default_queue", "menu"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Calls and their audit logs are written by the system; the admin only reads them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Call)
class CallAdmin(ReadOnlyAdmin):
    list_display = ["call_sid", "direction", "status", "stage", "outcome", "queue", "created_at"]
    list_filter = ["status", "stage", "outcome", "direction", "queue"]
    search_fields = ["call_sid"]
    date_hierarchy = "created_at"


@admin.register(CallEvent)
class CallEventAdmin(ReadOnlyAdmin):
    list_display = ["call_sid", "source", "kind", "sequence_number", "received_at"]
    search_fields = ["call_sid"]


@admin.register(AgentStatusEvent)
class AgentStatusEventAdmin(ReadOnlyAdmin):
    list_display = ["agent", "from_status", "to_status", "to_activity", "source", "occurred_at"]
    list_filter = ["source", "to_status"]
    list_select_related = ["agent__user"]
