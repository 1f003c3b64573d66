"""Liveness (`/healthz`: the process answers) and readiness (`/readyz`: every backing service
this process needs answers: database, cache, channel layer, Celery broker)."""

import logging
import time
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from realtime.health import channel_layer_ping

from .celery import app as celery_app

logger = logging.getLogger(__name__)


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _cache() -> None:
    key, token = f"readyz:{uuid.uuid4().hex}", uuid.uuid4().hex
    cache.set(key, token, timeout=10)
    if cache.get(key) != token:
        raise RuntimeError("the cache did not return what was stored")
    cache.delete(key)


def _broker() -> None:
    if settings.CELERY_BROKER_URL.startswith("memory://"):
        return  # Embedded run: tasks execute in this process.
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)


CHECKS = {
    "database": _database,
    "cache": _cache,
    "channel_layer": channel_layer_ping,
    "broker": _broker,
}


@never_cache
def healthz(request):
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request):
    results, ready = {}, True
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            check()
        except Exception as exc:
            ready = False
            logger.warning("readiness check %s failed: %s", name, exc)
            results[name] = {"ok": False, "error": type(exc).__name__}
        else:
            results[name] = {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": results},
        status=200 if ready else 503,
    )
