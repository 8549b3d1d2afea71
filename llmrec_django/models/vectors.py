"""Versioned embeddings: one ``EmbeddingVersion`` per model, its item and user vectors in pgvector."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from pgvector.django import VectorField

from llmrec_django.models.catalogue import Item, Tenant, TenantManager, UserProfile


class EmbeddingVersion(models.Model):
    """One complete set of item and user vectors produced by one model.

    Life cycle: building -> ready -> active -> ready (replaced, kept for rollback) -> retired
    (vectors and index dropped); a build that fails ends as failed and never touches the active
    version. At most one version per tenant is active (a partial unique constraint), and the
    switch happens in one transaction.
    """

    class Status(models.TextChoices):
        BUILDING = "building"
        READY = "ready"
        ACTIVE = "active"
        RETIRED = "retired"
        FAILED = "failed"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="embedding_versions")
    model_name = models.CharField(max_length=255, help_text="Human name of the encoder.")
    model_path = models.CharField(max_length=1000, help_text="Where the encoder was loaded from.")
    dimension = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.BUILDING, db_index=True)
    metrics = models.JSONField(default=dict, blank=True, help_text="Recall of the index vs exact search, timings.")
    items_total = models.PositiveIntegerField(default=0)
    items_done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    built_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    objects = TenantManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant"], condition=Q(status="active"), name="llmrec_one_active_version_per_tenant"
            ),
            models.CheckConstraint(condition=Q(dimension__gt=0), name="llmrec_version_dimension_positive"),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"v{self.pk} {self.model_name} ({self.dimension}d, {self.status})"

    @property
    def index_name(self) -> str:
        return f"llmrec_itemvec_hnsw_v{self.pk}"

    @property
    def progress(self) -> float:
        return self.items_done / self.items_total if self.items_total else 0.0


class ItemVector(models.Model):
    """An item's vector in one embedding version, with the hash of the text it was made from."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(EmbeddingVersion, on_delete=models.CASCADE, related_name="item_vectors")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="vectors")
    embedding = VectorField()
    content_hash = models.CharField(max_length=64)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "item"], name="llmrec_itemvector_unique"),
        ]
        indexes = [models.Index(fields=["item"], name="llmrec_itemvec_item")]


class UserVector(models.Model):
    """A user's interest vector in one embedding version."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(EmbeddingVersion, on_delete=models.CASCADE, related_name="user_vectors")
    user = models.ForeignKey(UserProfile, on_delete=models.CASCADE, related_name="vectors")
    embedding = VectorField()
    events_used = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "user"], name="llmrec_uservector_unique"),
        ]
        indexes = [models.Index(fields=["user"], name="llmrec_uservec_user")]
