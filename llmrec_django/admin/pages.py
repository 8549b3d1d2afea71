"""Recommendation copy, and the admin's pages of their own: the recommendation preview and
evaluation reports."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from llmrec_django.admin import evaluation_charts, preview
from llmrec_django.admin.forms import EvaluationStartForm, PreviewForm
from llmrec_django.learning import evaluation_reports
from llmrec_django.models import EvaluationReport, RecommendationCopy, RecommendationPreview


@admin.register(RecommendationCopy)
class RecommendationCopyAdmin(admin.ModelAdmin):
    list_display = [
        "user", "generator_attempted", "generator_name", "fell_back", "short_reason", "short_text", "seconds",
        "created_at",
    ]  # fmt: skip
    list_filter = ["tenant", "generator_attempted", "generator_name", "fell_back"]
    search_fields = ["user__external_id", "text", "reason"]
    readonly_fields = [f.name for f in RecommendationCopy._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False  # written by the service, never typed in

    @admin.display(description="Text")
    def short_text(self, copy: RecommendationCopy) -> str:
        return copy.text if len(copy.text) <= 100 else copy.text[:99] + "…"

    @admin.display(description="Checks")
    def short_reason(self, copy: RecommendationCopy) -> str:
        if not copy.fell_back:
            return "passed"
        return copy.reason if len(copy.reason) <= 80 else copy.reason[:79] + "…"


@admin.register(RecommendationPreview)
class RecommendationPreviewAdmin(admin.ModelAdmin):
    """Any user's list as the service computes it, with scores, sources and explanations, in a
    chosen context (k, category, device, time of day, location); also similar items, search and
    the popular list. Read-only: nothing is recorded except what search always records (the
    query in the user's recent queries)."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = PreviewForm(request.GET or None)
        outcome = preview.run(form) if form.is_bound and form.is_valid() else None
        context = {
            **self.admin_site.each_context(request),
            "title": "Recommendation preview",
            "opts": self.model._meta,
            "form": form,
            "outcome": outcome,
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/llmrec_django/preview.html", context)


@admin.register(EvaluationReport)
class EvaluationReportAdmin(admin.ModelAdmin):
    """Past offline evaluations with their charts; "Add" starts a new one (on the workers)."""

    list_display = ["id", "tenant", "status", "k_shown", "split_shown", "hybrid_ndcg", "best_baseline", "created_at"]
    list_filter = ["tenant", "status"]
    change_list_template = "admin/llmrec_django/evaluationreport/change_list.html"

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # figures are never edited

    @admin.display(description="k")
    def k_shown(self, record: EvaluationReport):
        return record.k

    @admin.display(description="Split")
    def split_shown(self, record: EvaluationReport) -> str:
        split = record.report.get("split") or record.options
        return split.get("scheme") or split.get("split") or ""

    @admin.display(description="Hybrid NDCG")
    def hybrid_ndcg(self, record: EvaluationReport):
        value = record.metric("hybrid", f"ndcg@{record.k}")
        return "" if value is None else f"{value:.4f}"

    @admin.display(description="Best baseline NDCG")
    def best_baseline(self, record: EvaluationReport) -> str:
        scores = {m: record.metric(m, f"ndcg@{record.k}") for m in ("most_popular", "item_knn", "als")}
        scores = {m: v for m, v in scores.items() if v is not None}
        if not scores:
            return ""
        name = max(scores, key=scores.get)
        return f"{scores[name]:.4f} ({name})"

    def changelist_view(self, request, extra_context=None):
        recent = list(EvaluationReport.objects.select_related("tenant")[:12])
        extra = {"history_chart": evaluation_charts.history_chart(recent), **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = EvaluationStartForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            record = evaluation_reports.start_evaluation(form.chosen_tenant(), form.options(), started_by=request.user)
            self.message_user(request, f"Evaluation {record.pk} of {record.tenant} started.")
            return HttpResponseRedirect(reverse("admin:llmrec_django_evaluationreport_change", args=[record.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": "Start an evaluation",
            "opts": self.model._meta,
            "form": form,
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/llmrec_django/evaluationreport/start.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        record = get_object_or_404(EvaluationReport.objects.select_related("tenant", "started_by"), pk=object_id)
        if not self.has_view_permission(request, record):
            raise PermissionDenied
        report = record.report or {}
        k = record.k
        rows = []
        for name, metrics in evaluation_charts.ordered_methods(report):
            cold = metrics.get("cold_users") or {}
            rows.append(
                {
                    "name": name,
                    "figures": [metrics.get(f"{m}@{k}") for m in (*evaluation_reports.QUALITY_METRICS,
                                                                   *evaluation_reports.CATALOGUE_METRICS)]
                    + [metrics.get(f"cold_item_recall@{k}"), cold.get(f"recall@{k}"), cold.get(f"ndcg@{k}")],
                    "users": metrics.get("users"),
                }
            )  # fmt: skip
        headers = [f"{m}@{k}" for m in (*evaluation_reports.QUALITY_METRICS, *evaluation_reports.CATALOGUE_METRICS)]
        headers += ["cold items R", "cold users R", "cold users NDCG"]
        blend = report.get("blend") or {}
        blend_weights = ", ".join(
            f"{name}={weight:+.3f}"
            for name, weight in zip(blend.get("features", []), blend.get("weights", []), strict=False)
        )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Evaluation {record.pk} of {record.tenant}",
            "opts": self.model._meta,
            "original": record,
            "record": record,
            "report": report,
            "charts": evaluation_charts.report_charts(record),
            "headers": headers,
            "blend_weights": blend_weights,
            "rows": rows,
            "has_delete_permission": self.has_delete_permission(request, record),
            "refresh": record.status in (EvaluationReport.Status.QUEUED, EvaluationReport.Status.RUNNING),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/llmrec_django/evaluationreport/report.html", context)
