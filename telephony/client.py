"""The Twilio REST client: the real SDK, pointed at Twilio or at the local simulator."""

from django.conf import settings
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

TWILIO_API = "https://api.twilio.com"


class SimulatorHttpClient(TwilioHttpClient):
    """The SDK's own HTTP client with Twilio's API host replaced by the simulator's address,
    so every request still goes through the SDK's serialization and error handling."""

    def __init__(self, base_url: str, **kwargs):
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        if url.startswith(TWILIO_API):
            url = self.base_url + url.removeprefix(TWILIO_API)
        return super().request(method, url, *args, **kwargs)


def twilio_client() -> Client:
    if settings.TELEPHONY_MODE == "simulated":
        http = SimulatorHttpClient(
            settings.TWILIO_API_BASE_URL, timeout=settings.TWILIO_HTTP_TIMEOUT_SECONDS
        )
    else:
        http = TwilioHttpClient(timeout=settings.TWILIO_HTTP_TIMEOUT_SECONDS)
    if settings.TWILIO_API_KEY:
        return Client(
            settings.TWILIO_API_KEY,
            settings.TWILIO_API_SECRET,
            settings.TWILIO_ACCOUNT_SID,
            http_client=http,
        )
    return Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=http)
