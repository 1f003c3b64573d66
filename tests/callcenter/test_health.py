"""/healthz and /readyz: every backing service checked for real, a failure is a 503."""

import pytest
from django.conf import settings
from django.test import override_settings

from callcenter.celery import app

pytestmark = pytest.mark.django_db


def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok"}


@pytest.mark.postgres
@pytest.mark.redis
def test_readyz_checks_database_cache_channel_layer_and_broker_for_real(client):
    assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    checks = response.json()["checks"]
    assert set(checks) == {"database", "cache", "channel_layer", "broker"}
    assert all(check["ok"] for check in checks.values())


DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@override_settings(
    CACHES={
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": DEAD_REDIS,
        }
    },
    CELERY_BROKER_URL=DEAD_REDIS,
)
def test_readyz_is_503_when_a_service_is_down(client):
    app.conf.broker_url = DEAD_REDIS
    try:
        response = client.get("/readyz")
    finally:
        app.conf.broker_url = settings.CELERY_BROKER_URL
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert body["checks"]["cache"]["ok"] is False
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True
