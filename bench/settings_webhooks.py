"""Production settings for bench_webhooks' gunicorn server, plus a bare-view URLconf.

Everything else (middleware, pooled PostgreSQL, Redis, DEBUG off) is settings.production,
configured from the environment the benchmark gives the server.
"""

from settings.production import *  # noqa: F403

ROOT_URLCONF = "bench.urls_webhooks"
