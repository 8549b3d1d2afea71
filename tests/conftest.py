"""Shared fixtures: tenants, the tiny encoder built once per session, Redis availability, a
Redis broker of the test's own that it can stop and restart."""

from __future__ import annotations

import shutil
import socket

import pytest


@pytest.fixture
def tenant(db):
    from llmrec_django.database.tenancy import get_default_tenant

    return get_default_tenant()


@pytest.fixture
def other_tenant(db):
    from llmrec_django.models import Tenant

    return Tenant.objects.create(slug="other-shop", name="Other shop")


@pytest.fixture(scope="session")
def tiny_encoder_dir(tmp_path_factory):
    """A tiny BERT encoder (random weights, WordPiece vocabulary trained on the fly), saved to
    a temp dir so it loads through the same from_pretrained() path as a real model."""
    from tests.tiny_models import build_tiny_bert

    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture
def tiny_encoder(tiny_encoder_dir, settings):
    """Configure LLMREC to use the tiny encoder for this test; returns the encoder."""
    from llmrec_django.conf import backends
    from llmrec_django.ml.encoders import model_dimension

    settings.LLMREC = {
        **getattr(settings, "LLMREC", {}),
        "ENCODER": {"OPTIONS": {"path": str(tiny_encoder_dir), "batch_size": 16}},
        "EMBEDDING_DIMENSION": model_dimension(tiny_encoder_dir),
    }
    yield backends.get_encoder()
    backends.reset()


def _redis_up(host: str = "127.0.0.1", port: int = 6379) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url():
    if not _redis_up():
        pytest.skip("Redis is not reachable at 127.0.0.1:6379")
    return "redis://127.0.0.1:6379/15"


@pytest.fixture(autouse=True)
def fresh_caches():
    """Every test starts and ends with empty caches: the app's per-process caches (one registry,
    ``llmrec_django.database.caches``: popularity, the serving state, new-item pools, loaded
    models, vector matrices, API keys ...) and Django's cache (throttle counters, list cache)."""
    from django.core.cache import cache

    from llmrec_django.database import caches

    caches.clear_all()
    cache.clear()
    yield
    caches.clear_all()
    cache.clear()


@pytest.fixture
def broker():
    """A redis-server of the test's own on a free port (``tests.broker_helpers.RedisServer``),
    which the test may stop and start again; gone after the test."""
    from tests.broker_helpers import RedisServer

    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def broker_app(broker):
    """A Celery app on the test's own Redis, made current so the app's tasks are sent there."""
    from celery import Celery
    from django.conf import settings as django_settings

    app = Celery("llmrec-test-broker")
    app.config_from_object(django_settings, namespace="CELERY")
    app.conf.update(task_always_eager=False, broker_url=broker.url, result_backend=broker.url)
    app.set_current()
    app.set_default()
    yield app
    from example_site.celery import app as site_app

    site_app.set_current()
    site_app.set_default()


@pytest.fixture
def artifact_storage(settings, tmp_path):
    """A shared artifact storage for this test (``database.artifacts``): a folder every "machine"
    of the test sees, as a shared mount or an S3 bucket would be. Returns the folder."""
    store = tmp_path / "shared-store"
    settings.STORAGES = {
        **settings.STORAGES,
        "llmrec_artifacts": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(store)},
        },
    }
    settings.LLMREC = {**settings.LLMREC, "ARTIFACT_STORAGE": "llmrec_artifacts"}
    return store
