"""Admin screens: the catalogue (items with their embedding status and knowledge-graph edges),
behaviour (interactions with filters), the knowledge graph, embedding versions with build /
activate / roll back / retire actions and build progress, business rules, fitted models, API keys,
conversations, copy; and two pages of their own: the recommendation preview (any user's list with
scores, sources and explanations, in a chosen context) and evaluation reports (offline
evaluations with server-rendered SVG charts, started from the admin).

Actions call the same services as the management commands (``tasks.start_build``,
``vectorstore.activate_version`` ...), so the admin adds no behaviour of its own.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import models
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from llmrec_django import embedding, signals, tasks, vectorstore
from llmrec_django.models import (
    ApiKey,
    ConversationSession,
    ConversationTurn,
    EmbeddingVersion,
    Entity,
    Interaction,
    Item,
    ItemVector,
    Relation,
    Tenant,
    UserProfile,
)


def preview_url(**params: object) -> str:
    """The preview page, filled in with ``params`` (mode, user, item, query, tenant ...)."""
    url = reverse("admin:llmrec_django_recommendationpreview_changelist")
    return f"{url}?{urlencode({k: v for k, v in params.items() if v not in (None, '')})}" if params else url


def _preview_link(label: str, **params: object) -> str:
    return format_html('<a href="{}">{}</a>', preview_url(**params), label)


def apply_each(model_admin, request, objects, operation, error: type[Exception], label, done) -> None:
    """Run ``operation`` on each object; an ``error`` becomes an error message naming
    ``label(obj)``, success the message ``done(obj, result)``. Later objects still run."""
    for obj in objects:
        try:
            result = operation(obj)
        except error as exc:
            model_admin.message_user(request, f"{label(obj)}: {exc}", messages.ERROR)
        else:
            model_admin.message_user(request, done(obj, result))


def roll_back_tenants(model_admin, request, tenants) -> None:
    """Re-activate the previously active embedding version of each tenant."""
    apply_each(
        model_admin, request, tenants, vectorstore.rollback, vectorstore.VersionStateError,
        label=str, done=lambda tenant, version: f"{tenant}: version {version.pk} is active again.",
    )  # fmt: skip


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "active_version", "created_at"]
    search_fields = ["slug", "name"]
    actions = ["build_embedding_version", "roll_back_embedding_version", "train_encoder", "train_reranker"]

    @admin.display(description="Active embedding version")
    def active_version(self, tenant: Tenant) -> str:
        version = vectorstore.active_version(tenant)
        return str(version) if version else "none"

    @admin.action(description="Build a new embedding version (on the workers) and activate it")
    def build_embedding_version(self, request, queryset) -> None:
        for tenant in queryset:
            version = tasks.start_build(tenant)
            self.message_user(request, f"{tenant}: building version {version.pk} ({version.items_total} items).")

    @admin.action(description="Fine-tune the encoder (on the GPU workers)")
    def train_encoder(self, request, queryset) -> None:
        self._train(request, queryset, "encoder")

    @admin.action(description="Train the CTR re-ranker (on the GPU workers)")
    def train_reranker(self, request, queryset) -> None:
        self._train(request, queryset, "reranker")

    def _train(self, request, queryset, kind: str) -> None:
        from llmrec_django.training import runs

        for tenant in queryset:
            run = runs.enqueue_run(tenant, kind)
            self.message_user(request, f"{tenant}: {kind} training run {run.pk} queued.")

    @admin.action(description="Roll back to the previously active embedding version")
    def roll_back_embedding_version(self, request, queryset) -> None:
        roll_back_tenants(self, request, queryset)


class OutgoingRelationInline(admin.TabularInline):
    model = Relation
    fk_name = "head_item"
    fields = ["relation", "tail_entity", "tail_item", "tail_user", "weight"]
    raw_id_fields = ["tail_entity", "tail_item", "tail_user"]
    extra = 0
    verbose_name = "knowledge-graph edge"
    verbose_name_plural = "knowledge-graph edges (this item -> ...)"


class EmbeddedFilter(admin.SimpleListFilter):
    """Items with or without a vector in their tenant's active embedding version."""

    title = "vector in the active version"
    parameter_name = "embedded"

    def lookups(self, request, model_admin):
        return [("yes", "yes"), ("no", "no")]

    def queryset(self, request, queryset):
        if self.value() not in ("yes", "no"):
            return queryset
        embedded = ItemVector.objects.filter(item=models.OuterRef("pk"), version__status=EmbeddingVersion.Status.ACTIVE)
        return queryset.filter(models.Exists(embedded) if self.value() == "yes" else ~models.Exists(embedded))


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ["title", "external_id", "category", "tenant", "is_active", "embedding_status", "updated_at"]
    list_filter = ["tenant", "is_active", EmbeddedFilter, "category"]
    search_fields = ["external_id", "title", "description"]
    readonly_fields = [
        "content_hash", "embedding_status", "model_text", "similar_preview_link", "created_at", "updated_at"
    ]  # fmt: skip
    inlines = [OutgoingRelationInline]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def save_formset(self, request, form, formset, change):
        # New edges belong to the item's tenant (the inline does not show the tenant field).
        for instance in formset.save(commit=False):
            instance.tenant_id = form.instance.tenant_id
            instance.save()
        for obj in formset.deleted_objects:
            obj.delete()

    @admin.display(description="Embedding")
    def embedding_status(self, item: Item) -> str:
        version = vectorstore.active_version(item.tenant_id)
        if version is None:
            return "no active version"
        stored = ItemVector.objects.filter(version=version, item=item).values_list("content_hash", flat=True).first()
        if stored is None:
            return "not embedded"
        current = embedding.item_texts([item])[0].hash
        return "up to date" if stored == current else "stale (re-embedding)"

    @admin.display(description="Text the model sees")
    def model_text(self, item: Item) -> str:
        return embedding.item_text(item) if item.pk else ""

    @admin.display(description="Similar items")
    def similar_preview_link(self, item: Item) -> str:
        if not item.pk:
            return ""
        return _preview_link("Preview similar items", mode="similar", item=item.external_id, tenant=item.tenant_id)


@admin.register(UserProfile)
class UserProfileAdmin(admin.ModelAdmin):
    list_display = [
        "external_id", "tenant", "user", "profile_text_source", "personalisation_enabled", "created_at", "preview_link",
    ]  # fmt: skip
    list_filter = ["tenant", "profile_text_source", "personalisation_enabled"]
    search_fields = ["external_id", "profile_text"]
    raw_id_fields = ["user"]
    readonly_fields = ["profile_generated_at", "preview_link"]
    # Fields the interest vector is made from (or whether there is one).
    VECTOR_INPUTS = {"profile_text", "profile_text_source", "personalisation_enabled", "recent_queries"}

    def save_model(self, request, obj: UserProfile, form, change: bool) -> None:
        if "profile_text" in form.changed_data and "profile_text_source" not in form.changed_data:
            obj.profile_text_source = UserProfile.TextSource.SITE  # staff wrote it: regeneration keeps it
        super().save_model(request, obj, form, change)
        if self.VECTOR_INPUTS & set(form.changed_data):
            signals.users_changed(obj.tenant_id, [obj.pk])  # the vector follows the text

    @admin.display(description="Recommendations")
    def preview_link(self, profile: UserProfile) -> str:
        if not profile.pk:
            return ""
        return _preview_link("Preview", mode="user", user=profile.external_id, tenant=profile.tenant_id)


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
    list_display = ["timestamp", "user", "event_type", "item", "value", "device", "location", "tenant"]
    list_filter = ["tenant", "event_type", "device", ("timestamp", admin.DateFieldListFilter)]
    search_fields = ["event_id", "user__external_id", "item__external_id", "item__title"]
    raw_id_fields = ["user", "item"]
    date_hierarchy = "timestamp"
    list_select_related = ["user", "item", "tenant"]


@admin.register(Entity)
class EntityAdmin(admin.ModelAdmin):
    list_display = ["name", "entity_type", "tenant"]
    list_filter = ["tenant", "entity_type"]
    search_fields = ["name"]


@admin.register(Relation)
class RelationAdmin(admin.ModelAdmin):
    list_display = ["__str__", "relation", "weight", "tenant"]
    list_filter = ["tenant", "relation"]
    search_fields = ["relation", "head_item__title", "tail_entity__name", "tail_item__title"]
    raw_id_fields = ["head_item", "head_entity", "head_user", "tail_item", "tail_entity", "tail_user"]
    list_select_related = ["head_item", "head_entity", "head_user", "tail_item", "tail_entity", "tail_user"]


@admin.register(EmbeddingVersion)
class EmbeddingVersionAdmin(admin.ModelAdmin):
    list_display = ["id", "tenant", "status", "model_name", "dimension", "progress_bar", "recall", "created_at"]
    list_filter = ["tenant", "status"]
    readonly_fields = [f.name for f in EmbeddingVersion._meta.fields] + ["progress_bar"]
    actions = ["activate", "roll_back", "retire"]

    def has_add_permission(self, request) -> bool:
        return False  # versions are built (tenant action or llmrec_embed), not typed in

    @admin.display(description="Progress")
    def progress_bar(self, version: EmbeddingVersion) -> str:
        return format_html(
            '<progress value="{}" max="{}"></progress> {} / {}',
            version.items_done,
            max(version.items_total, 1),
            version.items_done,
            version.items_total,
        )

    @admin.display(description="Index recall@10")
    def recall(self, version: EmbeddingVersion):
        return version.metrics.get("recall_at_10")

    @admin.action(description="Activate (switch all recommendations to this version)")
    def activate(self, request, queryset) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to activate.", messages.ERROR)
            return
        try:
            version = vectorstore.activate_version(queryset.get())
        except vectorstore.VersionStateError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(request, f"Version {version.pk} is active.")

    @admin.action(description="Roll back (re-activate the previously active version of their tenants)")
    def roll_back(self, request, queryset) -> None:
        roll_back_tenants(self, request, Tenant.objects.filter(pk__in=queryset.values("tenant_id")))

    @admin.action(description="Retire (drop vectors and index)")
    def retire(self, request, queryset) -> None:
        apply_each(
            self, request, queryset, vectorstore.retire_version, vectorstore.VersionStateError,
            label=lambda version: f"Version {version.pk}",
            done=lambda version, _: f"Version {version.pk} retired.",
        )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Ranking: business rules, fitted blends, collaborative models

from llmrec_django.models import BusinessRule, CollaborativeModel, RankingModel  # noqa: E402


@admin.register(BusinessRule)
class BusinessRuleAdmin(admin.ModelAdmin):
    list_display = ["__str__", "kind", "target", "factor", "position", "condition", "is_active", "starts_at", "ends_at"]
    list_filter = ["tenant", "kind", "is_active", "device", "time_of_day"]
    search_fields = ["name", "category", "attribute_key", "attribute_value", "item__title"]
    raw_id_fields = ["item"]
    list_editable = ["is_active"]

    @admin.display(description="Target")
    def target(self, rule: BusinessRule) -> str:
        return rule.target_label

    @admin.display(description="Context condition")
    def condition(self, rule: BusinessRule) -> str:
        parts = [f"{key}={getattr(rule, key)}" for key in ("device", "time_of_day", "location") if getattr(rule, key)]
        return ", ".join(parts) or "always"


@admin.register(RankingModel)
class RankingModelAdmin(admin.ModelAdmin):
    list_display = ["id", "tenant", "weights_shown", "valid_auc", "valid_loss", "n_train", "created_at"]
    list_filter = ["tenant"]
    readonly_fields = [f.name for f in RankingModel._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False  # fitted by llmrec_fit, never typed in

    @admin.display(description="Weights")
    def weights_shown(self, model: RankingModel) -> str:
        return ", ".join(f"{n}={w:+.3f}" for n, w in zip(model.feature_names, model.weights, strict=False))


@admin.register(CollaborativeModel)
class CollaborativeModelAdmin(admin.ModelAdmin):
    list_display = ["id", "tenant", "n_users", "n_items", "n_interactions", "fit_seconds", "created_at"]
    list_filter = ["tenant"]
    readonly_fields = [f.name for f in CollaborativeModel._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Staff issue keys for server-to-server API calls; the secret is shown once, on creation,
    and only its hash is stored. Revoke a key by unticking "is active" (or delete it)."""

    list_display = ["name", "prefix", "tenant", "is_active", "created_by", "created_at", "last_used_at"]
    list_filter = ["tenant", "is_active"]
    search_fields = ["name", "prefix"]
    fields = ["tenant", "name", "is_active", "prefix", "created_by", "created_at", "last_used_at"]
    readonly_fields = ["prefix", "created_by", "created_at", "last_used_at"]

    def has_module_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_staff and super().has_module_permission(request)

    def save_model(self, request, obj: ApiKey, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        obj.created_by = request.user
        raw_key = obj.set_new_key()
        super().save_model(request, obj, form, change)
        self.message_user(
            request,
            f"API key for {obj.tenant}: {raw_key} — copy it now, it is not shown again. "
            f'Send it as "Authorization: Api-Key <key>".',
            messages.WARNING,
        )


class ConversationTurnInline(admin.TabularInline):
    model = ConversationTurn
    fields = ["number", "kind", "message", "liked", "disliked", "reply", "recommended", "source", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(ConversationSession)
class ConversationSessionAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "tenant", "category", "created_at", "updated_at"]
    list_filter = ["tenant"]
    search_fields = ["user__external_id"]
    raw_id_fields = ["user"]
    readonly_fields = ["version", "query_vector", "shown_item_ids", "liked_item_ids", "disliked_item_ids"]
    inlines = [ConversationTurnInline]


# ---------------------------------------------------------------------------------------------
# Recommendation copy (cached; written by llmrec_django.copywriting.service)

from llmrec_django.models import RecommendationCopy  # noqa: E402


@admin.register(RecommendationCopy)
class RecommendationCopyAdmin(admin.ModelAdmin):
    list_display = ["user", "generator_name", "fell_back", "short_text", "seconds", "created_at", "expires_at"]
    list_filter = ["tenant", "generator_name", "fell_back"]
    search_fields = ["user__external_id", "text", "reason"]
    readonly_fields = [f.name for f in RecommendationCopy._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False  # written by the service, never typed in

    @admin.display(description="Text")
    def short_text(self, copy: RecommendationCopy) -> str:
        return copy.text if len(copy.text) <= 100 else copy.text[:99] + "…"


# ---------------------------------------------------------------------------------------------
# Recommendation preview and evaluation reports (pages of their own)

from django.core.exceptions import PermissionDenied  # noqa: E402
from django.http import HttpResponseRedirect  # noqa: E402
from django.shortcuts import get_object_or_404  # noqa: E402
from django.template.response import TemplateResponse  # noqa: E402

from llmrec_django import evaluation_reports, preview  # noqa: E402
from llmrec_django.admin_forms import EvaluationStartForm, PreviewForm  # noqa: E402
from llmrec_django.models import EvaluationReport, RecommendationPreview  # noqa: E402


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
        extra = {"history_chart": evaluation_reports.history_chart(recent), **(extra_context or {})}
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
        for name, metrics in evaluation_reports.ordered_methods(report):
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
            "charts": evaluation_reports.report_charts(record),
            "headers": headers,
            "blend_weights": blend_weights,
            "rows": rows,
            "has_delete_permission": self.has_delete_permission(request, record),
            "refresh": record.status in (EvaluationReport.Status.QUEUED, EvaluationReport.Status.RUNNING),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/llmrec_django/evaluationreport/report.html", context)


# ---------------------------------------------------------------------------------------------
# Fine-tuning runs

from llmrec_django.models import TrainingRun  # noqa: E402


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
        from llmrec_django.training.promotion import describe_gain

        gain = describe_gain(metrics)
        return f"{metrics['metric']} {metrics['candidate']:.4f} vs {metrics['baseline']:.4f}" + (
            f": {gain}" if gain else ""
        )

    @admin.display(description="Loss and validation metrics per epoch")
    def chart(self, run: TrainingRun) -> str:
        from django.utils.safestring import mark_safe

        from llmrec_django.training.chart import epoch_chart_svg

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
        from llmrec_django.training.promotion import REFERENCE_METHODS

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
        from llmrec_django.training import promotion

        apply_each(
            self, request, queryset, promotion.promote, promotion.PromotionError,
            label=lambda run: f"Run {run.pk}", done=lambda run, _: f"Run {run.pk} is active.",
        )  # fmt: skip

    @admin.action(description="Roll back (the model active before this run serves again)")
    def roll_back(self, request, queryset) -> None:
        from llmrec_django.training import promotion

        apply_each(
            self, request, queryset, promotion.rollback, promotion.PromotionError,
            label=lambda run: f"Run {run.pk}", done=lambda run, _: f"Run {run.pk} rolled back.",
        )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Experiments (llmrec_django.online): arms inline, and a dashboard per experiment

from django import forms  # noqa: E402
from django.core.exceptions import ValidationError  # noqa: E402
from django.urls import path  # noqa: E402

from llmrec_django.models import Experiment, ExperimentArm  # noqa: E402
from llmrec_django.online import dashboard as online_dashboard  # noqa: E402
from llmrec_django.online import experiments as online_experiments  # noqa: E402
from llmrec_django.online.report import online_report  # noqa: E402


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


class ExperimentArmInline(admin.TabularInline):
    model = ExperimentArm
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
