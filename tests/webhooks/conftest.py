"""Signed Twilio requests against the webhooks, the way Twilio sends them."""

import xml.etree.ElementTree as ET

import pytest
from django.conf import settings
from django.test import TestCase
from twilio.request_validator import RequestValidator

from tests.factories import PhoneNumberFactory, QueueFactory

CALLER = "+14155550123"
NUMBER = "+15005550006"


def sign(url: str, params: dict, token: str | None = None) -> str:
    return RequestValidator(token or settings.TWILIO_AUTH_TOKEN).compute_signature(url, params)


class Twilio:
    """Posts form-encoded, signed requests to our webhooks as Twilio does."""

    def __init__(self, client):
        self.client = client

    def post(self, path: str, params: dict, *, signature: str | None = None, headers=None):
        url = settings.TWILIO_WEBHOOK_BASE_URL + path
        extra = {
            "HTTP_X_TWILIO_SIGNATURE": signature if signature is not None else sign(url, params)
        }
        for name, value in (headers or {}).items():
            extra["HTTP_" + name.upper().replace("-", "_")] = value
        # Callbacks are applied by a task on commit; the test's transaction never commits,
        # so run what the request queued on commit, as the committed request would.
        with TestCase.captureOnCommitCallbacks(execute=True):
            return self.client.post(path, params, **extra)

    def twiml(self, path: str, params: dict) -> ET.Element:
        response = self.post(path, params)
        assert response.status_code == 200, response.content
        assert response["Content-Type"].startswith("text/xml")
        return ET.fromstring(response.content)  # noqa: S314 - our own TwiML


def call_params(sid: str = "CA" + "1" * 32, **extra) -> dict:
    return {
        "CallSid": sid,
        "AccountSid": settings.TWILIO_ACCOUNT_SID,
        "From": CALLER,
        "To": NUMBER,
        "Caller": CALLER,
        "Called": NUMBER,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
        **extra,
    }


def path_of(url: str) -> str:
    """The path and query of an absolute webhook URL we gave Twilio (fragment dropped)."""
    base = settings.TWILIO_WEBHOOK_BASE_URL
    assert url.startswith(base), url
    return url.removeprefix(base).split("#", 1)[0]


@pytest.fixture
def twilio(client):
    return Twilio(client)


@pytest.fixture
def sales(db):
    return QueueFactory(name="Sales", twilio_queue_name="sales", greeting="")


@pytest.fixture
def direct_number(sales):
    return PhoneNumberFactory(e164=NUMBER, default_queue=sales, greeting="Welcome.")
