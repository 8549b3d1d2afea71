"""Fixtures of the learning tests."""

import pytest

from llmrec_django.database import caches
from tests.training_helpers import build_shop, fast_training


@pytest.fixture
def shop(tenant, tiny_encoder, settings, tmp_path):
    """The training helpers' small shop (tiny encoder, an active version), with fine-tuning sized
    for tests and its artifacts under the test's folder."""
    fast_training(settings, ARTIFACTS=str(tmp_path / "artifacts"))
    caches.clear_all()
    yield build_shop(tenant)
    caches.clear_all()
