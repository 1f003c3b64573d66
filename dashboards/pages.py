"""The supervisor and agent dashboards: server-rendered shells that load their data from the
REST API and stay live through the realtime layer (realtime/static/realtime/client.js)."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from callcenter.models import Agent
from callcenter.roles import is_admin, is_supervisor


@login_required
def supervisor(request):
    if not (is_supervisor(request.user) or is_admin(request.user)):
        raise PermissionDenied("The supervisor dashboard is for supervisors.")
    # Listening in rings the supervisor's own softphone: theirs when they have an agent profile.
    page = {
        "userId": request.user.pk,
        "hasSoftphone": Agent.objects.filter(user=request.user).exists(),
        "telephonyMode": settings.TELEPHONY_MODE,
    }
    return render(request, "dashboards/supervisor.html", {"page": page})


@login_required
def agent(request):
    me = Agent.objects.filter(user=request.user).first()
    if me is None:
        raise PermissionDenied("The agent dashboard is for agents.")
    context = {
        "page": {
            "userId": request.user.pk,
            "agentId": me.pk,
            "identity": me.softphone_identity,
            "telephonyMode": settings.TELEPHONY_MODE,
            "dispositions": settings.CALL_DISPOSITIONS,
        }
    }
    return render(request, "dashboards/agent.html", context)
