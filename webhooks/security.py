"""Twilio request validation: every webhook view is wrapped in `twilio_webhook`.

The signature is checked with the SDK's RequestValidator against TWILIO_WEBHOOK_BASE_URL +
the request's path and query (the URL Twilio called, whatever proxy sits in between), over the
full POST QueryDict (repeated keys included). JSON bodies are checked through their
`bodySHA256` query parameter. Fail closed: no token configured, no header, or a mismatch
answers 403 before the view runs, so nothing is stored. These are the only CSRF-exempt views.
"""

import functools
import logging

from django.conf import settings
from django.http import HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator, get_signature_algorithm

logger = logging.getLogger(__name__)


def signed_url(request) -> str:
    return settings.TWILIO_WEBHOOK_BASE_URL.rstrip("/") + request.get_full_path()


def is_valid_twilio_request(request) -> bool:
    token = settings.TWILIO_AUTH_TOKEN
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature or not settings.TWILIO_WEBHOOK_BASE_URL:
        return False
    validator = RequestValidator(token)
    url = signed_url(request)
    algorithm = get_signature_algorithm(
        request.headers.get("X-Twilio-Webhooks-Signature-Settings", "")
    )
    if request.content_type == "application/json":
        if "bodySHA256" not in request.GET:
            return False
        body = request.body.decode("utf-8", "replace")
        return validator.validate(url, body, signature, algorithm)
    return validator.validate(url, request.POST, signature, algorithm)


def twilio_webhook(view):
    """Require POST and a valid Twilio signature; exempt from CSRF (Twilio has no cookie)."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if not is_valid_twilio_request(request):
            logger.warning("rejected unsigned or forged Twilio request to %s", request.path)
            return HttpResponseForbidden("Invalid Twilio signature.")
        return view(request, *args, **kwargs)

    return csrf_exempt(require_POST(wrapped))
