"""Ranking: business rules, the learnt blend, the collaborative model."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from llmrec_django.models.catalogue import Item, Tenant, TenantManager


class BusinessRule(models.Model):
    """A merchandising rule applied to every list of its tenant: boost, bury, pin or block.

    The target is one item, or every item of a category, or every item whose attribute
    ``attribute_key`` equals ``attribute_value`` (the conditions that are set must all hold). A rule
    applies while it is active, inside its optional time window, and when its optional context
    condition (device, time of day, location) matches the request's context.
    """

    class Kind(models.TextChoices):
        BOOST = "boost", "boost (multiply the score by factor)"
        BURY = "bury", "bury (move to the end of the list)"
        PIN = "pin", "pin (force at position)"
        BLOCK = "block", "block (never show)"

    class TimeOfDay(models.TextChoices):
        NIGHT = "night"
        MORNING = "morning"
        AFTERNOON = "afternoon"
        EVENING = "evening"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="business_rules")
    name = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    item = models.ForeignKey(Item, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    category = models.CharField(max_length=255, blank=True)
    attribute_key = models.CharField(max_length=100, blank=True)
    attribute_value = models.CharField(max_length=255, blank=True)
    factor = models.FloatField(default=1.5, help_text="Boost: score multiplier (1.5 = +50 %).")
    position = models.PositiveIntegerField(default=0, help_text="Pin: 0-based position in the list.")
    device = models.CharField(max_length=64, blank=True, help_text="Only for requests from this device.")
    time_of_day = models.CharField(max_length=16, blank=True, choices=TimeOfDay.choices)
    location = models.CharField(max_length=128, blank=True, help_text="Only for requests from this location.")
    is_active = models.BooleanField(default=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantManager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(item__isnull=False) | ~Q(category="") | ~Q(attribute_key=""),
                name="llmrec_rule_has_target",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "is_active"], name="llmrec_rule_tenant_active")]

    def __str__(self) -> str:
        return self.name or f"{self.kind} {self.target_label}"

    @property
    def target_label(self) -> str:
        parts = []
        if self.item_id:
            parts.append(f"item {self.item_id}")
        if self.category:
            parts.append(f"category {self.category}")
        if self.attribute_key:
            parts.append(f"{self.attribute_key}={self.attribute_value}")
        return ", ".join(parts)

    def matches_context(self, context: dict[str, Any]) -> bool:
        """True when every condition set on the rule equals the context's value (case-insensitive)."""
        for key in ("device", "time_of_day", "location"):
            wanted = getattr(self, key)
            if wanted and str(context.get(key) or "").strip().lower() != wanted.strip().lower():
                return False
        return True

    def matches_item(self, item_id: int, category: str, attributes: dict[str, Any]) -> bool:
        if self.item_id and self.item_id != item_id:
            return False
        if self.category and self.category.lower() != (category or "").lower():
            return False
        if self.attribute_key and str((attributes or {}).get(self.attribute_key)) != self.attribute_value:
            return False
        return True


class RankingModel(models.Model):
    """A learnt blend of the hybrid features (``core.ranking.BlendModel``), fitted on a validation
    split by ``llmrec_fit`` for one embedding version; recommendations use the latest one fitted
    for the active version (``recommend.state``)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="ranking_models")
    embedding_version = models.ForeignKey(
        "llmrec_django.EmbeddingVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="ranking_models",
        help_text="The item vectors the blend was fitted with; it serves while that version is active.",
    )
    feature_names = models.JSONField(default=list)
    weights = models.JSONField(default=list, help_text="Raw-feature weights, in feature_names order.")
    bias = models.FloatField(default=0.0)
    model = models.JSONField(default=dict, help_text="BlendModel.to_dict(): standardisation, losses.")
    valid_loss = models.FloatField(null=True, blank=True)
    valid_auc = models.FloatField(null=True, blank=True)
    n_train = models.PositiveIntegerField(default=0)
    metrics = models.JSONField(default=dict, blank=True, help_text="Split sizes, timings, candidate recall.")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantManager()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        auc = "n/a" if self.valid_auc is None else f"{self.valid_auc:.3f}"
        return f"blend {self.pk} ({self.tenant}, AUC {auc})"


class CollaborativeModel(models.Model):
    """A fitted ALS model of a tenant's interactions, stored as a ``.npz`` file under
    ``LLMREC_HOME/models/<tenant>/``; the tenant's latest record names the current file."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="collaborative_models")
    path = models.CharField(max_length=1000)
    n_users = models.PositiveIntegerField(default=0)
    n_items = models.PositiveIntegerField(default=0)
    n_interactions = models.PositiveIntegerField(default=0)
    params = models.JSONField(default=dict, blank=True)
    fit_seconds = models.FloatField(default=0.0)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantManager()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"ALS {self.pk} ({self.tenant}, {self.n_users} users x {self.n_items} items)"
