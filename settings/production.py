"""Production: refuses to start without its secrets and passes `manage.py check --deploy`."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import DATABASE_URL, REDIS_URL, SECRET_KEY, TELEPHONY_MODE, env

_missing = [
    name
    for name, value in (
        ("DJANGO_SECRET_KEY", SECRET_KEY),
        ("DJANGO_ALLOWED_HOSTS", env.str("DJANGO_ALLOWED_HOSTS", default="")),
        ("DATABASE_URL", DATABASE_URL),
        ("REDIS_URL", REDIS_URL),
    )
    if not value
]
if TELEPHONY_MODE not in ("twilio", "simulated"):
    raise ImproperlyConfigured("TELEPHONY_MODE must be 'twilio' or 'simulated'.")
if TELEPHONY_MODE == "twilio":
    _missing += [
        name
        for name in (
            "TWILIO_ACCOUNT_SID",
            "TWILIO_AUTH_TOKEN",
            "TWILIO_WEBHOOK_BASE_URL",
            "TWILIO_API_KEY",
            "TWILIO_API_SECRET",
            "TWILIO_TWIML_APP_SID",
        )
        if not env.str(name, default="")
    ]
if _missing:
    raise ImproperlyConfigured(
        "Production settings need these environment variables: "
        + ", ".join(_missing)
        + " (TELEPHONY_MODE=simulated explicitly waives the Twilio ones)."
    )
if len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be at least 50 random characters.")
if not DATABASE_URL.startswith(("postgres://", "postgresql://")):
    raise ImproperlyConfigured("Production runs on PostgreSQL: DATABASE_URL must be postgres://…")

DEBUG = False
# TLS ends at the reverse proxy, which sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# The proxy probes health over plain HTTP inside the deployment.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
