"""The simulator configured from Django settings, for `manage.py simulate` and the embedded run."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from telephony.simulator.config import DEFAULT_ACCOUNT_SID, NumberConfig, SimulatorConfig

DEFAULT_REST_PORT = 8089


def config_from_settings(
    *,
    number: str,
    base_url: str | None = None,
    rest_port: int | None = None,
    **overrides: Any,
) -> SimulatorConfig:
    """Account, token and API key from TWILIO_*, our server at TWILIO_WEBHOOK_BASE_URL, the REST
    API where TWILIO_API_BASE_URL says the gateway will look for it."""
    base_url = base_url or settings.TWILIO_WEBHOOK_BASE_URL
    if not base_url:
        raise ValueError("no webhook base URL: set TWILIO_WEBHOOK_BASE_URL")
    if not settings.TWILIO_AUTH_TOKEN:
        raise ValueError("TWILIO_AUTH_TOKEN is empty: webhooks could not be signed")
    api = urlsplit(settings.TWILIO_API_BASE_URL)
    if rest_port is None:
        rest_port = api.port if api.port is not None else DEFAULT_REST_PORT
    api_keys = {}
    if settings.TWILIO_API_KEY and settings.TWILIO_API_SECRET:
        api_keys[settings.TWILIO_API_KEY] = settings.TWILIO_API_SECRET
    values: dict[str, Any] = {
        "auth_token": settings.TWILIO_AUTH_TOKEN,
        "webhook_base_url": base_url,
        "numbers": (NumberConfig(number),),
        "account_sid": settings.TWILIO_ACCOUNT_SID or DEFAULT_ACCOUNT_SID,
        "api_keys": api_keys,
        "host": api.hostname or "127.0.0.1",
        "port": rest_port,
    }
    return SimulatorConfig(**(values | overrides))
