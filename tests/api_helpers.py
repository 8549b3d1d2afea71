"""Helpers for the REST API tests: clients for each kind of caller, and a keyword encoder whose
vectors are known by hand (so a message's effect on a conversation can be computed)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from llmrec_django.ml.encoders import BaseEncoder
from llmrec_django.models import ApiKey, UserProfile

API = "/api/llmrec/v1/"

# Words and the axis of the 4-d hand-made space they point along (tests/recommend_helpers.DIM).
KEYWORD_AXES = {
    "space": 0, "ship": 0, "star": 0, "sci-fi": 0,
    "light": 1, "lighter": 1, "funny": 1, "comedy": 1, "gentle": 1,
    "violent": 2, "war": 2, "gore": 2, "dark": 2,
    "shoe": 3, "running": 3, "trail": 3,
}  # fmt: skip


class KeywordEncoder(BaseEncoder):
    """A text's vector is the normalised count of its keywords per axis (a small constant on every
    axis for texts without any), so tests can compute what a message does."""

    dimension = 4
    model_name = "keywords"

    def __init__(self, path: str | None = None, **options):
        self.model_path = path or "/hand-made"

    def encode(self, texts: Sequence[str], *, batch_size: int | None = None, show_progress: bool = False):
        rows = []
        for text in texts:
            vector = np.full(self.dimension, 0.01)
            for word in text.lower().replace(",", " ").split():
                if word in KEYWORD_AXES:
                    vector[KEYWORD_AXES[word]] += 1.0
            rows.append(vector / np.linalg.norm(vector))
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dimension)


def keyword_encoder_settings(settings) -> None:
    from llmrec_django.conf import backends

    settings.LLMREC = {
        **getattr(settings, "LLMREC", {}),
        "ENCODER": {"BACKEND": "tests.api_helpers.KeywordEncoder", "OPTIONS": {"path": "/hand-made"}},
        "EMBEDDING_DIMENSION": 4,
    }
    backends.reset()


def account(username: str, *, staff: bool = False, permissions: bool | None = None):
    """A user account; ``staff`` accounts get every permission of the app unless
    ``permissions=False`` (a staff member nobody granted anything)."""
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user(username=username, password="pw", is_staff=staff)
    if permissions if permissions is not None else staff:
        user.user_permissions.set(Permission.objects.filter(content_type__app_label="llmrec_django"))
    return user


def logged_in(user, *, csrf: bool = False) -> APIClient:
    client = APIClient(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def profile_of(tenant, user, external_id: str) -> UserProfile:
    return UserProfile.objects.create(tenant=tenant, external_id=external_id, user=user)


def api_key_client(tenant, scopes=("read", "events", "catalogue", "privacy"), **issue) -> tuple[APIClient, ApiKey]:
    """A client calling with a new API key (every scope unless told otherwise)."""
    key, raw = ApiKey.issue(tenant, "shop backend", scopes=scopes, **issue)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client, key


def ann_catalogue(tenant, settings) -> tuple[dict, object, UserProfile]:
    """Five items on four axes (science fiction, light, violent, running) and Ann, an account
    whose profile bought "Lantern Ship"; the keyword encoder is configured. Returns
    ``(items by key, Ann's account, her profile)``."""
    from django.utils import timezone

    from llmrec_django.models import Interaction
    from tests.recommend_helpers import make_item

    keyword_encoder_settings(settings)
    items = {
        "ship": make_item(tenant, "ship", "Lantern Ship", vector=[1, 0, 0, 0]),
        "harbour": make_item(tenant, "harbour", "Star Harbour", vector=[0.95, 0.3, 0, 0]),
        "field": make_item(tenant, "field", "Quiet Field", vector=[0.2, 1, 0, 0]),
        "war": make_item(tenant, "war", "Iron Front", vector=[0.3, 0, 1, 0]),
        "shoe": make_item(tenant, "shoe", "Mud Runner", category="running shoes", vector=[0, 0, 0, 1], price=40),
    }
    ann = account("ann")
    profile = profile_of(tenant, ann, "ann")
    Interaction.objects.create(
        tenant=tenant, event_id="a1", user=profile, item=items["ship"], event_type="purchase", timestamp=timezone.now()
    )
    return items, ann, profile
