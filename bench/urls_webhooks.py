"""The project's URLs plus `/bench/bare-twiml/`: the baseline bench_webhooks compares the
status webhook with. It goes through the same middleware and server but does no parsing,
signature check or query, so the ratio isolates what the webhook itself costs."""

from django.http import HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

BARE_TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    "<Response><Say>Thanks for calling.</Say><Hangup/></Response>"
)


@csrf_exempt
@require_POST
def bare_twiml(request):
    return HttpResponse(BARE_TWIML, content_type="text/xml")


urlpatterns = [
    path("bench/bare-twiml/", bare_twiml, name="bench-bare-twiml"),
    path("", include("callcenter.urls")),
]
