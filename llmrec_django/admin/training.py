"""Fine-tuning runs: progress, curves, promote and roll back."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from llmrec_django.admin.actions import apply_each
from llmrec_django.admin.training_chart import epoch_chart_svg
from llmrec_django.learning.training import promotion
from llmrec_django.learning.training.promotion import REFERENCE_METHODS, describe_gain

# Fine-tuning runs
from llmrec_django.models import TrainingRun


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "tenant",
        "kind",
        "status",
        "stage",
        "progress_shown",
        "promotion",
        "gain",
        "device",
        "created_at",
    ]
    list_filter = ["tenant", "kind", "status", "promotion"]
    readonly_fields = ["chart", "evaluation"] + [f.name for f in TrainingRun._meta.fields]
    actions = ["promote", "roll_back"]

    def has_add_permission(self, request) -> bool:
        return False  # started by llmrec_train, the tenant actions or Celery beat

    @admin.display(description="Progress")
    def progress_shown(self, run: TrainingRun) -> str:
        return format_html('<progress value="{}" max="1"></progress> {}%', run.progress, round(100 * run.progress))

    @admin.display(description="Candidate vs active")
    def gain(self, run: TrainingRun) -> str:
        metrics = run.metrics or {}
        if "candidate" not in metrics:
            return "-"

        gain = describe_gain(metrics)
        return f"{metrics['metric']} {metrics['candidate']:.4f} vs {metrics['baseline']:.4f}" + (
            f": {gain}" if gain else ""
        )

    @admin.display(description="Loss and validation metrics per epoch")
    def chart(self, run: TrainingRun) -> str:
        from django.utils.safestring import mark_safe

        svg = epoch_chart_svg(run.epochs or [])
        return mark_safe(svg) if svg else "no epoch finished yet"  # noqa: S308 (numbers and fixed labels only)

    @admin.display(description="Offline evaluation")
    def evaluation(self, run: TrainingRun) -> str:
        metrics = run.metrics or {}
        if "candidate_metrics" not in metrics:
            return self.gain(run)
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (key, f"{value:.4f}", f"{metrics['baseline_metrics'].get(key, 0.0):.4f}")
                for key, value in metrics["candidate_metrics"].items()
                if isinstance(value, float)
            ),
        )
        header = format_html("<tr><th>metric</th><th>this run</th><th>{}</th></tr>", metrics.get("baseline_model", ""))

        found = metrics.get("references") or {}  # jsonb keeps no key order: the methods' own order
        references = ", ".join(f"{name} {found[name]:.4f}" for name in REFERENCE_METHODS if name in found)
        return format_html(
            "<table>{}{}</table><p>{}</p><p>{}</p>",
            header,
            rows,
            self.gain(run),
            f"Baselines on the same split: {references}" if references else "",
        )

    @admin.action(description="Promote (switch recommendations to this model)")
    def promote(self, request, queryset) -> None:
        apply_each(
            self, request, queryset, promotion.promote, promotion.PromotionError,
            label=lambda run: f"Run {run.pk}", done=lambda run, _: f"Run {run.pk} is active.",
        )  # fmt: skip

    @admin.action(description="Roll back (the model active before this run serves again)")
    def roll_back(self, request, queryset) -> None:
        apply_each(
            self, request, queryset, promotion.rollback, promotion.PromotionError,
            label=lambda run: f"Run {run.pk}", done=lambda run, _: f"Run {run.pk} rolled back.",
        )  # fmt: skip
