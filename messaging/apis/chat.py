"""Conversations, messages, read pointers, typing and attachments."""

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import pagination, serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from messaging import selectors, services
from messaging.frames import message_data

from . import schema


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


def paginate(view: APIView, paginator, queryset, render):
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

    @extend_schema(
        operation_id="conversations_list",
        responses={200: schema.ConversationPageOutput, **schema.errors()},
    )
    def get(self, request):
        return paginate(
            self, InboxPagination(), selectors.inbox_of(request.user), selectors.seat_data
        )

    @extend_schema(
        request=ConversationInput,
        responses={
            201: schema.ConversationOutput,
            200: OpenApiResponse(
                schema.ConversationOutput, description="The existing direct conversation."
            ),
            **schema.errors(400),
        },
    )
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

    @extend_schema(responses={200: schema.ConversationOutput, **schema.errors(404)})
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

    @extend_schema(responses={200: schema.MessagePageOutput, **schema.errors(404)})
    def get(self, request, conversation_id: int):
        messages = selectors.messages_of(request.user, conversation_id)
        return paginate(
            self,
            MessagePagination(),
            messages,
            lambda m: message_data(m, ping=selectors.ping_of(m)),
        )

    @extend_schema(
        request=MessageInput,
        responses={
            201: schema.MessageOutput,
            200: OpenApiResponse(
                schema.MessageOutput, description="A retry: the message stored with `client_id`."
            ),
            **schema.errors(400, 404),
        },
    )
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

    @extend_schema(
        request=MessageEditInput, responses={200: schema.MessageOutput, **schema.errors(400, 404)}
    )
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

    @extend_schema(responses={200: schema.MessageOutput, **schema.errors(400, 404)})
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

    @extend_schema(
        request=ReadInput, responses={200: schema.MarkReadOutput, **schema.errors(400, 404)}
    )
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

    @extend_schema(request=TypingInput, responses={204: None, **schema.errors(400, 404)})
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

    @extend_schema(
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, **schema.errors(404)}
    )
    def get(self, request, attachment_id: int):
        attachment = selectors.attachment_for(request.user, attachment_id)
        response = FileResponse(
            attachment.file.open("rb"), as_attachment=True, filename=attachment.name
        )
        response["Content-Type"] = attachment.content_type
        response["X-Content-Type-Options"] = "nosniff"
        return response
