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
def production_env(redis_url):
    return {
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "DJANGO_ALLOWED_HOSTS": "shop.example.com",
        "DJANGO_CACHE_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,  # the broker check (llmrec.E004) connects to it
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
