"""Call control and softphone endpoints: thin views over callcenter.services.call_control.

Each control answers 202 with the operation it queued: Twilio is asked after the response's
transaction commits. An `Idempotency-Key` header makes a retried request a no-op.
"""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from telephony import simulated_device
from telephony.tokens import softphone_token

from . import selectors, services
from .errors import DomainError, InvalidInput
from .models import Agent, Call, Queue
from .models.queues import E164
from .rest import HasRole


class OperationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    status = serializers.CharField()


class HoldInput(serializers.Serializer):
    hold = serializers.BooleanField()


class RecordingInput(serializers.Serializer):
    record = serializers.BooleanField()


class TransferInput(serializers.Serializer):
    mode = serializers.ChoiceField(choices=services.TRANSFER_MODES, default="cold")
    queue = serializers.PrimaryKeyRelatedField(queryset=Queue.objects.all(), required=False)
    agent = serializers.PrimaryKeyRelatedField(queryset=Agent.objects.all(), required=False)
    number = serializers.CharField(required=False, validators=[E164])

    def validate(self, data):
        targets = [name for name in ("queue", "agent", "number") if data.get(name)]
        if len(targets) != 1:
            raise serializers.ValidationError("Give exactly one of queue, agent or number.")
        if data.get("queue") and data["mode"] == "warm":
            raise serializers.ValidationError("A transfer to a queue is always cold.")
        return data


class DialInput(serializers.Serializer):
    to = serializers.CharField(validators=[E164])


class MonitorInput(serializers.Serializer):
    mode = serializers.ChoiceField(choices=services.MONITOR_MODES)


def _accepted(operation) -> Response:
    return Response(OperationOutput(operation).data, status=status.HTTP_202_ACCEPTED)


class CallControlMixin:
    """Actions mixed into the calls viewset (`/calls/{id}/hold/` …)."""

    def _controlled_call(self, request) -> Call:
        call = self.get_object()
        if not selectors.can_control_call(request.user, call):
            raise PermissionDenied("Only the agent on the call or its supervisors control it.")
        return call

    @staticmethod
    def _request_key(request) -> str | None:
        return request.headers.get("Idempotency-Key") or None

    @extend_schema(request=HoldInput, responses={202: OperationOutput})
    @action(detail=True, methods=["post"])
    def hold(self, request, pk=None):
        """Put the customer on hold (participant hold, with the queue's music) or take them off."""
        call = self._controlled_call(request)
        data = HoldInput(data=request.data)
        data.is_valid(raise_exception=True)
        return _accepted(
            services.call_set_hold(
                call=call,
                hold=data.validated_data["hold"],
                request_key=self._request_key(request),
                acting_user=request.user,
            )
        )

    @extend_schema(request=None, responses={202: OperationOutput})
    @action(detail=True, methods=["post"])
    def hangup(self, request, pk=None):
        """End the call for everyone on it."""
        call = self._controlled_call(request)
        return _accepted(
            services.call_hang_up(
                call=call, request_key=self._request_key(request), acting_user=request.user
            )
        )

    @extend_schema(request=None, responses={202: OperationOutput})
    @action(detail=True, methods=["post"])
    def leave(self, request, pk=None):
        """I leave the call and the others on it go on (a warm transfer handed over): my
        softphone's leg is removed, the customer taken off hold."""
        call = self._controlled_call(request)
        agent = Agent.objects.filter(user=request.user).first()
        if agent is None:
            raise PermissionDenied("Only an agent on the call can leave it.")
        return _accepted(
            services.call_leave(
                call=call,
                agent=agent,
                request_key=self._request_key(request),
                acting_user=request.user,
            )
        )

    @extend_schema(request=RecordingInput, responses={202: OperationOutput})
    @action(detail=True, methods=["post"])
    def recording(self, request, pk=None):
        """Start or stop recording the call."""
        call = self._controlled_call(request)
        data = RecordingInput(data=request.data)
        data.is_valid(raise_exception=True)
        return _accepted(
            services.call_set_recording(
                call=call,
                record=data.validated_data["record"],
                request_key=self._request_key(request),
                acting_user=request.user,
            )
        )

    @extend_schema(request=DialInput, responses={202: OperationOutput})
    @action(detail=False, methods=["post"])
    def dial(self, request):
        """Click-to-call: ring my softphone and dial the number into one conference."""
        agent = Agent.objects.filter(user=request.user).first()
        if agent is None:
            raise PermissionDenied("Only agents have a softphone to call from.")
        data = DialInput(data=request.data)
        data.is_valid(raise_exception=True)
        return _accepted(
            services.call_dial_out(
                agent=agent,
                number=data.validated_data["to"],
                request_key=self._request_key(request),
            )
        )

    @extend_schema(request=TransferInput, responses={202: OperationOutput})
    @action(detail=True, methods=["post"])
    def transfer(self, request, pk=None):
        """Transfer the customer to a queue, an agent or an outside number (cold or warm)."""
        call = self._controlled_call(request)
        data = TransferInput(data=request.data)
        data.is_valid(raise_exception=True)
        return _accepted(
            services.call_transfer(
                call=call,
                request_key=self._request_key(request),
                acting_user=request.user,
                **data.validated_data,
            )
        )

    @extend_schema(request=MonitorInput, responses={202: OperationOutput})
    @action(detail=True, methods=["post"])
    def monitor(self, request, pk=None):
        """A supervisor joins from their softphone: listen, whisper to the agent, or barge in."""
        call = self.get_object()
        if not selectors.can_monitor_call(request.user, call):
            raise PermissionDenied("Only the call's queue supervisors may monitor it.")
        data = MonitorInput(data=request.data)
        data.is_valid(raise_exception=True)
        supervisor = Agent.objects.filter(user=request.user).first()
        if supervisor is None:
            raise InvalidInput(
                "You need a softphone (an agent profile) to monitor calls.", code="no_softphone"
            )
        return _accepted(
            services.call_monitor(
                call=call,
                supervisor=supervisor,
                mode=data.validated_data["mode"],
                request_key=self._request_key(request),
                acting_user=request.user,
            )
        )


class SoftphoneTokenOutput(serializers.Serializer):
    token = serializers.CharField()
    identity = serializers.CharField()
    expires_at = serializers.DateTimeField()


class SoftphoneTokenView(APIView):
    """A Voice access token for the signed-in agent's own softphone (at most one hour)."""

    permission_classes = [IsAuthenticated, HasRole]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "softphone_token"

    @extend_schema(request=None, responses=SoftphoneTokenOutput)
    def post(self, request):
        agent = Agent.objects.filter(user=request.user).first()
        if agent is None:
            raise PermissionDenied("Only agents have a softphone.")
        return Response(SoftphoneTokenOutput(softphone_token(agent.softphone_identity)).data)


# --- the browser page as the softphone, in simulated mode -------------------------------------


class SimulatedSoftphoneNotFound(DomainError):
    status = 404
    code = "not_found"


class SimulatorUnavailable(DomainError):
    status = 502
    code = "simulator_unavailable"


class SimulatedRegisterInput(serializers.Serializer):
    ttl = serializers.IntegerField(
        min_value=10, max_value=600, default=simulated_device.DEFAULT_TTL_SECONDS
    )


class SimulatedRegistrationOutput(serializers.Serializer):
    identity = serializers.CharField()
    interactive = serializers.BooleanField()
    expires_in = serializers.FloatField(help_text="Seconds until the registration lapses.")


class SimulatedDecisionInput(serializers.Serializer):
    call_sid = serializers.CharField(
        required=False,
        max_length=34,
        help_text="The leg; default the oldest ringing one (answer, reject) or the newest"
        " answered one (hangup).",
    )


class SimulatedSoftphoneCallOutput(serializers.Serializer):
    call_sid = serializers.CharField(source="sid")
    status = serializers.CharField()
    conference_name = serializers.CharField(allow_null=True)
    awaiting_decision = serializers.BooleanField(help_text="Ringing, waiting for an answer.")


class SimulatedSoftphoneCallsOutput(serializers.Serializer):
    calls = SimulatedSoftphoneCallOutput(many=True)


class SimulatedSoftphoneView(APIView):
    """Base: the signed-in agent's own softphone in the simulator; simulator errors mapped."""

    permission_classes = [IsAuthenticated, HasRole]

    def identity(self, request) -> str:
        agent = Agent.objects.filter(user=request.user).first()
        if agent is None:
            raise PermissionDenied("Only agents have a softphone.")
        return agent.softphone_identity

    def call_simulator(self, function, *args, **kwargs):
        try:
            return function(*args, **kwargs)
        except (
            simulated_device.NotSimulated,
            simulated_device.NoRingingCall,
            simulated_device.NoConnectedCall,
        ) as error:
            raise SimulatedSoftphoneNotFound(error.message) from error
        except simulated_device.SimulatorUnavailable as error:
            raise SimulatorUnavailable(error.message) from error


class SimulatedSoftphoneRegisterView(SimulatedSoftphoneView):
    """Simulated mode: this page is my softphone for `ttl` seconds (call again to renew).
    Rings to me then wait for answer/reject here instead of the simulator's script."""

    @extend_schema(request=SimulatedRegisterInput, responses=SimulatedRegistrationOutput)
    def post(self, request):
        identity = self.identity(request)
        data = SimulatedRegisterInput(data=request.data)
        data.is_valid(raise_exception=True)
        registration = self.call_simulator(
            simulated_device.device_register, identity, ttl=data.validated_data["ttl"]
        )
        return Response(SimulatedRegistrationOutput(registration).data)


class SimulatedSoftphoneDecisionView(SimulatedSoftphoneView):
    decide = staticmethod(simulated_device.device_answer)  # or device_reject

    @extend_schema(request=SimulatedDecisionInput, responses=SimulatedSoftphoneCallOutput)
    def post(self, request):
        identity = self.identity(request)
        data = SimulatedDecisionInput(data=request.data)
        data.is_valid(raise_exception=True)
        call = self.call_simulator(
            self.decide, identity, call_sid=data.validated_data.get("call_sid")
        )
        return Response(SimulatedSoftphoneCallOutput(call).data)


class SimulatedSoftphoneAnswerView(SimulatedSoftphoneDecisionView):
    """Simulated mode: answer the call ringing my softphone; it stays up until hung up."""

    decide = staticmethod(simulated_device.device_answer)


class SimulatedSoftphoneRejectView(SimulatedSoftphoneDecisionView):
    """Simulated mode: reject the call ringing my softphone (the leg ends busy)."""

    decide = staticmethod(simulated_device.device_reject)


class SimulatedSoftphoneHangUpView(SimulatedSoftphoneDecisionView):
    """Simulated mode: hang up my answered call (default the newest), as on a real phone."""

    decide = staticmethod(simulated_device.device_hang_up)


class SimulatedSoftphoneCallsView(SimulatedSoftphoneView):
    """Simulated mode: the calls ringing or up on my softphone, oldest first."""

    @extend_schema(responses=SimulatedSoftphoneCallsOutput)
    def get(self, request):
        calls = self.call_simulator(simulated_device.device_calls, self.identity(request))
        return Response(SimulatedSoftphoneCallsOutput({"calls": calls}).data)


# Included by callcenter.urls at `softphone/simulated/`.
urlpatterns = [
    path(
        "register/", SimulatedSoftphoneRegisterView.as_view(), name="softphone-simulated-register"
    ),
    path("answer/", SimulatedSoftphoneAnswerView.as_view(), name="softphone-simulated-answer"),
    path("reject/", SimulatedSoftphoneRejectView.as_view(), name="softphone-simulated-reject"),
    path("hangup/", SimulatedSoftphoneHangUpView.as_view(), name="softphone-simulated-hangup"),
    path("calls/", SimulatedSoftphoneCallsView.as_view(), name="softphone-simulated-calls"),
]
