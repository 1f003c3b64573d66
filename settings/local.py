"""The embedded default (DESIGN.md §4): one process, no external service.

SQLite, the in-memory channel layer, the local-memory cache and in-process Celery, unless the
environment names services (then it is the services mode on a developer's machine).
"""

from .base import *  # noqa: F403
from .base import BASE_DIR, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="embedded-run-only-not-a-secret")
LOG_FORMAT = env.str("LOG_FORMAT", default="console")
(BASE_DIR / "var").mkdir(exist_ok=True)

# The embedded run's Twilio is the simulator: it signs webhooks with this token, calls this
# server at this address and serves Twilio's REST API at TWILIO_API_BASE_URL.
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="embedded-simulator-token")
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="AC" + "0" * 32)
# Softphone tokens are signed with this key pair in the embedded run.
TWILIO_API_KEY = env.str("TWILIO_API_KEY", default="SK" + "0" * 32)
TWILIO_API_SECRET = env.str("TWILIO_API_SECRET", default="embedded-simulator-api-secret-32-bytes")
TWILIO_WEBHOOK_BASE_URL = env.str(
    "TWILIO_WEBHOOK_BASE_URL", default=f"http://127.0.0.1:{env.int('PORT', default=8000)}"
)

from callcenter.logconfig import logging_config  # noqa: E402

LOGGING = logging_config(level=env.str("LOG_LEVEL", default="INFO"), fmt=LOG_FORMAT)
