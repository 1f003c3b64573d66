"""Softphone access tokens: an AccessToken with a VoiceGrant, for one agent identity."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VoiceGrant

MAX_TTL_SECONDS = 3600


@dataclass(frozen=True)
class SoftphoneToken:
    token: str
    identity: str
    expires_at: datetime


def softphone_token(identity: str, *, ttl: int = MAX_TTL_SECONDS) -> SoftphoneToken:
    """Incoming calls to `identity` and outgoing calls through the configured TwiML app."""
    ttl = min(ttl, MAX_TTL_SECONDS)
    token = AccessToken(
        settings.TWILIO_ACCOUNT_SID,
        settings.TWILIO_API_KEY,
        settings.TWILIO_API_SECRET,
        identity=identity,
        ttl=ttl,
    )
    token.add_grant(
        VoiceGrant(
            outgoing_application_sid=settings.TWILIO_TWIML_APP_SID or None, incoming_allow=True
        )
    )
    return SoftphoneToken(
        token=token.to_jwt(), identity=identity, expires_at=timezone.now() + timedelta(seconds=ttl)
    )
