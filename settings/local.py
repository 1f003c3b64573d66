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

from callcenter.logconfig import logging_config  # noqa: E402

LOGGING = logging_config(level=env.str("LOG_LEVEL", default="INFO"), fmt=LOG_FORMAT)
