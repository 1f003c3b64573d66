"""Test settings: PostgreSQL and Redis when configured or reachable at their standard local
addresses, SQLite and local memory otherwise. With REQUIRE_SERVICES=1 (CI) a missing service
fails the run (tests/conftest.py) instead of skipping the tests that need it."""

import os
import socket
from urllib.parse import urlsplit

_LOCAL_POSTGRES = "postgres://postgres@127.0.0.1:5432/switchboard"
_LOCAL_REDIS = "redis://127.0.0.1:6379/0"


def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=0.5):
            return True
    except OSError:
        return False


for _name, _default in (("DATABASE_URL", _LOCAL_POSTGRES), ("REDIS_URL", _LOCAL_REDIS)):
    if _name not in os.environ and _reachable(_default):
        os.environ[_name] = _default

# One key namespace per test process, so parallel runs never see each other's keys.
os.environ["CACHE_KEY_PREFIX"] = f"switchboard-test-{os.getpid()}"
os.environ["SILK_ENABLED"] = "0"
os.environ.setdefault("LOG_FORMAT", "json")
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"

from .base import *  # noqa: E402,F403
from .base import DATABASE_URL, REDIS_URL, REST_FRAMEWORK  # noqa: E402

SECRET_KEY = "tests-only"  # noqa: S105
DEBUG = False
TEST_SERVICES = {"postgres": DATABASE_URL.startswith("postgres"), "redis": bool(REDIS_URL)}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {
        "anon": "10000/min",
        "user": "10000/min",
        "softphone_token": "10000/min",
    },
}
STATIC_ROOT = None  # nothing is collected in tests; WhiteNoise serves from the finders
WHITENOISE_USE_FINDERS = True
# Webhooks are signed with this token against this public base URL (a TLS proxy in front).
TWILIO_AUTH_TOKEN = "test-auth-token"  # noqa: S105
TWILIO_ACCOUNT_SID = "AC" + "0" * 32
TWILIO_WEBHOOK_BASE_URL = "https://switchboard.example.com"
TWILIO_API_KEY = "SK" + "0" * 32
TWILIO_API_SECRET = "test-api-secret-of-at-least-32-bytes"  # noqa: S105
TELEPHONY_MODE = "simulated"
