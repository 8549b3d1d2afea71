"""System checks turn misconfiguration into clear errors with ids."""

import pytest
from django.core.checks import run_checks

from llmrec_django import checks


def ids(messages):
    return [m.id for m in messages]


def test_the_default_configuration_is_clean():
    assert not [m for m in run_checks(tags=["llmrec"]) if m.is_serious()]


def test_unknown_setting_is_reported(settings):
    settings.LLMREC = {**settings.LLMREC, "DEFAULT_KK": 5}
    assert ids(checks.check_settings_keys()) == ["llmrec.E010"]


def test_bad_reliability_settings_are_reported(settings):
    settings.LLMREC = {**settings.LLMREC, "TASK_MAX_DELIVERIES": 0, "OUTBOX_RESEND_SECONDS": "10"}
    errors = checks.check_reliability_settings()
    assert ids(errors) == ["llmrec.E012", "llmrec.E012"]
    assert "TASK_MAX_DELIVERIES" in errors[0].msg and "OUTBOX_RESEND_SECONDS" in errors[1].msg
    settings.LLMREC = {**settings.LLMREC, "TASK_MAX_DELIVERIES": None, "OUTBOX_RESEND_SECONDS": 30}
    assert checks.check_reliability_settings() == []


def test_missing_model_path(settings, tmp_path):
    settings.LLMREC = {**settings.LLMREC, "ENCODER": {"OPTIONS": {"path": str(tmp_path / "nothing-here")}}}
    [error] = checks.check_encoder()
    assert error.id == "llmrec.E003" and "nothing-here" in error.msg


def test_wrong_dimension(settings, tiny_encoder_dir):
    settings.LLMREC = {
        **settings.LLMREC,
        "ENCODER": {"OPTIONS": {"path": str(tiny_encoder_dir)}},
        "EMBEDDING_DIMENSION": 384,
    }
    [error] = checks.check_encoder()
    assert error.id == "llmrec.E002" and "384" in error.msg


def test_backend_that_does_not_import(settings):
    settings.LLMREC = {**settings.LLMREC, "ENCODER": {"BACKEND": "nowhere.Encoder"}}
    assert ids(checks.check_encoder()) == ["llmrec.E006"]


def test_unreachable_broker(settings, monkeypatch):
    from celery import current_app

    monkeypatch.setitem(current_app.conf, "task_always_eager", False)
    monkeypatch.setitem(current_app.conf, "broker_url", "redis://127.0.0.1:1/0")
    [error] = checks.check_broker()
    assert error.id == "llmrec.E004" and "127.0.0.1:1" in error.msg


def test_eager_mode_needs_no_broker():
    assert checks.check_broker() == []


@pytest.mark.django_db
def test_database_with_pgvector_is_clean():
    assert checks.check_database(databases=["default"]) == []


@pytest.mark.django_db
def test_missing_pgvector_is_an_error(monkeypatch):
    """A server without pgvector (the fake cursor answers 'not installed, not available')."""
    from django.db import connections

    class NoVector:
        def __init__(self, cursor):
            self.cursor = cursor
            self.last = None

        def execute(self, sql, params=None):
            self.last = sql

        def fetchone(self):
            return None

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    connection = connections["default"]
    monkeypatch.setattr(connection, "cursor", lambda: NoVector(None))
    [error] = checks.check_database(databases=["default"])
    assert error.id == "llmrec.E001" and "pgvector" in error.msg


@pytest.mark.django_db
def test_active_version_of_another_dimension_warns(tenant):
    from llmrec_django.models import EmbeddingVersion

    EmbeddingVersion.objects.create(tenant=tenant, model_name="m", model_path="/m", dimension=768, status="active")
    assert ids(checks.check_database(databases=["default"])) == ["llmrec.W001"]
