"""Experiments: arms inline, and a dashboard per experiment."""

from __future__ import annotations

# Experiments (llmrec_django.recommend.experiments): arms inline, and a dashboard per experiment
from django import forms
from django.contrib import admin
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from llmrec_django.admin import experiment_dashboard as online_dashboard
from llmrec_django.conf import backends
from llmrec_django.learning.online_report import online_report
from llmrec_django.models import (
    Experiment,
    ExperimentArm,
)
from llmrec_django.recommend import experiments as online_experiments


class ArmFormSet(forms.BaseInlineFormSet):
    """An experiment needs two or more arms, one of them shown with traffic, and at most one control."""

    def clean(self) -> None:
        super().clean()
        kept = [f.cleaned_data for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        if not kept:
            return  # an experiment may be saved first and given arms later; it serves nothing until then
        if len(kept) < 2:
            raise ValidationError("An experiment compares two or more arms.")
        if not any(not arm.get("is_shadow") and (arm.get("traffic") or 0) > 0 for arm in kept):
            raise ValidationError("At least one arm must be shown (not shadow) with a traffic share above 0.")
        if sum(1 for arm in kept if arm.get("is_control")) > 1:
            raise ValidationError("Mark at most one arm as the control.")
        if any(arm.get("is_control") and arm.get("is_shadow") for arm in kept):
            raise ValidationError("The control arm must be shown, not a shadow.")


class ArmForm(forms.ModelForm):
    """An arm's strategy may name only a copy generator the site allows (the web process would
    import it)."""

    class Meta:
        model = ExperimentArm
        fields = ["name", "traffic", "is_control", "is_shadow", "strategy"]

    def clean_strategy(self):
        strategy = self.cleaned_data.get("strategy")
        path = strategy.get("copy_generator") if isinstance(strategy, dict) else None
        if isinstance(path, str):
            try:
                backends.check_experiment_copy_generator(path)
            except ImproperlyConfigured as exc:
                raise ValidationError(str(exc)) from exc
        return strategy


class ExperimentArmInline(admin.TabularInline):
    model = ExperimentArm
    form = ArmForm
    formset = ArmFormSet
    extra = 2
    fields = ["name", "traffic", "is_control", "is_shadow", "strategy"]


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    """A/B tests of strategies on the "for you" lists, with a dashboard of their online metrics."""

    list_display = ["name", "tenant", "is_active", "starts_at", "ends_at", "arm_names", "dashboard_link"]
    list_filter = ["tenant", "is_active"]
    search_fields = ["name", "description"]
    inlines = [ExperimentArmInline]

    @admin.display(description="Arms")
    def arm_names(self, experiment: Experiment) -> str:
        return ", ".join(
            f"{arm.name} ({'shadow' if arm.is_shadow else f'{arm.traffic:g}'})" for arm in experiment.arms.all()
        )

    @admin.display(description="Dashboard")
    def dashboard_link(self, experiment: Experiment) -> str:
        url = reverse("admin:llmrec_django_experiment_dashboard", args=[experiment.pk])
        return format_html('<a href="{}">Online metrics</a>', url)

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        online_experiments.plans.clear()  # this process serves the new arms at once

    def get_urls(self):
        dashboard = self.admin_site.admin_view(self.dashboard_view)
        return [
            path("<int:object_id>/dashboard/", dashboard, name="llmrec_django_experiment_dashboard"),
            *super().get_urls(),
        ]

    def dashboard_view(self, request, object_id: int):
        experiment = get_object_or_404(Experiment.objects.select_related("tenant"), pk=object_id)
        if not self.has_view_permission(request, experiment):
            raise PermissionDenied
        report = online_report(experiment)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Experiment {experiment.name}: online metrics",
            "opts": self.model._meta,
            "original": experiment,
            "experiment": experiment,
            "report": report,
            "rows": online_dashboard.report_rows(report),
            "charts": online_dashboard.report_charts(report),
            "winner": online_dashboard.winner_text(report),
            "json_url": reverse("llmrec_api:experiment-report", args=[experiment.name])
            + f"?tenant={experiment.tenant.slug}",
        }
        return TemplateResponse(request, "admin/llmrec_django/experiment/dashboard.html", context)
