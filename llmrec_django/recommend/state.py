"""What every request of a tenant reads that changes rarely, as one snapshot per tenant and
process: the active embedding version, the blend fitted for it, the collaborative model's record,
the active business rules and the active re-ranker.

Usage::

    from llmrec_django.recommend.state import serving_state

    state = serving_state(tenant.pk)
    state.version, state.blend, state.collaborative, state.rules, state.reranker

Read from the database (five small queries) at most every ``SERVING_STATE_SECONDS`` (2 s) and
refreshed in the background (``caching.TenantCache``), so a request reads none of them. Saving or
deleting any of those records in this process clears the snapshot at once (signals below);
other processes see the change within ``SERVING_STATE_SECONDS``. A request keeps the version it
started with, so a version switch never mixes two versions in one list. Inside a transaction the
snapshot is read afresh and not kept (code that must see its own writes, the tests; also every
request of a site with ``ATOMIC_REQUESTS``, which then gains nothing from it).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from llmrec_django.catalogue import collaborative
from llmrec_django.conf import llmrec_settings
from llmrec_django.core import ranking
from llmrec_django.database import vectorstore
from llmrec_django.database.caches import TenantCache
from llmrec_django.models import BusinessRule, CollaborativeModel, EmbeddingVersion, RankingModel, Tenant, TrainingRun

logger = logging.getLogger(__name__)


def active_reranker(tenant: Tenant | int) -> TrainingRun | None:
    tenant_id = tenant.pk if isinstance(tenant, Tenant) else tenant
    return (
        TrainingRun.objects.filter(
            tenant_id=tenant_id, kind=TrainingRun.Kind.RERANKER, promotion=TrainingRun.Promotion.ACTIVE
        )
        .only("pk", "artifact_path")
        .first()
    )


@dataclass(frozen=True)
class ServingState:
    version: EmbeddingVersion | None
    blend: tuple[int, ranking.BlendModel] | None  # (RankingModel id, the model) usable by the service
    collaborative: tuple[int, str] | None  # (CollaborativeModel id, its file)
    rules: tuple[BusinessRule, ...]  # active, in every time window: requests filter by time and context
    reranker: tuple[str, int] | None  # (artifact path, TrainingRun id) of the active re-ranker

    @cached_property
    def signature(self) -> str:
        """What a kept list depends on in this state (``recommend/list_cache.py``): the records' ids
        and a digest of the rules' contents, which carry no change time."""
        rules = [sorted((f.attname, repr(getattr(r, f.attname))) for f in r._meta.concrete_fields) for r in self.rules]
        parts = (
            self.version.pk if self.version else None,
            self.blend[0] if self.blend else None,
            self.collaborative[0] if self.collaborative else None,
            self.reranker[1] if self.reranker else None,
            hashlib.sha1(repr(rules).encode()).hexdigest()[:16],
        )
        return ":".join(map(str, parts))


def usable_blend(record_id: int, stored: dict[str, Any] | None) -> ranking.BlendModel | None:
    """The stored blend, unless it is unreadable or fitted on other features than the service
    computes now (then the default weights serve until ``llmrec_fit`` runs again)."""
    if not stored:
        return None
    try:
        model = ranking.BlendModel.from_dict(stored)
    except (KeyError, TypeError, ValueError) as exc:
        logger.warning("Ranking model %s is unreadable (%s); using the default weights.", record_id, exc)
        return None
    if set(model.feature_names) < set(ranking.HYBRID_FEATURES):
        # Fitted before features were added: the new ones weigh nothing until the next fit.
        model = model.with_features(ranking.HYBRID_FEATURES)
    if model.feature_names != ranking.HYBRID_FEATURES:
        logger.warning(
            "Ranking model %s was fitted on features %s, the service computes %s; using the default "
            "weights until `llmrec_fit` runs again.",
            record_id,
            model.feature_names,
            ranking.HYBRID_FEATURES,
        )
        return None
    return model


def serving_blend_record(tenant_id: int, version: EmbeddingVersion | None) -> tuple[int, dict] | None:
    """``(RankingModel id, stored model)`` of the blend that serves with ``version``: the latest
    fitted for it; else (a version no blend was fitted for yet, or blends from before they were
    tied to a version) the latest fitted for a version that has served, or for none. A blend fitted
    for a candidate encoder that was never switched on never serves another version."""
    blends = RankingModel.objects.filter(tenant_id=tenant_id)
    if version is not None:
        record = blends.filter(embedding_version_id=version.pk).values_list("pk", "model").first()
        if record is not None:
            return record
    return (
        blends.filter(Q(embedding_version__isnull=True) | Q(embedding_version__activated_at__isnull=False))
        .values_list("pk", "model")
        .first()
    )


def _load(tenant_id: int) -> ServingState:
    version = vectorstore.active_version(tenant_id)
    blend_record = serving_blend_record(tenant_id, version)
    blend_model = usable_blend(*blend_record) if blend_record else None
    rules = tuple(
        BusinessRule.objects.filter(tenant_id=tenant_id, is_active=True)
        .exclude(ends_at__lte=timezone.now())
        .order_by("pk")
    )
    reranker = active_reranker(tenant_id)
    return ServingState(
        version=version,
        blend=(blend_record[0], blend_model) if blend_model is not None else None,
        collaborative=collaborative.current_record(tenant_id),
        rules=rules,
        reranker=(reranker.artifact_path, reranker.pk) if reranker else None,
    )


_states: TenantCache[ServingState] = TenantCache(
    "serving state", _load, lambda: float(llmrec_settings.SERVING_STATE_SECONDS), afresh_in_transactions=True
)


def serving_state(tenant_id: int) -> ServingState:
    if float(llmrec_settings.SERVING_STATE_SECONDS) <= 0:
        return _load(tenant_id)  # no snapshot kept: every request reads the records
    return _states.get(tenant_id)


def clear() -> None:
    _states.clear()


def _changed(sender: Any, **kwargs: Any) -> None:
    clear()


for _model in (EmbeddingVersion, RankingModel, CollaborativeModel, BusinessRule, TrainingRun):
    post_save.connect(_changed, sender=_model, dispatch_uid=f"llmrec-serving-state-save-{_model.__name__}")
    post_delete.connect(_changed, sender=_model, dispatch_uid=f"llmrec-serving-state-delete-{_model.__name__}")
