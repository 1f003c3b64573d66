"""Twilio request validation: every webhook view is wrapped in `twilio_webhook`.

The signature is checked with the SDK's RequestValidator against TWILIO_WEBHOOK_BASE_URL +
the request's path and query (the URL Twilio called, whatever proxy sits in between), over the
full POST QueryDict (repeated keys included). JSON bodies are checked through their
`bodySHA256` query parameter. Fail closed: no token configured, no header, or a mismatch
answers 403 before the view runs, so nothing is stored. These are the only CSRF-exempt views.
"""

import functools
import logging
from urllib.parse import urlparse

from django.conf import settings
from django.http import HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import (
    RequestValidator,
    add_port,
    compare,
    get_signature_algorithm,
    remove_port,
)

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
    return _validate_form(validator, url, request.POST, signature, algorithm)


def _validate_form(validator, url: str, params, signature: str, algorithm: str) -> bool:
    """`validator.validate` for a form post, accepting exactly what it accepts, in one HMAC
    where it computes two. It signs the URL both with and without its port (Twilio is not
    consistent about the port) and accepts either; Twilio signs the URL we configured, so that
    form is checked first, and `validate` only runs when it does not match."""
    parsed = urlparse(url)
    if url in (add_port(parsed), remove_port(parsed)):  # one of the forms validate accepts
        try:
            if compare(validator.compute_signature(url, params, algorithm), signature):
                return True
        except ValueError:  # an algorithm the SDK does not know: validate refuses (and logs)
            pass
    return validator.validate(url, params, signature, algorithm)


def twilio_webhook(view):
    """Require POST and a valid Twilio signature; exempt from CSRF (Twilio has no cookie)."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if not is_valid_twilio_request(request):
            logger.warning("rejected unsigned or forged Twilio request to %s", request.path)
            return HttpResponseForbidden("Invalid Twilio signature.")
        return view(request, *args, **kwargs)

    return csrf_exempt(require_POST(wrapped))
