"""Settings shared by every run mode; each value can come from the environment (.env.example).

Which backing services are used follows from the environment alone: with DATABASE_URL set the
database is PostgreSQL (psycopg 3, pooled), with REDIS_URL set the cache, the channel layer and
the Celery broker are Redis. Without them the system runs embedded (DESIGN.md §4).
"""

from pathlib import Path

import environ

from callcenter.logconfig import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "realtime",
    "callcenter",
    "telephony",
    "routing",
    "webhooks",
    "dashboards",
    "analytics",
    "messaging",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "callcenter.urls"
WSGI_APPLICATION = "callcenter.wsgi.application"
ASGI_APPLICATION = "callcenter.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
# PostgreSQL through psycopg 3 with its connection pool when DATABASE_URL is set; SQLite in
# the embedded run. Django's pool requires CONN_MAX_AGE = 0 (the pool keeps connections).
DATABASE_URL = env.str("DATABASE_URL", default="")
SQLITE_PATH = env.str("SQLITE_PATH", default=str(BASE_DIR / "var" / "switchboard.sqlite3"))


def database_config(url: str, *, pool: bool) -> dict:
    """The DATABASES['default'] entry for `url` (empty: the embedded SQLite file)."""
    config = environ.Env.db_url_config(url) if url else {"NAME": SQLITE_PATH}
    if not url or config["ENGINE"] == "django.db.backends.sqlite3":
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": config["NAME"],
            # Many short writers (webhooks, scheduler) share one file: each transaction takes
            # the write lock as it begins, and waits for it instead of failing.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
            # Tests use a file too, not Django's shared in-memory database, whose table locks
            # fail concurrent writers at once instead of making them wait.
            "TEST": {"NAME": f"{config['NAME']}.test"},
        }
    if config["ENGINE"] == "django.db.backends.postgresql":
        # Memory a sort or hash may use before it spills to disk. PostgreSQL's 4MB spilled a
        # 90-day report's aggregate (200 queues' daily histograms, 16 MB); the call center's
        # own queries never come near it. Analytics' rollups raise it further themselves.
        work_mem = env.str("DATABASE_WORK_MEM", default="32MB")
        options = config.setdefault("OPTIONS", {})
        # First, so that options given in DATABASE_URL (read after it) still win.
        options["options"] = f"-c work_mem={work_mem} {options.get('options', '')}".strip()
    if config["ENGINE"] == "django.db.backends.postgresql" and pool:
        config["CONN_MAX_AGE"] = 0
        config.setdefault("OPTIONS", {})["pool"] = {
            "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=2),
            "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=10),
            "timeout": env.int("DATABASE_POOL_TIMEOUT", default=10),
        }
    return config


DATABASES = {"default": database_config(DATABASE_URL, pool=env.bool("DATABASE_POOL", default=True))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, channel layer, Celery broker -------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
CACHE_KEY_PREFIX = env.str("CACHE_KEY_PREFIX", default="switchboard")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # A read timeout well above channels-redis' 5 s blocking pop: redis-py 8
                # defaults to 5 s too, and the tie killed idle consumers with TimeoutError.
                # And room for bursts: redis-py 8 caps a pool at 100 connections and then
                # fails (not waits), so hundreds of sockets (re)connecting at once got
                # MaxConnectionsError in group_add (bench_realtime at 500 and 2,000 clients).
                "hosts": [
                    {"address": REDIS_URL, "socket_timeout": 30, "max_connections": 10_000}
                ],
                "prefix": f"{CACHE_KEY_PREFIX}:asgi",
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Realtime layer (DESIGN.md §3.5). A client more than REPLAY_LIMIT events behind, or behind
# events older than the retention, is told to resync from snapshots instead of replayed.
REALTIME_REPLAY_LIMIT = env.int("REALTIME_REPLAY_LIMIT", default=1000)
REALTIME_RETENTION_HOURS = env.int("REALTIME_RETENTION_HOURS", default=72)
REALTIME_LONGPOLL_MAX_SECONDS = env.int("REALTIME_LONGPOLL_MAX_SECONDS", default=60)
REALTIME_SEND_TIMEOUT_SECONDS = env.float("REALTIME_SEND_TIMEOUT_SECONDS", default=2.0)
# Sockets re-join their groups this often, well inside channels-redis' group expiry (1 day).
REALTIME_GROUP_REFRESH_SECONDS = env.int("REALTIME_GROUP_REFRESH_SECONDS", default=3600)
# What an agent may record as a call's outcome at wrap-up.
CALL_DISPOSITIONS = env.list(
    "CALL_DISPOSITIONS",
    default=["resolved", "follow-up", "escalated", "sale", "wrong-number", "other"],
)
# Known-agent routing: a caller who spoke with an agent within the window is offered to that
# agent first, waiting up to KNOWN_AGENT_WAIT_SECONDS for them (0 turns it off).
KNOWN_AGENT_WINDOW_HOURS = env.int("KNOWN_AGENT_WINDOW_HOURS", default=72)
KNOWN_AGENT_WAIT_SECONDS = env.int("KNOWN_AGENT_WAIT_SECONDS", default=20)
# A callback whose customer was not reached is offered again after CALLBACK_RETRY_SECONDS,
# and fails after CALLBACK_MAX_ATTEMPTS unreached dials.
CALLBACK_RETRY_SECONDS = env.int("CALLBACK_RETRY_SECONDS", default=300)
CALLBACK_MAX_ATTEMPTS = env.int("CALLBACK_MAX_ATTEMPTS", default=3)
# An agent whose dashboard sent no heartbeat (every 25 s) for this long is set offline.
PRESENCE_TIMEOUT_SECONDS = env.int("PRESENCE_TIMEOUT_SECONDS", default=90)
# Analytics: each minute's rollup re-reads events stored this long before its watermark (a
# transaction that committed late is still counted).
ANALYTICS_ROLLUP_OVERLAP_SECONDS = env.int("ANALYTICS_ROLLUP_OVERLAP_SECONDS", default=60)

# Celery: Redis broker in services mode; in the embedded run tasks execute in process and the
# periodic schedule (callcenter/celery.py) is driven by callcenter.scheduler.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
# In process, a task's failure (or retry) must not fail the request that queued it on commit;
# Celery logs it, and the task's own records (e.g. telephony operations) say what happened.
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=60)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=50)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"

# --- Auth, i18n, static -------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media"))

# --- REST API -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so an unauthenticated request gets 401 with WWW-Authenticate.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "callcenter.rest.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "callcenter.rest.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="60/min"),
        "user": env.str("API_THROTTLE_USER", default="1200/min"),
        "softphone_token": env.str("API_THROTTLE_SOFTPHONE_TOKEN", default="30/min"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Switchboard API",
    "DESCRIPTION": "Call-center REST API: agents, queues, calls, dashboards and reports.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    # Swagger UI's assets come from the drf-spectacular-sidecar package, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "AgentStatusEnum": "callcenter.choices.AgentStatus",
        "CallStatusEnum": "callcenter.choices.CallStatus",
        "WorkKindEnum": "routing.models.WorkKind",
        "ReservationStatusEnum": "routing.models.ReservationStatus",
    },
}

# --- Call center --------------------------------------------------------------------------
# The time zone that cuts "today" for agents' daily counters; queues carry their own.
CALLCENTER_TIME_ZONE = env.str("CALLCENTER_TIME_ZONE", default="UTC")
# Telephony: "twilio" talks to Twilio; "simulated" to the project's own Twilio simulator.
# Unset (or empty), it is Twilio as soon as Twilio credentials are (an account SID with its auth
# token or an API key), so a deployment given them never quietly runs the simulator.
_TWILIO_CREDENTIALS = env.str("TWILIO_ACCOUNT_SID", default="") and (
    env.str("TWILIO_AUTH_TOKEN", default="") or env.str("TWILIO_API_KEY", default="")
)
TELEPHONY_MODE = env.str("TELEPHONY_MODE", default="") or (
    "twilio" if _TWILIO_CREDENTIALS else "simulated"
)
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_API_KEY = env.str("TWILIO_API_KEY", default="")
TWILIO_API_SECRET = env.str("TWILIO_API_SECRET", default="")
TWILIO_TWIML_APP_SID = env.str("TWILIO_TWIML_APP_SID", default="")
TWILIO_WEBHOOK_BASE_URL = env.str("TWILIO_WEBHOOK_BASE_URL", default="")
# Simulated mode: where the gateway's Twilio REST requests go (the simulator's address).
TWILIO_API_BASE_URL = env.str("TWILIO_API_BASE_URL", default="http://127.0.0.1:8089")
# Seconds the gateway waits for Twilio's REST API before retrying.
TWILIO_HTTP_TIMEOUT_SECONDS = env.float("TWILIO_HTTP_TIMEOUT_SECONDS", default=10.0)
# The number agent legs and outbound calls show as caller id (E.164).
TWILIO_CALLER_ID = env.str("TWILIO_CALLER_ID", default="+15005550006")
# The embedded run plays simulated callers unless SIMULATE=0.
SIMULATE = env.bool("SIMULATE", default=True)

# --- Messaging ----------------------------------------------------------------------------
MESSAGING_PING_DAILY_LIMIT = env.int("MESSAGING_PING_DAILY_LIMIT", default=50)
MESSAGING_PING_COOLDOWN_SECONDS = env.int("MESSAGING_PING_COOLDOWN_SECONDS", default=60)
MESSAGING_MESSAGE_MAX_LENGTH = env.int("MESSAGING_MESSAGE_MAX_LENGTH", default=4000)
MESSAGING_ATTACHMENT_MAX_BYTES = env.int("MESSAGING_ATTACHMENT_MAX_BYTES", default=10 * 2**20)
MESSAGING_ATTACHMENT_TYPES = env.list(
    "MESSAGING_ATTACHMENT_TYPES",
    default=["image/png", "image/jpeg", "image/gif", "application/pdf", "text/plain"],
)
MESSAGING_TYPING_TTL_SECONDS = env.int("MESSAGING_TYPING_TTL_SECONDS", default=6)
MESSAGING_INVITATION_TTL_SECONDS = env.int("MESSAGING_INVITATION_TTL_SECONDS", default=60)
MESSAGING_INVITATION_CACHE_SECONDS = env.int("MESSAGING_INVITATION_CACHE_SECONDS", default=5)
MESSAGING_INVITATION_RETENTION_DAYS = env.int("MESSAGING_INVITATION_RETENTION_DAYS", default=7)

# --- Profiling ----------------------------------------------------------------------------
SILK_ENABLED = env.bool("SILK_ENABLED", default=False)
if SILK_ENABLED:
    INSTALLED_APPS.append("silk")
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.middleware.common.CommonMiddleware"),
        "silk.middleware.SilkyMiddleware",
    )
    SILKY_AUTHENTICATION = True
    SILKY_AUTHORISATION = True
    SILKY_PERMISSIONS = lambda user: user.is_staff  # noqa: E731 - silk wants a callable
    SILKY_PYTHON_PROFILER = False

# --- Logging: structured, and never a caller's phone number -------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING = logging_config(level=LOG_LEVEL, fmt=LOG_FORMAT)
