"""Documentation only: the shapes messaging's REST views answer with, for the OpenAPI schema.

The views answer with the plain dicts of `messaging.frames`, `messaging.selectors` and
`pings.py` (the same dicts realtime frames carry) and skip a serializer pass, for speed;
nothing here serializes a response. `tests/messaging/test_schema.py` validates every answer
of a realistic flow against the served schema (every documented key required, no key left
undocumented), so a change to those dicts that is not made here too fails it. The comment
over each class names the function whose dict it documents."""

from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema_field,
)
from rest_framework import serializers

from messaging.models import ConversationKind, InvitationStatus, MessageKind, PingStatScope


def _enum_field(component_name: str, choices) -> type[serializers.ChoiceField]:
    """A choice field documented by a named enum component: several components call different
    choice sets `kind`, which spectacular cannot name apart without a settings override."""

    @extend_schema_field(
        {"type": "string", "enum": [value for value, _ in choices]}, component_name=component_name
    )
    class EnumField(serializers.ChoiceField):
        def __init__(self, **kwargs):
            super().__init__(choices=choices, **kwargs)

    return EnumField


MessageKindField = _enum_field("MessageKindEnum", MessageKind.choices)
ConversationKindField = _enum_field("ConversationKindEnum", ConversationKind.choices)


# -- people, files, messages -------------------------------------------------------------


# frames.user_data
class ChatUserOutput(serializers.Serializer):
    """A person in messaging."""

    id = serializers.IntegerField(help_text="User id.")
    username = serializers.CharField()
    name = serializers.CharField(help_text="Full name, else the username.")


# frames.attachment_data
class AttachmentOutput(serializers.Serializer):
    """A message's file."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField(help_text="Bytes.")
    url = serializers.CharField(
        help_text="Path of the file, `/api/v1/attachments/{id}/` (participants only)."
    )


# selectors.ping_of
class MessagePingOutput(serializers.Serializer):
    """The ping a `ping` message carries."""

    id = serializers.IntegerField()
    receiver = serializers.IntegerField(help_text="User id.")
    call = serializers.IntegerField(allow_null=True)
    queue = serializers.IntegerField(allow_null=True)
    responded_at = serializers.DateTimeField(allow_null=True)


# frames.message_data
class MessageOutput(serializers.Serializer):
    """A message; the `message.created` and `message.updated` frames carry the same."""

    id = serializers.IntegerField()
    conversation = serializers.IntegerField()
    sender = ChatUserOutput()
    client_id = serializers.UUIDField()
    kind = MessageKindField()
    body = serializers.CharField(allow_blank=True, help_text="Empty once deleted.")
    created_at = serializers.DateTimeField()
    edited_at = serializers.DateTimeField(allow_null=True)
    deleted = serializers.BooleanField()
    attachments = AttachmentOutput(many=True, help_text="Empty once deleted.")
    ping = MessagePingOutput(
        allow_null=True,
        help_text="A `ping` message's ping in a page of messages (and in its "
        "`message.created` frame); null otherwise.",
    )


# selectors._last_message
class LastMessageOutput(serializers.Serializer):
    """A conversation's latest message, its text cut at 200 characters."""

    id = serializers.IntegerField()
    sender = ChatUserOutput()
    kind = MessageKindField()
    body = serializers.CharField(allow_blank=True, help_text="At most 200 characters.")
    created_at = serializers.DateTimeField()
    deleted = serializers.BooleanField()


# -- conversations -----------------------------------------------------------------------


# selectors.seat_data, `participants`
class ParticipantOutput(ChatUserOutput):
    """A participant with their read pointer (read receipts)."""

    last_read_message_id = serializers.IntegerField(help_text="0: nothing read yet.")


# selectors.seat_data
class ConversationOutput(serializers.Serializer):
    """A conversation as you (a participant) see it."""

    id = serializers.IntegerField()
    kind = ConversationKindField()
    title = serializers.CharField(allow_blank=True)
    participants = ParticipantOutput(many=True)
    last_message = LastMessageOutput(allow_null=True)
    last_activity_at = serializers.DateTimeField()
    last_read_message_id = serializers.IntegerField(help_text="Yours; 0: nothing read yet.")
    unread = serializers.IntegerField(help_text="Others' messages after your read pointer.")


# chat.MarkReadView
class MarkReadOutput(serializers.Serializer):
    """Your read pointer after the move."""

    conversation = serializers.IntegerField()
    last_read_message_id = serializers.IntegerField()


# -- invitations -------------------------------------------------------------------------


# frames.invitation_data
class InvitationOutput(serializers.Serializer):
    """A call invitation; the `invitation.created` and `invitation.updated` frames carry the
    same."""

    id = serializers.IntegerField()
    caller = ChatUserOutput()
    receiver = ChatUserOutput()
    call = serializers.IntegerField(
        allow_null=True, help_text="The caller's call; null: an invitation to a new call."
    )
    status = serializers.ChoiceField(choices=InvitationStatus.choices)
    note = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    responded_at = serializers.DateTimeField(allow_null=True)


# invitations.PendingInvitationsView (selectors.pending_invitations)
class PendingInvitationsOutput(serializers.Serializer):
    """Your pending invitations."""

    results = InvitationOutput(many=True, help_text="Soonest to expire first.")


# -- pings -------------------------------------------------------------------------------


# pings._ping_row
class PingRowOutput(serializers.Serializer):
    """A ping you sent or received."""

    id = serializers.IntegerField()
    sender = ChatUserOutput()
    receiver = ChatUserOutput()
    conversation = serializers.IntegerField()
    note = serializers.CharField(allow_blank=True)
    call = serializers.IntegerField(allow_null=True)
    queue = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    responded_at = serializers.DateTimeField(
        allow_null=True, help_text="When the receiver next wrote in the conversation."
    )
    response_seconds = serializers.FloatField(allow_null=True)


# pings._outcome, sent
class PingSentOutput(serializers.Serializer):
    """A ping sent: its id, the direct conversation and the ping's message."""

    receiver = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["sent"])
    ping = serializers.IntegerField()
    conversation = serializers.IntegerField()
    message = MessageOutput()


# pings._outcome, refused: callcenter.rest.error_body's inner object, flattened details
class PingRefusalOutput(serializers.Serializer):
    """Why a ping of a batch was refused."""

    status = serializers.IntegerField(help_text="The HTTP status a single ping would get.")
    code = serializers.CharField()
    message = serializers.CharField()
    next_allowed_at = serializers.DateTimeField(
        required=False, help_text="Over the daily limit or within the cooldown only."
    )


# pings._outcome, refused
class PingRefusedOutput(serializers.Serializer):
    """A ping of a batch refused (limit, cooldown, unknown receiver, yourself); the others
    are still sent."""

    receiver = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["refused"])
    error = PingRefusalOutput()


# pings.PingBatchView
class PingBatchOutput(serializers.Serializer):
    """One result per receiver, in the order given (duplicates dropped)."""

    results = PolymorphicProxySerializer(
        component_name="PingOutcomeOutput",
        serializers={"sent": PingSentOutput, "refused": PingRefusedOutput},
        resource_type_field_name="status",
        many=True,
    )


class PingStatQueueOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


# pings._stat_row
class PingStatOutput(serializers.Serializer):
    """One day of pings: yours as receiver (scope `user`) or a team's (scope `team`)."""

    day = serializers.DateField()
    scope = serializers.ChoiceField(choices=PingStatScope.choices)
    user = serializers.IntegerField(allow_null=True, help_text="Scope `user`: you.")
    queue = PingStatQueueOutput(allow_null=True, help_text="Scope `team`: the queue.")
    sent = serializers.IntegerField()
    received = serializers.IntegerField()
    responded = serializers.IntegerField()
    response_avg_seconds = serializers.FloatField(allow_null=True)
    response_p50_seconds = serializers.FloatField(allow_null=True)
    response_p90_seconds = serializers.FloatField(allow_null=True)


# pings.PingStatsView
class PingStatsOutput(serializers.Serializer):
    """Daily ping statistics, newest day first."""

    results = PingStatOutput(many=True)


# -- pages -------------------------------------------------------------------------------


# DRF's CursorPagination.get_paginated_response
class _CursorPage(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text="Older items; null: no more.")
    previous = serializers.URLField(allow_null=True, help_text="Newer items; null: none.")


# callcenter.rest.PageNumberPagination (DRF's get_paginated_response)
class _NumberedPage(serializers.Serializer):
    count = serializers.IntegerField(help_text="Items over all pages.")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)


class ConversationPageOutput(_CursorPage):
    """A page of your conversations, most recent activity first (cursor pagination)."""

    results = ConversationOutput(many=True)


class MessagePageOutput(_CursorPage):
    """A page of a conversation's messages, newest first (cursor pagination)."""

    results = MessageOutput(many=True)


class InvitationPageOutput(_NumberedPage):
    """A page of invitations, newest first (`page`, `page_size`)."""

    results = InvitationOutput(many=True)


class PingPageOutput(_NumberedPage):
    """A page of pings, newest first (`page`, `page_size`)."""

    results = PingRowOutput(many=True)


# -- errors ------------------------------------------------------------------------------


# callcenter.rest.error_body
class ErrorDetailOutput(serializers.Serializer):
    status = serializers.IntegerField()
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.JSONField(required=False, help_text="Field validation only.")


class ErrorOutput(serializers.Serializer):
    """The API's one error shape."""

    error = ErrorDetailOutput()


class PingLimitDetailsOutput(serializers.Serializer):
    next_allowed_at = serializers.DateTimeField()


class PingLimitErrorOutput(ErrorDetailOutput):
    details = PingLimitDetailsOutput()


# pings._limited
class PingLimitedOutput(serializers.Serializer):
    """The one error shape, with when the next ping to this receiver is allowed."""

    error = PingLimitErrorOutput()


_ERRORS = {
    400: "Invalid input.",
    401: "Not signed in.",
    404: "No such object, or not yours to see.",
    409: "Not allowed in the current state.",
}


def errors(*statuses: int) -> dict[int, OpenApiResponse]:
    """An operation's error answers (401 always: every view needs a signed-in user)."""
    return {
        status: OpenApiResponse(ErrorOutput, description=_ERRORS[status])
        for status in sorted({401, *statuses})
    }


PING_LIMITED = OpenApiResponse(
    PingLimitedOutput,
    description="Over the daily limit or within the cooldown for this receiver; the "
    "`Retry-After` header says in how many seconds.",
)
