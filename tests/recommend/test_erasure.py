"""Erasure reaches every place personal data can live: every table with a row that names the
profile (found by introspection, so a new one cannot be forgotten), pending outbox work, the
collaborative model files (current and superseded), the fine-tuning's pooled-vector cache and the
kept lists."""

import uuid
from datetime import timedelta

import numpy as np
import pytest
import torch
from django.apps import apps
from django.utils import timezone

from llmrec_django import queues
from llmrec_django.catalogue import collaborative
from llmrec_django.conf import llmrec_settings
from llmrec_django.database import artifacts, outbox
from llmrec_django.models import (
    BatchList,
    BatchRun,
    CollaborativeModel,
    ConversationSession,
    ConversationTurn,
    DigestOptOut,
    Experiment,
    ExperimentArm,
    ExperimentAssignment,
    Interaction,
    PendingWork,
    QuarantinedWrite,
    RecommendationCopy,
    Relation,
    ServedList,
    UserProfile,
)
from llmrec_django.recommend import privacy
from tests.recommend_helpers import activate, make_item

pytestmark = pytest.mark.django_db(transaction=True)

WORDS = "slow-burn Nordic noir with a lighthouse keeper"
QUERY = "lighthouse mysteries for winter"


def places_naming_a_user() -> list[tuple[type, str]]:
    """Every (model, field) of the app that points at a user profile."""
    return [
        (model, field.name)
        for model in apps.get_app_config("llmrec_django").get_models()
        for field in model._meta.get_fields()
        if field.concrete and getattr(field, "related_model", None) is UserProfile
    ]


@pytest.fixture
def eve(tenant, settings, tmp_path):
    settings.LLMREC = {**settings.LLMREC, "HOME": str(tmp_path), "TRAINING": {"ARTIFACTS": str(tmp_path / "training")}}
    items = [make_item(tenant, f"f{n}", f"Film {n}", vector=[1, n, 0, 0]) for n in range(4)]
    eve = UserProfile.objects.create(tenant=tenant, external_id="eve", profile_text=WORDS, recent_queries=[QUERY])
    others = [UserProfile.objects.create(tenant=tenant, external_id=f"u{n}") for n in range(3)]
    version = activate(tenant, items, users=[(eve, [1, 0, 0, 0])])
    for n, item in enumerate(items):
        for user in [eve, *others]:
            Interaction.objects.create(tenant=tenant, event_id=f"{user.external_id}-{n}", user=user, item=item,
                                       event_type="purchase", timestamp=timezone.now() - timedelta(hours=n))  # fmt: skip
    session = ConversationSession.objects.create(tenant=tenant, user=eve, version=version)
    ConversationTurn.objects.create(session=session, number=1, kind="start", message=WORDS, reply="...")
    Relation.objects.create(tenant=tenant, head_user=eve, relation="follows", tail_user=others[0])
    RecommendationCopy.objects.create(tenant=tenant, user=eve, key="k", text=WORDS, generator_name="t",
                                      expires_at=timezone.now() + timedelta(days=1))  # fmt: skip
    experiment = Experiment.objects.create(tenant=tenant, name="trial")
    arm = ExperimentArm.objects.create(experiment=experiment, name="a", traffic=1.0)
    ExperimentAssignment.objects.create(experiment=experiment, user=eve, arm=arm)
    ServedList.objects.create(
        id=uuid.uuid4(), tenant=tenant, user=eve, surface="for_you", source="hybrid", item_ids=[items[0].pk]
    )
    QuarantinedWrite.objects.create(kind="served_list", tenant=tenant, user=eve, error="x")
    run = BatchRun.objects.create(tenant=tenant, k=1, user_ids=[eve.pk], users_total=1)
    BatchList.objects.create(
        run=run, user=eve, items=[{"item": "f0", "score": 1.0, "explanation": "x"}], source="hybrid"
    )
    DigestOptOut.objects.create(user=eve)
    with outbox_sent_later():
        outbox.enqueue(tenant.pk, queues.REFRESH_USER_VECTORS, [(tenant.pk, [eve.pk])])
    # Two fits: the first file is superseded by the second (pruned at the fit, but an
    # installation from before pruning still has such files: write one back).
    collaborative.fit_collaborative_model(tenant, factors=2, iterations=3)
    old = collaborative.model_directory(tenant) / "als-00000000T000000000000.npz"
    current = CollaborativeModel.objects.get(tenant=tenant)
    with np.load(artifacts.local_path(current.path)) as stored:
        np.savez(old, **{name: stored[name] for name in stored.files})
    CollaborativeModel.objects.create(tenant=tenant, path=str(old), n_users=4, n_items=4, n_interactions=16,
                                      params={}, fit_seconds=0, created_at=current.created_at - timedelta(days=1))  # fmt: skip
    cache = llmrec_settings.training_artifacts / "pooled-cache" / "key.pt"
    cache.parent.mkdir(parents=True)
    texts = ["Film 0. Category: films.", f"{WORDS}. Searched: {QUERY}.", "Film 1. Category: films."]
    torch.save({"key": "key", "texts": texts, "vectors": torch.eye(3)}, cache)
    return eve, old, cache


class outbox_sent_later:
    """Keep the outbox row (no broker send after the commit) so erasure has pending work to drop."""

    def __enter__(self):
        from unittest import mock

        self.patch = mock.patch.object(outbox, "_send_after_commit", lambda claims: None)
        self.patch.start()

    def __exit__(self, *exc):
        self.patch.stop()


def test_erasure_leaves_no_trace_in_any_place_personal_data_lives(eve, tenant):
    eve, superseded, cache = eve
    places = places_naming_a_user()
    held = {f"{model.__name__}.{field}": model.objects.filter(**{field: eve.pk}).count() for model, field in places}
    # Every place must hold something of Eve's before, or this test would prove nothing for it.
    empty = [place for place, count in held.items() if count == 0 and place not in {"Relation.tail_user"}]
    assert not empty, f"the fixture stores nothing in {empty}: add it"
    assert PendingWork.objects.filter(args__1__contains=[eve.pk]).exists()
    eve_pk = eve.pk
    privacy.erase_user(eve)

    left = {
        f"{model.__name__}.{field}": n
        for model, field in places
        if (n := model.objects.filter(**{field: eve_pk}).count())
    }
    assert left == {}
    assert not ConversationTurn.objects.filter(message=WORDS).exists()
    assert not PendingWork.objects.filter(args__1__contains=[eve_pk]).exists()
    [model] = CollaborativeModel.objects.filter(tenant=tenant)
    assert not superseded.exists(), "the superseded file with Eve's factors is gone"
    with np.load(artifacts.local_path(model.path)) as stored:
        assert eve_pk not in stored["user_ids"].tolist() and len(stored["user_ids"]) == 3
    saved = torch.load(cache, weights_only=True)
    assert saved["texts"] == ["Film 0. Category: films.", "Film 1. Category: films."]
    assert saved["vectors"].shape == (2, 3)


def test_a_fit_keeps_only_the_current_collaborative_model(eve, tenant):
    eve, superseded, _ = eve
    first = CollaborativeModel.objects.filter(tenant=tenant).first()
    collaborative.fit_collaborative_model(tenant, factors=2, iterations=3)
    [current] = CollaborativeModel.objects.filter(tenant=tenant)
    assert current.pk != first.pk and not superseded.exists()
    assert not (llmrec_settings.home / first.path).exists() and artifacts.local_path(current.path).exists()
