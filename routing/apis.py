"""Offers of desk work (a voicemail) answered from the agent's dashboard: thin views over
routing.work. Only the offered agent sees their offer (404 for anyone else). `GET offers/`:
my offers still open, for a page that reloads while one rings or a voicemail is taken."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from callcenter.models import Agent

from . import work
from .models import Reservation, ReservationStatus, WorkKind
from .selectors import open_offers

NO_SUCH_OFFER = "No such offer of yours."


class OfferOutput(serializers.ModelSerializer):
    class Meta:
        model = Reservation
        fields = ["id", "kind", "call", "queue", "status", "offered_at", "expires_at", "ended_at"]


class _OfferAction(APIView):
    permission_classes = [IsAuthenticated]
    transition = None

    @extend_schema(request=None, responses=OfferOutput)
    def post(self, request, pk: int):
        agent = Agent.objects.filter(user=request.user).first()
        if agent is None:
            raise NotFound(NO_SUCH_OFFER)
        try:
            reservation = type(self).transition(reservation_id=pk, agent=agent)
        except Reservation.DoesNotExist:
            raise NotFound(NO_SUCH_OFFER) from None
        return Response(OfferOutput(reservation).data)


class AcceptOffer(_OfferAction):
    """Take the offered voicemail (the agent is busy with it until they complete it)."""

    transition = staticmethod(work.routing_work_accept)


class RejectOffer(_OfferAction):
    """Decline the offered voicemail: it goes to another agent, keeping its place."""

    transition = staticmethod(work.routing_work_reject)


class CompleteOffer(_OfferAction):
    """Done with the voicemail taken: the agent wraps up."""

    transition = staticmethod(work.routing_work_complete)


class OpenOfferOutput(serializers.Serializer):
    reservation_id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=WorkKind.choices)
    call_id = serializers.IntegerField()
    queue_id = serializers.IntegerField()
    queue_name = serializers.CharField()
    status = serializers.ChoiceField(choices=ReservationStatus.choices)
    offered_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    from_number = serializers.CharField(allow_null=True)
    voicemail = serializers.DictField(required=False)
    callback = serializers.DictField(required=False)


class OpenOffersOutput(serializers.Serializer):
    results = OpenOfferOutput(many=True)


class OpenOffers(APIView):
    """My offers still open: ringing ones (any kind) and voicemails I took and have not
    completed, as their `offer.created` frames said them."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=OpenOffersOutput)
    def get(self, request):
        return Response(OpenOffersOutput({"results": open_offers(request.user)}).data)


urlpatterns = [
    path("", OpenOffers.as_view(), name="offers-open"),
    path("<int:pk>/accept/", AcceptOffer.as_view(), name="offer-accept"),
    path("<int:pk>/reject/", RejectOffer.as_view(), name="offer-reject"),
    path("<int:pk>/complete/", CompleteOffer.as_view(), name="offer-complete"),
]
