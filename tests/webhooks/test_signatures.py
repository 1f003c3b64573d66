"""The signature matrix: only requests signed by Twilio over the exact URL are served."""

import pytest
from django.test import override_settings

from callcenter.models import Call, CallEvent
from tests.webhooks.conftest import call_params, sign

pytestmark = pytest.mark.django_db
INCOMING = "/webhooks/twilio/voice/incoming/"
STATUS = "/webhooks/twilio/voice/status/"


def nothing_stored() -> bool:
    return not Call.objects.exists() and not CallEvent.objects.exists()


def test_valid_signature_is_served(twilio, direct_number):
    assert twilio.post(INCOMING, call_params()).status_code == 200
    assert Call.objects.count() == 1


def test_behind_a_tls_proxy_the_public_url_is_what_counts(twilio, direct_number, settings):
    # The request reaches Django over plain HTTP on an internal host; Twilio signed the
    # public https URL with the query string.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "web"]
    path = "/webhooks/twilio/voice/status/?for=CA123"
    params = {**call_params(), "CallStatus": "completed", "SequenceNumber": "0"}
    signature = sign(settings.TWILIO_WEBHOOK_BASE_URL + path, params)
    response = twilio.client.post(
        path, params, HTTP_X_TWILIO_SIGNATURE=signature, HTTP_HOST="web:8000"
    )
    assert response.status_code == 204


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda p, s: ({**p, "From": "+19999999999"}, s), id="tampered-parameter"),
        pytest.param(lambda p, s: ({**p, "Extra": "1"}, s), id="extra-parameter"),
        pytest.param(lambda p, s: (p, ""), id="missing-header"),
        pytest.param(
            lambda p, s: (p, sign("https://evil.example.com" + INCOMING, p)), id="wrong-url"
        ),
        pytest.param(
            lambda p, s: (p, sign("https://switchboard.example.com/other/", p)), id="wrong-path"
        ),
        pytest.param(
            lambda p, s: (p, sign("https://switchboard.example.com" + INCOMING, p, "x")),
            id="wrong-token",
        ),
    ],
)
def test_forged_requests_get_403_and_store_nothing(twilio, direct_number, forge, settings):
    params = call_params()
    good = sign(settings.TWILIO_WEBHOOK_BASE_URL + INCOMING, params)
    params, signature = forge(params, good)
    response = twilio.client.post(INCOMING, params, HTTP_X_TWILIO_SIGNATURE=signature)
    assert response.status_code == 403
    assert nothing_stored()


@override_settings(TWILIO_AUTH_TOKEN="")
def test_no_token_configured_fails_closed(twilio, direct_number):
    assert twilio.post(INCOMING, call_params(), signature="anything").status_code == 403
    assert nothing_stored()


def test_get_is_refused(client, direct_number):
    assert client.get(INCOMING).status_code in (403, 405)


def test_json_bodies_are_checked_through_body_sha256(client, settings):
    import hashlib

    body = '{"CallSid": "CA1"}'
    digest = hashlib.sha256(body.encode()).hexdigest()
    path = f"{STATUS}?bodySHA256={digest}"
    signature = sign(settings.TWILIO_WEBHOOK_BASE_URL + path, {})
    ok = client.post(path, body, content_type="application/json", HTTP_X_TWILIO_SIGNATURE=signature)
    assert ok.status_code != 403
    tampered = client.post(
        path,
        body.replace("CA1", "CA2"),
        content_type="application/json",
        HTTP_X_TWILIO_SIGNATURE=signature,
    )
    assert tampered.status_code == 403


def test_webhooks_are_csrf_exempt_only_there(twilio, direct_number, client):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    params = call_params()
    url = "https://switchboard.example.com" + INCOMING
    assert (
        strict.post(INCOMING, params, HTTP_X_TWILIO_SIGNATURE=sign(url, params)).status_code == 200
    )
    assert strict.post("/accounts/login/", {"username": "x", "password": "y"}).status_code == 403


@pytest.mark.parametrize(
    ("configured", "signed"),
    [
        ("https://switchboard.example.com", "https://switchboard.example.com"),
        ("https://switchboard.example.com", "https://switchboard.example.com:443"),
        ("https://switchboard.example.com:443", "https://switchboard.example.com"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
    ],
)
def test_twilio_may_sign_the_url_with_or_without_its_port(
    twilio, direct_number, settings, configured, signed
):
    settings.TWILIO_WEBHOOK_BASE_URL = configured
    params = call_params()
    signature = sign(signed + INCOMING, params)
    response = twilio.client.post(INCOMING, params, HTTP_X_TWILIO_SIGNATURE=signature)
    assert response.status_code == 200


def test_a_form_post_is_judged_as_the_sdks_validate_judges_it_in_one_hmac(monkeypatch):
    from django.http import QueryDict
    from twilio.request_validator import RequestValidator

    from webhooks.security import _validate_form

    validator = RequestValidator("test-auth-token")
    params = QueryDict("CallSid=CA1&CallStatus=completed&Digits=1&Digits=2")
    cases = []
    for url in (
        "https://switchboard.example.com/webhooks/twilio/voice/status/?for=CA1",
        "https://switchboard.example.com:443/webhooks/twilio/voice/status/",
        "http://127.0.0.1:8000/webhooks/twilio/voice/status/",
    ):
        parsed = url.replace(":443", "").replace(":8000", "")
        for signed_url in (url, parsed, url + "x"):
            for algorithm in (None, "HMAC-SHA256", "HMAC-MD5"):
                try:
                    signature = validator.compute_signature(signed_url, params, algorithm)
                except ValueError:
                    signature = "bogus"
                cases.append((url, signature, algorithm))
    for url, signature, algorithm in cases:
        expected = validator.validate(url, params, signature, algorithm)
        assert _validate_form(validator, url, params, signature, algorithm) is expected

    url, compute, computed = cases[0][0], validator.compute_signature, []
    monkeypatch.setattr(
        validator, "compute_signature", lambda *args: computed.append(args) or compute(*args)
    )
    assert _validate_form(validator, url, params, compute(url, params), None)
    assert len(computed) == 1  # the SDK's validate computes two
