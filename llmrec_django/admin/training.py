"""Fine-tuning runs: progress, curves, promote and roll back."""

from __future__ import annotations

import json

from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince

from llmrec_django.admin.actions import apply_each
from llmrec_django.admin.training_chart import epoch_chart_svg
from llmrec_django.conf import llmrec_settings
from llmrec_django.learning.training import promotion, runs
from llmrec_django.learning.training.promotion import REFERENCE_METHODS, describe_blend, describe_gain

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
    # A run is read, not edited: its page shows what it did in words, tables and a chart.
    fieldsets = [
        (None, {"fields": ["tenant", "kind", "state", "promotion", "error_shown"]}),
        ("Training", {"fields": ["chart", "epochs_table", "data_used", "parameters", "device", "world_size"]}),
        ("Evaluation", {"fields": ["evaluation"]}),
        ("Models", {"fields": ["base_model_path", "artifact_path", "embedding_version", "previous_version",
                               "previous_run"]}),
        ("Times", {"fields": ["created_at", "started_at", "heartbeat_at", "finished_at", "duration_seconds",
                              "promoted_at", "task_id"]}),
    ]  # fmt: skip
    readonly_fields = [
        "state", "error_shown", "chart", "epochs_table", "data_used", "parameters", "evaluation",
        *[f.name for f in TrainingRun._meta.fields],
    ]  # fmt: skip
    actions = ["promote", "roll_back"]

    def has_add_permission(self, request) -> bool:
        return False  # started by llmrec_train, the tenant actions or Celery beat

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # nothing on a run is edited by hand (promote and roll back are actions)

    def changelist_view(self, request, extra_context=None):
        runs.reap_stalled_runs()  # a run whose worker died says so, here too
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        runs.reap_stalled_runs()
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="Progress")
    def progress_shown(self, run: TrainingRun) -> str:
        if run.status == TrainingRun.Status.FAILED:
            return format_html("failed at {}%", round(100 * run.progress))
        return format_html('<progress value="{}" max="1"></progress> {}%', run.progress, round(100 * run.progress))

    @admin.display(description="State")
    def state(self, run: TrainingRun) -> str:
        """What the run is doing, in a sentence (how long ago its process last reported, while running)."""
        percent = round(100 * run.progress)
        if run.status == TrainingRun.Status.RUNNING:
            heard = run.heartbeat_at or run.started_at
            ago = f", last heard from {timesince(heard)} ago" if heard else ""
            return format_html("Running: {} ({}% of the training steps{})", run.stage or "starting", percent, ago)
        if run.status == TrainingRun.Status.QUEUED:
            return format_html(
                "Queued, waiting for a worker that takes training (queue {})", llmrec_settings.QUEUES["train"]
            )
        if run.status == TrainingRun.Status.FAILED:
            return format_html("Failed at {}% (see the error below)", percent)
        took = f" in {run.duration_seconds:.0f} s" if run.duration_seconds else ""
        return f"Succeeded{took}"

    @admin.display(description="Error")
    def error_shown(self, run: TrainingRun) -> str:
        return format_html("<pre>{}</pre>", run.error) if run.error else "-"

    @admin.display(description="Per epoch")
    def epochs_table(self, run: TrainingRun) -> str:
        rows = [epoch for epoch in run.epochs or [] if isinstance(epoch, dict)]
        if not rows:
            return "no epoch finished yet"
        columns = [key for key in rows[0] if key != "epoch"]
        head = format_html_join("", "<th>{}</th>", ((c.replace("_", " "),) for c in ["epoch", *columns]))
        body = format_html_join(
            "",
            "<tr>{}</tr>",
            ((format_html_join("", "<td>{}</td>", ((_number(e.get(c)),) for c in ["epoch", *columns])),) for e in rows),
        )
        return format_html("<table><tr>{}</tr>{}</table>", head, body)

    @admin.display(description="Data used")
    def data_used(self, run: TrainingRun) -> str:
        return _key_values(run.data_window)

    @admin.display(description="Hyper-parameters")
    def parameters(self, run: TrainingRun) -> str:
        return _key_values(run.params)

    @admin.display(description="Candidate vs active")
    def gain(self, run: TrainingRun) -> str:
        metrics = run.metrics or {}
        if "candidate" not in metrics:
            return "-"

        gain = describe_gain(metrics)
        shown = f"{metrics['metric']} {metrics['candidate']:.4f} vs {metrics['baseline']:.4f}" + (
            f": {gain}" if gain else ""
        )
        if metrics.get("refused"):
            return f"{shown}; not promoted: {metrics['refused']}"
        blend = describe_blend(metrics)
        return f"{shown}; {blend}" if blend else shown

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


def _number(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def _key_values(values) -> str:
    """A JSON object as a two-column table (nested values as compact text)."""
    if not isinstance(values, dict) or not values:
        return "-"
    rows = (
        (key.replace("_", " "), _number(value) if not isinstance(value, dict | list) else json.dumps(value)[:300])
        for key, value in sorted(values.items())
    )
    return format_html("<table>{}</table>", format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows))
