"""Pings (single and batch), their list and their statistics."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from callcenter.rest import PageNumberPagination, error_body
from messaging import selectors, services
from messaging.errors import PingLimited
from messaging.frames import message_data, user_data

from . import schema
from .chat import paginate


class PingInput(serializers.Serializer):
    receiver = serializers.IntegerField()
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
    call = serializers.IntegerField(required=False, allow_null=True, default=None)
    queue = serializers.IntegerField(required=False, allow_null=True, default=None)


class PingBatchInput(serializers.Serializer):
    receivers = serializers.ListField(child=serializers.IntegerField(), min_length=1, max_length=50)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
    call = serializers.IntegerField(required=False, allow_null=True, default=None)
    queue = serializers.IntegerField(required=False, allow_null=True, default=None)


def _limited(error: PingLimited) -> dict:
    return error_body(
        429, error.code, error.message, {"next_allowed_at": error.next_allowed_at.isoformat()}
    )


def _retry_after(error: PingLimited) -> str:
    return str(max(1, int((error.next_allowed_at - timezone.now()).total_seconds()) + 1))


def _outcome(outcome) -> dict:
    if outcome.error is not None:
        result = {
            "receiver": outcome.receiver_id,
            "status": "refused",
            **error_body(outcome.error.status, outcome.error.code, outcome.error.message),
        }
        if isinstance(outcome.error, PingLimited):
            result["error"]["next_allowed_at"] = outcome.error.next_allowed_at.isoformat()
        return result
    return {
        "receiver": outcome.receiver_id,
        "status": "sent",
        "ping": outcome.ping_id,
        "conversation": outcome.conversation_id,
        "message": message_data(outcome.message, attachments=[]),
    }


def _ping_row(ping) -> dict:
    return {
        "id": ping.pk,
        "sender": user_data(ping.sender),
        "receiver": user_data(ping.receiver),
        "conversation": ping.conversation_id,
        "note": ping.message.body,
        "call": ping.call_id,
        "queue": ping.queue_id,
        "created_at": ping.created_at,
        "responded_at": ping.responded_at,
        "response_seconds": ping.response_seconds,
    }


class PingListView(APIView):
    """Your pings (`?direction=sent|received`, newest first); POST pings a colleague:
    429 with `details.next_allowed_at` (and Retry-After) over the daily limit or within
    the cooldown for that colleague."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: schema.PingPageOutput, **schema.errors(400)})
    def get(self, request):
        direction = request.query_params.get("direction", "sent")
        if direction not in ("sent", "received"):
            return Response(
                error_body(400, "invalid", "direction is sent or received."), status=400
            )
        return paginate(
            self, PageNumberPagination(), selectors.pings_of(request.user, direction), _ping_row
        )

    @extend_schema(
        request=PingInput,
        responses={201: schema.PingSentOutput, **schema.errors(400), 429: schema.PING_LIMITED},
    )
    def post(self, request):
        data = PingInput(data=request.data)
        data.is_valid(raise_exception=True)
        data = data.validated_data
        try:
            outcome = services.ping_send(
                sender=request.user,
                receiver_id=data["receiver"],
                note=data["note"],
                call_id=data["call"],
                queue_id=data["queue"],
            )
        except PingLimited as error:
            return Response(
                _limited(error), status=429, headers={"Retry-After": _retry_after(error)}
            )
        return Response(_outcome(outcome), status=status.HTTP_201_CREATED)


class PingBatchView(APIView):
    """Ping up to 50 colleagues in one transaction: one result per receiver, in order."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=PingBatchInput, responses={200: schema.PingBatchOutput, **schema.errors(400)}
    )
    def post(self, request):
        data = PingBatchInput(data=request.data)
        data.is_valid(raise_exception=True)
        data = data.validated_data
        outcomes = services.pings_send_batch(
            sender=request.user,
            receiver_ids=data["receivers"],
            note=data["note"],
            call_id=data["call"],
            queue_id=data["queue"],
        )
        return Response({"results": [_outcome(o) for o in outcomes]})


class PingStatsView(APIView):
    """Daily ping response-time statistics (`?days=`, 1..90, default 7): yours as a receiver,
    and your teams' (the queues you belong to). Computed by `ping_stats_refresh_task`."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: schema.PingStatsOutput, **schema.errors(400)})
    def get(self, request):
        raw = request.query_params.get("days", "7")
        if not raw.isdigit() or not 1 <= int(raw) <= 90:
            return Response(error_body(400, "invalid", "days is 1..90."), status=400)
        rows = selectors.ping_stats_of(request.user, int(raw))
        return Response({"results": [_stat_row(row) for row in rows]})


def _stat_row(stat) -> dict:
    return {
        "day": stat.day,
        "scope": stat.scope,
        "user": stat.user_id,
        "queue": {"id": stat.queue.pk, "name": stat.queue.name} if stat.queue else None,
        "sent": stat.sent,
        "received": stat.received,
        "responded": stat.responded,
        "response_avg_seconds": stat.response_avg_seconds,
        "response_p50_seconds": stat.response_p50_seconds,
        "response_p90_seconds": stat.response_p90_seconds,
    }
