"""Fixtures of the site's tests: the static files collected once, as the Docker image does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory) -> Path:
    """A ``STATIC_ROOT`` filled by ``manage.py collectstatic`` on the production settings (hashed,
    compressed names and the manifest the pages need), with placeholders for the variables those
    settings require: collectstatic connects to nothing (docker/Dockerfile does the same)."""
    root = tmp_path_factory.mktemp("static")
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "CELERY_")) and name != "DATABASE_URL"
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="example_site.settings_production",
        DJANGO_SECRET_KEY="collectstatic-only",
        DJANGO_ALLOWED_HOSTS="collectstatic.invalid",
        DATABASE_URL="postgresql://collectstatic.invalid/none",
        DJANGO_CACHE_URL="redis://collectstatic.invalid",
        CELERY_BROKER_URL="redis://collectstatic.invalid",
        DJANGO_STATIC_ROOT=str(root),
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (root / "staticfiles.json").is_file(), "the manifest of the hashed names"
    return root
