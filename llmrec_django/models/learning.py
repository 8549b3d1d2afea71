"""Fine-tuning runs and stored offline evaluation reports."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from llmrec_django.models.catalogue import Tenant, TenantManager
from llmrec_django.models.vectors import EmbeddingVersion


class EvaluationReport(models.Model):
    """One run of the offline evaluation (``llmrec_django.learning.evaluation.evaluate_tenant``), stored
    so the admin can list past runs and chart them. ``report`` is ``EvaluationReport.to_dict()``.

    Started from the admin (a Celery task: ``tasks.run_evaluation``) or by
    ``llmrec_evaluate --save``; see ``llmrec_django.learning.evaluation_reports``.
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="evaluation_reports")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    options = models.JSONField(default=dict, blank=True, help_text="EvaluationOptions of the run.")
    report = models.JSONField(default=dict, blank=True, help_text="Every figure of the run (to_dict()).")
    error = models.TextField(blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = TenantManager()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"evaluation {self.pk} of {self.tenant} ({self.status})"

    @property
    def k(self) -> int | None:
        return self.report.get("k") or self.options.get("k")

    def metric(self, method: str, name: str) -> float | None:
        """A figure of one method, e.g. ``metric("hybrid", "ndcg@10")``; None when absent."""
        value = (self.report.get("methods") or {}).get(method, {}).get(name)
        return float(value) if isinstance(value, int | float) else None


class TrainingRun(models.Model):
    """One fine-tuning run of the encoder or the CTR re-ranker (``llmrec_django.learning.training``).

    Life cycle of ``status``: queued -> running -> succeeded | failed (``error`` says why).
    ``promotion`` then says what became of the model: pending (evaluated, waiting for an admin),
    active (serving), replaced (was active, kept for rollback), rejected (did not beat the active
    model), rolled_back. An encoder run's model serves through its ``embedding_version``; at most
    one re-ranker run per tenant is active.
    """

    class Kind(models.TextChoices):
        ENCODER = "encoder"
        RERANKER = "reranker"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    class Promotion(models.TextChoices):
        NONE = "", "not evaluated"
        PENDING = "pending", "pending (waiting for an admin)"
        ACTIVE = "active"
        REPLACED = "replaced", "replaced (kept for rollback)"
        REJECTED = "rejected", "rejected (not better)"
        ROLLED_BACK = "rolled_back", "rolled back"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="training_runs")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    stage = models.CharField(max_length=64, blank=True, help_text="What the run is doing now.")
    progress = models.FloatField(default=0.0, help_text="0..1 over the training steps.")
    params = models.JSONField(default=dict, blank=True, help_text="Hyper-parameters the run used.")
    epochs = models.JSONField(
        default=list, blank=True, help_text="Per epoch: train loss, validation loss and metrics, seconds."
    )
    metrics = models.JSONField(default=dict, blank=True, help_text="Offline evaluation: candidate vs active.")
    data_window = models.JSONField(default=dict, blank=True, help_text="Events used: time range, counts.")
    device = models.CharField(max_length=64, blank=True)
    world_size = models.PositiveIntegerField(default=1, help_text="Data-parallel processes.")
    base_model_path = models.CharField(max_length=1000, blank=True)
    artifact_path = models.CharField(max_length=1000, blank=True, help_text="Where the trained model is saved.")
    embedding_version = models.ForeignKey(
        EmbeddingVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="Encoder runs: the catalogue re-embedded with the new weights.",
    )  # fmt: skip
    previous_version = models.ForeignKey(
        EmbeddingVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="Encoder runs: the version that was active when this one was promoted.",
    )  # fmt: skip
    previous_run = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="Re-ranker runs: the re-ranker that was active when this one was promoted.",
    )  # fmt: skip
    promotion = models.CharField(max_length=16, choices=Promotion.choices, default=Promotion.NONE, blank=True)
    error = models.TextField(blank=True)
    task_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign of life of the process running it (every half minute)."
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    promoted_at = models.DateTimeField(null=True, blank=True)

    objects = TenantManager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant"],
                condition=Q(kind="reranker", promotion="active"),
                name="llmrec_one_active_reranker_per_tenant",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "kind", "status"], name="llmrec_trainrun_kind_status")]

    def __str__(self) -> str:
        return f"{self.kind} run {self.pk} ({self.tenant}, {self.status})"
