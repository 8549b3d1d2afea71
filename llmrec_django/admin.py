"""Admin screens: the catalogue, behaviour, the knowledge graph, and embedding versions with
build / activate / roll back / retire actions and build progress.

Actions call the same services as the management commands (``tasks.start_build``,
``vectorstore.activate_version`` ...), so the admin adds no behaviour of its own.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import models
from django.utils.html import format_html, format_html_join

from llmrec_django import embedding, tasks, vectorstore
from llmrec_django.models import (
    EmbeddingVersion,
    Entity,
    Interaction,
    Item,
    ItemVector,
    Relation,
    Tenant,
    UserProfile,
)


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
        for tenant in queryset:
            try:
                version = vectorstore.rollback(tenant)
            except vectorstore.VersionStateError as exc:
                self.message_user(request, f"{tenant}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{tenant}: version {version.pk} is active again.")


class OutgoingRelationInline(admin.TabularInline):
    model = Relation
    fk_name = "head_item"
    fields = ["relation", "tail_entity", "tail_item", "tail_user", "weight"]
    raw_id_fields = ["tail_entity", "tail_item", "tail_user"]
    extra = 0
    verbose_name = "knowledge-graph edge"
    verbose_name_plural = "knowledge-graph edges (this item -> ...)"


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ["title", "external_id", "category", "tenant", "is_active", "embedding_status", "updated_at"]
    list_filter = ["tenant", "is_active", "category"]
    search_fields = ["external_id", "title", "description"]
    readonly_fields = ["content_hash", "embedding_status", "model_text", "created_at", "updated_at"]
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


@admin.register(UserProfile)
class UserProfileAdmin(admin.ModelAdmin):
    list_display = ["external_id", "tenant", "user", "personalisation_enabled", "created_at"]
    list_filter = ["tenant", "personalisation_enabled"]
    search_fields = ["external_id", "profile_text"]
    raw_id_fields = ["user"]


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
    actions = ["activate", "retire"]

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

    @admin.action(description="Retire (drop vectors and index)")
    def retire(self, request, queryset) -> None:
        for version in queryset:
            try:
                vectorstore.retire_version(version)
            except vectorstore.VersionStateError as exc:
                self.message_user(request, f"Version {version.pk}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"Version {version.pk} retired.")


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
        gain = metrics.get("relative_gain")
        return f"{metrics['metric']} {metrics['candidate']:.4f} vs {metrics['baseline']:.4f}" + (
            "" if gain is None else f" ({gain:+.1%})"
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
        return format_html("<table>{}{}</table>", header, rows)

    @admin.action(description="Promote (switch recommendations to this model)")
    def promote(self, request, queryset) -> None:
        from llmrec_django.training import promotion

        for run in queryset:
            try:
                promotion.promote(run)
            except promotion.PromotionError as exc:
                self.message_user(request, f"Run {run.pk}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"Run {run.pk} is active.")

    @admin.action(description="Roll back (the model active before this run serves again)")
    def roll_back(self, request, queryset) -> None:
        from llmrec_django.training import promotion

        for run in queryset:
            try:
                promotion.rollback(run)
            except promotion.PromotionError as exc:
                self.message_user(request, f"Run {run.pk}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"Run {run.pk} rolled back.")
