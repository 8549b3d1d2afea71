"""The catalogue screens: tenants, items, users, interactions, the knowledge graph, embedding versions
with build / activate / roll back / retire actions and build progress."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import models
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from llmrec_django import tasks
from llmrec_django.admin.actions import _preview_link, apply_each, roll_back_tenants
from llmrec_django.catalogue import embedding, signals
from llmrec_django.conf import llmrec_settings
from llmrec_django.database import serving_data, vectorstore
from llmrec_django.learning.training import runs
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
    filter_horizontal = ["staff"]
    actions = ["build_embedding_version", "roll_back_embedding_version", "train_encoder", "train_reranker"]
    readonly_fields = ["understood_schema"]

    def save_model(self, request, obj: Tenant, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        serving_data.forget_schema()  # requests read with the new vocabulary at once (this process)

    @admin.display(description="What requests can ask about (learned from the items)")
    def understood_schema(self, tenant: Tenant) -> str:
        if not tenant.pk:
            return "-"
        schema = serving_data.catalogue_schema(tenant.pk)
        rows = (
            (name, a.kind, ", ".join(a.values[:12]) + (" ..." if len(a.values) > 12 else "")
             if a.kind == "enum" else (f"{a.minimum:g} .. {a.maximum:g}" if a.kind == "number" else "yes / no"),
             ", ".join(a.names[1:] + a.units))
            for name, a in schema.attributes.items()
        )  # fmt: skip
        return format_html(
            "<table><tr><th>attribute</th><th>kind</th><th>values</th><th>declared words</th></tr>{}</table>",
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows),
        )

    @admin.display(description="Active embedding version")
    def active_version(self, tenant: Tenant) -> str:
        version = vectorstore.active_version(tenant)
        return str(version) if version else "none"

    @admin.action(description="Build a new embedding version (on the workers) and activate it")
    def build_embedding_version(self, request, queryset) -> None:
        for tenant in queryset:
            version = tasks.start_build(tenant)
            self.message_user(request, f"{tenant}: building version {version.pk} ({version.items_total} items).")

    @admin.action(description="Fine-tune the encoder (a background training run)")
    def train_encoder(self, request, queryset) -> None:
        self._train(request, queryset, "encoder")

    @admin.action(description="Train the CTR re-ranker (a background training run)")
    def train_reranker(self, request, queryset) -> None:
        self._train(request, queryset, "reranker")

    def _train(self, request, queryset, kind: str) -> None:
        for tenant in queryset:
            run = runs.enqueue_run(tenant, kind)
            url = reverse("admin:llmrec_django_trainingrun_change", args=[run.pk])
            self.message_user(
                request,
                format_html(
                    '{}: {} training run <a href="{}">{}</a> queued for the workers that take training '
                    "(queue {}); its page shows its progress.",
                    tenant, kind, url, run.pk, llmrec_settings.QUEUES["train"],
                ),
            )  # fmt: skip

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
    search_fields = ["external_id", "profile_text", "user__username", "user__email"]
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
