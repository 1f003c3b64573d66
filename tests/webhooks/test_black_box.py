"""A black-box Twilio client over real HTTP: signs requests the way Twilio documents them
(HMAC-SHA1 of the full URL followed by the sorted POST parameters, base64), gets TwiML back,
is refused when forged, and reads the final state through the REST API with a token."""

import base64
import hashlib
import hmac
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import pytest
import requests
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from callcenter.models import Queue

pytestmark = [pytest.mark.django_db(transaction=True)]
TOKEN = "black-box-auth-token"


def twilio_signature(url: str, params: dict[str, str]) -> str:
    """Twilio's documented algorithm, written independently of the SDK."""
    payload = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    digest = hmac.new(TOKEN.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@pytest.fixture
def server(live_server, settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.TWILIO_WEBHOOK_BASE_URL = live_server.url
    call_command("seed_demo", verbosity=0)
    return live_server.url


def post(url: str, params: dict, signature: str | None = None) -> requests.Response:
    headers = {"X-Twilio-Signature": signature or twilio_signature(url, params)}
    return requests.post(
        url,
        data=urlencode(params),
        timeout=10,
        headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
    )


def test_black_box_call(server):
    sid = "CA" + "d" * 32
    base = {
        "AccountSid": "AC" + "0" * 32,
        "CallSid": sid,
        "From": "+14155550142",
        "To": "+15005550006",
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }
    incoming = f"{server}/webhooks/twilio/voice/incoming/"

    forged = post(incoming, base, signature=twilio_signature(incoming, {**base, "From": "+1"}))
    assert forged.status_code == 403

    response = post(incoming, base)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/xml")
    gather = ET.fromstring(response.text).find("./Gather")  # noqa: S314 - our own TwiML
    action = gather.get("action").split("#", 1)[0]
    queue = ET.fromstring(post(action, {**base, "Digits": "2"}).text).find("./Enqueue")  # noqa: S314
    assert queue.text == Queue.objects.get(name="Support").twilio_queue_name

    enqueue_action = queue.get("action").split("#", 1)[0]
    assert (
        post(enqueue_action, {**base, "QueueResult": "hangup", "QueueTime": "42"}).status_code
        == 200
    )
    status_url = f"{server}/webhooks/twilio/voice/status/"
    completed = {
        **base,
        "CallStatus": "completed",
        "CallDuration": "60",
        "SequenceNumber": "0",
        "CallbackSource": "call-progress-events",
        "Timestamp": "Mon, 23 Nov 2026 09:01:00 +0000",
    }
    assert post(status_url, completed).status_code == 204
    assert post(status_url, completed).status_code == 204  # Twilio's retry: accepted, not reapplied

    call_command("drf_create_token", "supervisor", verbosity=0)
    key = Token.objects.get(user__username="supervisor").key
    found = requests.get(
        f"{server}/api/v1/calls/",
        params={"call_sid": sid},
        timeout=10,
        headers={"Authorization": f"Token {key}"},
    ).json()
    assert found["count"] == 1
    call = found["results"][0]
    assert (call["status"], call["stage"], call["outcome"]) == ("completed", "ended", "abandoned")
    assert call["wait_seconds"] == 42 and call["from_number"] == "+14155550142"
