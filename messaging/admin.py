from django.contrib import admin

from .models import CallInvitation, Conversation, Message, Ping, PingStat


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "title", "created_at"]
    list_filter = ["kind"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "conversation", "sender", "kind", "created_at", "deleted_at"]
    raw_id_fields = ["conversation", "sender"]


@admin.register(Ping)
class PingAdmin(admin.ModelAdmin):
    list_display = ["id", "sender", "receiver", "created_at", "responded_at", "response_seconds"]
    raw_id_fields = ["sender", "receiver", "conversation", "message", "call", "queue"]


@admin.register(PingStat)
class PingStatAdmin(admin.ModelAdmin):
    list_display = [
        "day",
        "scope",
        "user",
        "queue",
        "received",
        "responded",
        "response_avg_seconds",
    ]
    list_filter = ["scope", "day"]


@admin.register(CallInvitation)
class CallInvitationAdmin(admin.ModelAdmin):
    list_display = ["id", "caller", "receiver", "call", "status", "created_at", "expires_at"]
    list_filter = ["status"]
    raw_id_fields = ["caller", "receiver", "call"]
