"""The example site's production settings pass Django's deployment checklist (``check --deploy``,
with the app's own deploy checks) and refuse to start without what production needs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# A key like the one the settings' docstring tells how to make (long, random-looking).
SECRET_KEY = "k3-Qz7vT0pL9sXw2Rb8YcN4mH6jF1dGaUeKoIiPyVrBtZlMnSq5W"


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "CELERY_")) and name != "DATABASE_URL"
    }
    environment.update(DJANGO_SETTINGS_MODULE="example_site.settings_production", **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def production_env(redis_url, collected_static):
    return {
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "DJANGO_ALLOWED_HOSTS": "shop.example.com",
        "DJANGO_CACHE_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,  # the broker check (llmrec.E004) connects to it
        # The pages name static files by their hashed names, from collectstatic's manifest.
        "DJANGO_STATIC_ROOT": str(collected_static),
    }


def test_check_deploy_is_clean(production_env):
    result = manage("check", "--deploy", "--fail-level", "WARNING", **production_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    "missing", ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DJANGO_CACHE_URL", "CELERY_BROKER_URL"]
)
def test_a_missing_production_variable_stops_with_its_name(production_env, missing):
    env = {**production_env, missing: ""}
    result = manage("check", **env)
    assert result.returncode != 0
    assert f"ImproperlyConfigured: Set {missing} in the environment for production" in result.stderr


def test_the_proxies_in_front_come_from_the_environment(production_env):
    code = "from django.conf import settings; print(settings.LLMREC['TRUSTED_PROXIES'])"
    result = manage("shell", "-c", code, LLMREC_TRUSTED_PROXIES="1", **production_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "1"
    result = manage("check", LLMREC_TRUSTED_PROXIES="one", **production_env)
    assert result.returncode != 0
    assert "LLMREC_TRUSTED_PROXIES must be a whole number" in result.stderr
    result = manage("check", LLMREC_TRUSTED_PROXIES="11", **production_env)
    assert result.returncode != 0 and "llmrec.E018" in result.stderr


def example_settings(home: Path, **env: str) -> dict:
    """DEBUG, SECRET_KEY and the password validators of the example site's settings, imported in a
    fresh process with nothing but ``env`` set."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("DJANGO_")}
    # A DATABASE_URL (never connected to here), so importing the settings starts no embedded server.
    environment.update(LLMREC_HOME=str(home), DATABASE_URL="postgres://nobody@127.0.0.1:9/none", **env)
    code = (
        "import json, example_site.settings as s; "
        "print(json.dumps([s.DEBUG, s.SECRET_KEY, len(s.AUTH_PASSWORD_VALIDATORS)]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120, check=True
    )
    debug, key, validators = __import__("json").loads(result.stdout.strip().splitlines()[-1])
    return {"debug": debug, "key": key, "validators": validators}


def test_the_example_site_is_secure_by_default(tmp_path):
    """DEBUG off unless asked, no secret key written in the code, passwords validated."""
    first = example_settings(tmp_path)
    assert first["debug"] is False and first["validators"] == 4
    assert len(first["key"]) >= 50 and "insecure" not in first["key"]
    stored = tmp_path / "secret_key"
    assert stored.read_text() == first["key"] and stored.stat().st_mode & 0o077 == 0, "owner-only"
    assert example_settings(tmp_path)["key"] == first["key"], "the same key on every start"
    assert example_settings(tmp_path / "other")["key"] != first["key"], "each installation its own"
    assert example_settings(tmp_path, DJANGO_DEBUG="1", DJANGO_SECRET_KEY="from-env" * 8) == {
        "debug": True,
        "key": "from-env" * 8,
        "validators": 4,
    }
