"""Offers of desk work (a voicemail) answered from the agent's dashboard: thin views over
routing.work. Only the offered agent sees their offer (404 for anyone else)."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from callcenter.models import Agent

from . import work
from .models import Reservation

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


urlpatterns = [
    path("<int:pk>/accept/", AcceptOffer.as_view(), name="offer-accept"),
    path("<int:pk>/reject/", RejectOffer.as_view(), name="offer-reject"),
    path("<int:pk>/complete/", CompleteOffer.as_view(), name="offer-complete"),
]
