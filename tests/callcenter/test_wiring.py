"""Project wiring: the ASGI application, the connection pool, throttles, silk, Celery."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from asgiref.testing import ApplicationCommunicator
from django.core.cache import cache
from django.db import connection
from rest_framework.throttling import UserRateThrottle

from callcenter.asgi import application
from tests.conftest import as_user

ROOT = Path(__file__).resolve().parents[2]


async def _asgi_get(path: str) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"localhost")],
        "server": ("localhost", 80),
        "client": ("127.0.0.1", 1234),
        "scheme": "http",
    }
    app = ApplicationCommunicator(application, scope)
    await app.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await app.receive_output(timeout=10)
    body = await app.receive_output(timeout=10)
    return start["status"], body["body"]


def test_asgi_application_serves_http():
    from asgiref.sync import async_to_sync

    status, body = async_to_sync(_asgi_get)("/healthz")
    assert status == 200 and b'"ok"' in body


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_connections_come_from_the_psycopg_pool():
    assert connection.vendor == "postgresql"
    assert connection.settings_dict["OPTIONS"]["pool"]
    connection.ensure_connection()
    assert connection.pool is not None


@pytest.mark.django_db
def test_throttling_answers_429_in_the_error_shape(api, agent, monkeypatch):
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "2/min", "anon": "2/min"})
    cache.clear()
    client = as_user(api, agent.user)
    codes = [client.get("/api/v1/agents/").status_code for _ in range(3)]
    response = client.get("/api/v1/agents/")
    assert codes == [200, 200, 429]
    assert response.json()["error"]["code"] == "throttled"
    assert "Retry-After" in response.headers
    cache.clear()


def test_silk_only_when_enabled_and_only_for_staff():
    script = (
        "import django; django.setup();"
        "from django.conf import settings; from django.urls import resolve;"
        "from types import SimpleNamespace as U;"
        "assert 'silk' in settings.INSTALLED_APPS; resolve('/silk/');"
        "assert not settings.SILKY_PERMISSIONS(U(is_staff=False));"
        "assert settings.SILKY_PERMISSIONS(U(is_staff=True)); print('silk ok')"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "settings.local", "SILK_ENABLED": "1"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    from django.conf import settings

    assert "silk" not in settings.INSTALLED_APPS  # never in tests


def test_celery_reads_django_settings_and_the_one_schedule():
    from callcenter.celery import app

    assert app.conf.task_always_eager is True  # tests run tasks in process
    assert app.conf.task_time_limit == 60
    assert "agents-reset-daily-counters" in app.conf.beat_schedule
