"""Production settings refuse to start without their secrets and pass `check --deploy`."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {
    "DJANGO_SECRET_KEY": "k" * 20 + "production-test-secret-key-0123456789abcdef",
    "DJANGO_ALLOWED_HOSTS": "switchboard.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/switchboard",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "TELEPHONY_MODE": "simulated",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "TWILIO_"))}
    clean.pop("DATABASE_URL", None)
    clean.pop("REDIS_URL", None)
    clean.pop("TELEPHONY_MODE", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "settings.production", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_passes_with_secrets():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **SECRETS)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    "missing", ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL"]
)
def test_refuses_to_start_without_a_secret(missing):
    env = {k: v for k, v in SECRETS.items() if k != missing}
    result = manage("check", **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and missing in result.stderr


def test_twilio_credentials_required_unless_simulated_is_chosen():
    result = manage("check", **{**SECRETS, "TELEPHONY_MODE": "twilio"})
    assert result.returncode != 0
    assert "TWILIO_AUTH_TOKEN" in result.stderr
    assert manage("check", **{**SECRETS, "TELEPHONY_MODE": "twilio", **TWILIO}).returncode == 0


def test_weak_secret_key_is_refused():
    result = manage("check", **{**SECRETS, "DJANGO_SECRET_KEY": "short"})
    assert result.returncode != 0
    assert "50" in result.stderr


TWILIO = {
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "t" * 32,
    "TWILIO_WEBHOOK_BASE_URL": "https://switchboard.example.com",
    "TWILIO_API_KEY": "SK" + "1" * 32,
    "TWILIO_API_SECRET": "s" * 32,
    "TWILIO_TWIML_APP_SID": "AP" + "1" * 32,
}
MODE = (
    "shell",
    "-v",
    "0",
    "-c",
    "from django.conf import settings; print(settings.TELEPHONY_MODE)",
)


def test_twilio_credentials_mean_twilio_unless_a_mode_is_chosen():
    unset = {k: v for k, v in SECRETS.items() if k != "TELEPHONY_MODE"}
    result = manage(*MODE, **unset)
    assert result.returncode == 0 and result.stdout.strip() == "simulated", result.stderr
    result = manage(*MODE, **unset, **TWILIO)
    assert result.returncode == 0 and result.stdout.strip() == "twilio", result.stderr
    result = manage(*MODE, **unset, **TWILIO, TELEPHONY_MODE="")  # compose passes it empty
    assert result.stdout.strip() == "twilio", result.stderr
    assert manage(*MODE, **SECRETS, **TWILIO).stdout.strip() == "simulated"  # chosen

    # Half a Twilio configuration refuses to start instead of quietly simulating.
    partial = {k: TWILIO[k] for k in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN")}
    result = manage("check", **unset, **partial)
    assert result.returncode != 0 and "TWILIO_TWIML_APP_SID" in result.stderr
