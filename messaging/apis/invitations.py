"""Call invitations: create, list, the pending check, accept / decline / cancel."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from callcenter.rest import PageNumberPagination
from messaging import selectors, services
from messaging.frames import invitation_data

from . import schema
from .chat import paginate


class InvitationInput(serializers.Serializer):
    receiver = serializers.IntegerField()
    call = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="Omit to invite to a new call."
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class InvitationListView(APIView):
    """Invitations you sent or received, newest first; POST invites a colleague (an agent)
    into your current call (`call`), or to a new call between you two (no `call`)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: schema.InvitationPageOutput, **schema.errors()})
    def get(self, request):
        return paginate(
            self, PageNumberPagination(), selectors.invitations_of(request.user), invitation_data
        )

    @extend_schema(
        request=InvitationInput,
        responses={201: schema.InvitationOutput, **schema.errors(400, 409)},
    )
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

    @extend_schema(responses={200: schema.PendingInvitationsOutput, **schema.errors()})
    def get(self, request):
        return Response({"results": selectors.pending_invitations(request.user)})


class InvitationRespondView(APIView):
    """accept / decline (the receiver) or cancel (the caller) a pending invitation."""

    permission_classes = [IsAuthenticated]
    action = ""

    @extend_schema(
        request=None, responses={200: schema.InvitationOutput, **schema.errors(400, 404, 409)}
    )
    def post(self, request, invitation_id: int):
        invitation = services.invitation_respond(
            invitation_id=invitation_id, user=request.user, action=self.action
        )
        return Response(invitation_data(invitation))
