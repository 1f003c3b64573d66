"""Server-rendered pages of the core app."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from .roles import roles_of


@login_required
def home(request):
    return render(request, "callcenter/home.html", {"roles": sorted(roles_of(request.user))})
