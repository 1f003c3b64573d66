"""Absolute URLs of our webhooks as given to Twilio.

They start with TWILIO_WEBHOOK_BASE_URL (the public address, behind any TLS proxy), so the
signature Twilio computes over them is the one the webhooks check, and they carry Twilio's
connection overrides so a transient failure is retried instead of dropping the event.
"""

from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse

# Retry 3 times on connect/read timeouts and 5xx; connect timeout 2 s, read 10 s.
CONNECTION_OVERRIDES = "rc=3&rp=ct,rt,5xx&ct=2000&rt=10000"


def twilio_url(name: str, *, overrides: bool = True, **query) -> str:
    url = settings.TWILIO_WEBHOOK_BASE_URL.rstrip("/") + reverse(name)
    params = {k: v for k, v in query.items() if v not in (None, "")}
    if params:
        url += "?" + urlencode(params)
    if overrides:
        url += "#" + CONNECTION_OVERRIDES
    return url
