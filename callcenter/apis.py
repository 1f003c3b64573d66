"""REST API of the core domain: agents, queues, calls (DESIGN.md §5). Thin: read through
selectors, write through services."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from . import selectors, services
from .apis_call_control import CallControlMixin, OperationOutput
from .choices import AgentStatus, StatusEventSource
from .filters import CallFilter
from .models import Agent, Call, Queue
from .models.queues import EscalationStep
from .rest import HasRole


class UserOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField(source="get_full_name")


class AgentQueueOutput(serializers.Serializer):
    id = serializers.IntegerField(source="queue.id")
    name = serializers.CharField(source="queue.name")
    level = serializers.IntegerField()


class AgentOutput(serializers.ModelSerializer):
    user = UserOutput()
    queues = AgentQueueOutput(source="memberships", many=True)

    class Meta:
        model = Agent
        fields = [
            "id",
            "user",
            "status",
            "away_reason",
            "activity",
            "status_changed_at",
            "max_concurrent_calls",
            "active_calls",
            "queues",
        ]


class AgentStatusInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=AgentStatus.choices)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")


class WrapUpInput(serializers.Serializer):
    disposition = serializers.CharField(required=False, allow_blank=True, default="", max_length=40)
    notes = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class AgentViewSet(viewsets.ReadOnlyModelViewSet):
    """Agents with their status, activity and queues."""

    permission_classes = [IsAuthenticated, HasRole]
    serializer_class = AgentOutput

    def get_queryset(self):
        return selectors.agents_visible_to(self.request.user).with_directory().order_by("id")

    @extend_schema(request=AgentStatusInput, responses=AgentOutput)
    @action(detail=True, methods=["post"])
    def status(self, request, pk=None):
        """Set the agent's status: available, away (with a reason) or offline."""
        agent = self.get_object()
        if not selectors.can_set_status_of(request.user, agent):
            raise PermissionDenied("You may not change this agent's status.")
        data = AgentStatusInput(data=request.data)
        data.is_valid(raise_exception=True)
        own = agent.user_id == request.user.pk
        services.agent_set_status(
            agent_id=agent.pk,
            status=data.validated_data["status"],
            reason=data.validated_data["reason"],
            source=StatusEventSource.AGENT if own else StatusEventSource.SUPERVISOR,
            acting_user=request.user,
        )
        return Response(AgentOutput(self.get_queryset().get(pk=agent.pk)).data)

    @extend_schema(request=WrapUpInput, responses=AgentOutput)
    @action(detail=True, methods=["post"], url_path="wrap-up")
    def wrap_up(self, request, pk=None):
        """End the agent's wrap-up ("ready"), recording the last call's disposition and notes."""
        agent = self.get_object()
        if not selectors.can_set_status_of(request.user, agent):
            raise PermissionDenied("You may not end this agent's wrap-up.")
        data = WrapUpInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.agent_complete_wrap_up(agent_id=agent.pk, **data.validated_data)
        return Response(AgentOutput(self.get_queryset().get(pk=agent.pk)).data)


class QueueLiveOutput(serializers.Serializer):
    waiting = serializers.IntegerField(source="waiting_count")
    longest_wait_seconds = serializers.SerializerMethodField()
    agents = serializers.SerializerMethodField()

    def get_longest_wait_seconds(self, queue) -> int:
        if queue.oldest_enqueued_at is None:
            return 0
        return max(0, int((self.context["now"] - queue.oldest_enqueued_at).total_seconds()))

    def get_agents(self, queue) -> dict[str, int]:
        return {
            name: getattr(queue, f"agents_{name}")
            for name in ("available", "offered", "on_call", "wrap_up", "away", "offline")
        }


class EscalationStepOutput(serializers.ModelSerializer):
    class Meta:
        model = EscalationStep
        fields = ["after_seconds", "action", "priority", "target_queue"]


class QueueOutput(serializers.ModelSerializer):
    live = QueueLiveOutput(source="*")
    escalation_steps = EscalationStepOutput(many=True, read_only=True)

    class Meta:
        model = Queue
        fields = [
            "id",
            "name",
            "twilio_queue_name",
            "strategy",
            "use_tiers",
            "priority",
            "service_level_seconds",
            "short_abandon_seconds",
            "ring_timeout_seconds",
            "wrap_up_seconds",
            "reject_delay_seconds",
            "no_answer_delay_seconds",
            "max_size",
            "max_wait_seconds",
            "max_wait_action",
            "overflow_queue",
            "time_zone",
            "business_hours",
            "is_active",
            "escalation_steps",
            "live",
        ]


class QueueViewSet(viewsets.ReadOnlyModelViewSet):
    """Queues with their configuration and live counts."""

    permission_classes = [IsAuthenticated, HasRole]
    serializer_class = QueueOutput

    def get_queryset(self):
        return (
            selectors.queues_visible_to(self.request.user)
            .with_live_counts()
            .prefetch_related("escalation_steps")
            .order_by("-priority", "name")
        )

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "now": timezone.now()}


class CallOutput(serializers.ModelSerializer):
    from_number = serializers.SerializerMethodField()
    to_number = serializers.SerializerMethodField()

    class Meta:
        model = Call
        fields = [
            "id",
            "call_sid",
            "parent_call_sid",
            "direction",
            "from_number",
            "to_number",
            "status",
            "stage",
            "outcome",
            "queue",
            "agent",
            "priority",
            "created_at",
            "enqueued_at",
            "answered_at",
            "ended_at",
            "wait_seconds",
            "talk_seconds",
            "hold_seconds",
            "held_since",
            "recording_since",
            "disposition",
            "notes",
        ]

    def _number(self, call: Call, number: str) -> str | None:
        """Our own numbers are shown; the customer's only to those allowed to see it."""
        if number != call.customer_number:
            return number
        return number if selectors.can_see_numbers_of(self.context["request"].user, call) else None

    def get_from_number(self, call) -> str | None:
        return self._number(call, call.from_number)

    def get_to_number(self, call) -> str | None:
        return self._number(call, call.to_number)


class PriorityInput(serializers.Serializer):
    priority = serializers.IntegerField(min_value=-100, max_value=100)


class MoveInput(serializers.Serializer):
    queue = serializers.PrimaryKeyRelatedField(queryset=Queue.objects.all())


class CallActionUser(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class CallActionOutput(serializers.Serializer):
    at = serializers.DateTimeField()
    action = serializers.ChoiceField(
        choices=["hold", "recording", "transfer", "leave", "hangup", "priority", "move", "monitor"]
    )
    user = CallActionUser(allow_null=True)
    details = serializers.DictField(
        help_text="hold: hold; recording: record; transfer: mode and queue, agent or number;"
        " priority and move: before, after; monitor: mode."
    )


class CallActionsOutput(serializers.Serializer):
    results = CallActionOutput(many=True)


class CallViewSet(
    CallControlMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Calls, newest first; callers' numbers only where the viewer may see them."""

    permission_classes = [IsAuthenticated, HasRole]
    serializer_class = CallOutput
    filterset_class = CallFilter

    def get_queryset(self):
        return selectors.calls_visible_to(self.request.user).order_by("-created_at", "-id")

    @extend_schema(responses=CallActionsOutput)
    @action(detail=True, methods=["get"])
    def actions(self, request, pk=None):
        """Who did what to the call and when: hold, recording, transfer, hang-up, priority,
        move and listening in, oldest first (an outside number only where the caller's shows)."""
        call = self.get_object()
        return Response(
            CallActionsOutput({"results": selectors.call_actions(call, request.user)}).data
        )

    @extend_schema(request=PriorityInput, responses=CallOutput)
    @action(detail=True, methods=["post"])
    def priority(self, request, pk=None):
        """Change a waiting caller's priority (higher is served first): the queue's
        supervisors and admins."""
        call = self.get_object()
        if not selectors.can_monitor_call(request.user, call):
            raise PermissionDenied("Only the queue's supervisors change a caller's priority.")
        data = PriorityInput(data=request.data)
        data.is_valid(raise_exception=True)
        call = services.call_set_priority(
            call_id=call.pk, acting_user=request.user, **data.validated_data
        )
        return Response(CallOutput(call, context=self.get_serializer_context()).data)

    @extend_schema(request=MoveInput, responses={202: OperationOutput})
    @action(detail=True, methods=["post"])
    def move(self, request, pk=None):
        """Move a waiting caller to another queue (supervisors of both queues, admins)."""
        call = self.get_object()
        data = MoveInput(data=request.data)
        data.is_valid(raise_exception=True)
        target = data.validated_data["queue"]
        if not selectors.can_move_call(request.user, call, target):
            raise PermissionDenied("Only supervisors of both queues move a caller.")
        operation = services.call_move_to_queue(
            call_id=call.pk,
            queue=target,
            request_key=request.headers.get("Idempotency-Key"),
            acting_user=request.user,
        )
        return Response(OperationOutput(operation).data, status=202)
