"""REST API of messaging (DESIGN.md §5): conversations and their messages, pings, call
invitations. Thin: read through selectors, write through services. A conversation, its
messages and its files are 404 to anyone but its participants."""

from django.http import FileResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import pagination, serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from callcenter.rest import PageNumberPagination, error_body

from . import selectors, services
from .errors import PingLimited
from .frames import invitation_data, message_data, user_data


class InboxPagination(pagination.CursorPagination):
    ordering = ("-last_activity_at", "-id")
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class MessagePagination(pagination.CursorPagination):
    ordering = "-id"  # newest first; `next` goes back in time
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


def _paginate(view: APIView, paginator, queryset, render):
    page = paginator.paginate_queryset(queryset, view.request, view=view)
    return paginator.get_paginated_response([render(item) for item in page])


class ConversationInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["direct", "group"])
    user = serializers.IntegerField(required=False, help_text="direct: the other person")
    title = serializers.CharField(required=False, allow_blank=True, max_length=120, default="")
    members = serializers.ListField(
        child=serializers.IntegerField(), required=False, max_length=100, default=list
    )

    def validate(self, data):
        if data["kind"] == "direct" and data.get("user") is None:
            raise serializers.ValidationError({"user": "A direct conversation needs a user."})
        if data["kind"] == "group" and not data["members"]:
            raise serializers.ValidationError({"members": "A group needs members."})
        return data


class ConversationListView(APIView):
    """The user's conversations, most recent activity first (cursor pagination), with the
    latest message, participants and unread count; POST starts one."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return _paginate(
            self, InboxPagination(), selectors.inbox_of(request.user), selectors.seat_data
        )

    @extend_schema(request=ConversationInput, responses=OpenApiTypes.OBJECT)
    def post(self, request):
        data = ConversationInput(data=request.data)
        data.is_valid(raise_exception=True)
        data = data.validated_data
        if data["kind"] == "direct":
            conversation, created = services.conversation_start_direct(
                user=request.user, other_id=data["user"]
            )
        else:
            conversation = services.conversation_create_group(
                creator=request.user, title=data["title"], member_ids=data["members"]
            )
            created = True
        seat = selectors.seat_of(request.user, conversation.pk)
        return Response(
            selectors.seat_data(seat), status=status.HTTP_201_CREATED if created else 200
        )


class ConversationDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, conversation_id: int):
        return Response(selectors.seat_data(selectors.seat_of(request.user, conversation_id)))


class MessageInput(serializers.Serializer):
    body = serializers.CharField(
        required=False, allow_blank=True, default="", trim_whitespace=False
    )
    client_id = serializers.UUIDField(
        required=False, help_text="Your id for this message: a retry with it never duplicates."
    )
    files = serializers.ListField(child=serializers.FileField(), required=False, default=list)


class MessageListView(APIView):
    """A conversation's messages, newest first (cursor pagination); POST sends one (JSON, or
    multipart with `files`)."""

    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, conversation_id: int):
        messages = selectors.messages_of(request.user, conversation_id)
        return _paginate(
            self,
            MessagePagination(),
            messages,
            lambda m: message_data(m, ping=selectors.ping_of(m)),
        )

    @extend_schema(request=MessageInput, responses=OpenApiTypes.OBJECT)
    def post(self, request, conversation_id: int):
        payload = request.data
        if hasattr(payload, "getlist"):  # multipart: several `files` parts
            payload = {**payload.dict(), "files": request.FILES.getlist("files")}
        data = MessageInput(data=payload)
        data.is_valid(raise_exception=True)
        sent = services.message_send(
            conversation_id=conversation_id,
            sender=request.user,
            body=data.validated_data["body"],
            client_id=data.validated_data.get("client_id"),
            files=data.validated_data["files"],
        )
        return Response(
            message_data(sent.message, attachments=sent.attachments),
            status=status.HTTP_201_CREATED if sent.created else 200,
        )


class MessageEditInput(serializers.Serializer):
    body = serializers.CharField(trim_whitespace=False)


class MessageDetailView(APIView):
    """PATCH edits the text of one's own message; DELETE marks it deleted (it stays, empty)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=MessageEditInput, responses=OpenApiTypes.OBJECT)
    def patch(self, request, conversation_id: int, message_id: int):
        data = MessageEditInput(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.message_edit(
            conversation_id=conversation_id,
            message_id=message_id,
            user=request.user,
            body=data.validated_data["body"],
        )
        return Response(message_data(message))

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def delete(self, request, conversation_id: int, message_id: int):
        message = services.message_delete(
            conversation_id=conversation_id, message_id=message_id, user=request.user
        )
        return Response(message_data(message))


class ReadInput(serializers.Serializer):
    message = serializers.IntegerField(required=False, min_value=1)


class MarkReadView(APIView):
    """Move your read pointer to `message` (default: the latest); never backwards."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=ReadInput, responses=OpenApiTypes.OBJECT)
    def post(self, request, conversation_id: int):
        data = ReadInput(data=request.data)
        data.is_valid(raise_exception=True)
        pointer = services.conversation_mark_read(
            conversation_id=conversation_id,
            user=request.user,
            message_id=data.validated_data.get("message"),
        )
        return Response({"conversation": conversation_id, "last_read_message_id": pointer})


class TypingInput(serializers.Serializer):
    typing = serializers.BooleanField()


class TypingView(APIView):
    """Tell the other participants you started (every few seconds while typing) or stopped."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=TypingInput, responses=None)
    def post(self, request, conversation_id: int):
        data = TypingInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.conversation_typing(
            conversation_id=conversation_id,
            user=request.user,
            typing=data.validated_data["typing"],
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class AttachmentView(APIView):
    """A message's file, for the conversation's participants only."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request, attachment_id: int):
        attachment = selectors.attachment_for(request.user, attachment_id)
        response = FileResponse(
            attachment.file.open("rb"), as_attachment=True, filename=attachment.name
        )
        response["Content-Type"] = attachment.content_type
        response["X-Content-Type-Options"] = "nosniff"
        return response


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

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        direction = request.query_params.get("direction", "sent")
        if direction not in ("sent", "received"):
            return Response(
                error_body(400, "invalid", "direction is sent or received."), status=400
            )
        return _paginate(
            self, PageNumberPagination(), selectors.pings_of(request.user, direction), _ping_row
        )

    @extend_schema(request=PingInput, responses=OpenApiTypes.OBJECT)
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

    @extend_schema(request=PingBatchInput, responses=OpenApiTypes.OBJECT)
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

    @extend_schema(responses=OpenApiTypes.OBJECT)
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


class InvitationInput(serializers.Serializer):
    receiver = serializers.IntegerField()
    call = serializers.IntegerField()
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class InvitationListView(APIView):
    """Invitations you sent or received, newest first; POST invites a colleague (an agent)
    into your current call."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return _paginate(
            self, PageNumberPagination(), selectors.invitations_of(request.user), invitation_data
        )

    @extend_schema(request=InvitationInput, responses=OpenApiTypes.OBJECT)
    def post(self, request):
        data = InvitationInput(data=request.data)
        data.is_valid(raise_exception=True)
        invitation = services.invitation_create(
            caller=request.user,
            receiver_id=data.validated_data["receiver"],
            call_id=data.validated_data["call"],
            note=data.validated_data["note"],
        )
        return Response(invitation_data(invitation), status=status.HTTP_201_CREATED)


class PendingInvitationsView(APIView):
    """Your pending invitations (the polling fallback; cached for a few seconds)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return Response({"results": selectors.pending_invitations(request.user)})


class InvitationRespondView(APIView):
    """accept / decline (the receiver) or cancel (the caller) a pending invitation."""

    permission_classes = [IsAuthenticated]
    action = ""

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request, invitation_id: int):
        invitation = services.invitation_respond(
            invitation_id=invitation_id, user=request.user, action=self.action
        )
        return Response(invitation_data(invitation))
