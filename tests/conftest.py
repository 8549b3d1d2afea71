"""Shared fixtures: tenants, the tiny encoder built once per session, Redis availability."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture
def tenant(db):
    from llmrec_django.tenancy import get_default_tenant

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
    from llmrec_django import backends
    from llmrec_django.encoders import model_dimension

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


@pytest.fixture
def fresh_recommend_caches():
    """The recommend service's per-process caches (popularity, items, collaborative models)
    emptied before and after the test."""
    from llmrec_django import collaborative
    from llmrec_django.recommending import data

    data.clear_caches()
    collaborative.clear_cache()
    yield
    data.clear_caches()
    collaborative.clear_cache()
