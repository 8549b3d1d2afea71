"""Ranking screens: business rules, fitted blends, collaborative models, API keys, conversations."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from llmrec_django.models import (
    API_KEY_SCOPES,
    DEFAULT_API_KEY_SCOPES,
    ApiKey,
    BusinessRule,
    CollaborativeModel,
    ConversationSession,
    ConversationTurn,
    RankingModel,
)


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
    list_display = ["id", "tenant", "choice", "weights_shown", "valid_auc", "valid_loss", "n_train", "created_at"]
    list_filter = ["tenant"]
    readonly_fields = ["choice", "components", *(f.name for f in RankingModel._meta.fields)]

    @admin.display(description="Choice")
    def choice(self, model: RankingModel) -> str:
        return (model.metrics or {}).get("choice") or "blend"

    @admin.display(description="NDCG@10 on validation (blend and each feature alone)")
    def components(self, model: RankingModel) -> str:
        figures = (model.metrics or {}).get("ndcg@10") or {}
        if not figures:
            return "not measured (fitted before components were compared)"
        rows = sorted(figures.items(), key=lambda pair: -pair[1])
        return format_html(
            "<table><tr><th>ranking</th><th>NDCG@10</th></tr>{}</table>",
            format_html_join("", "<tr><td>{}</td><td>{}</td></tr>", ((n, f"{v:.4f}") for n, v in rows)),
        )

    def has_add_permission(self, request) -> bool:
        return False  # fitted by llmrec_fit, never typed in

    @admin.display(description="Weights")
    def weights_shown(self, model: RankingModel) -> str:
        return ", ".join(f"{n}={w:+.3f}" for n, w in zip(model.feature_names, model.weights, strict=False))


@admin.register(CollaborativeModel)
class CollaborativeModelAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "tenant",
        "settings",
        "sequence_models",
        "n_users",
        "n_items",
        "n_interactions",
        "fit_seconds",
        "created_at",
    ]
    list_filter = ["tenant"]
    readonly_fields = ["settings", "sequence_models", "tuning", *(f.name for f in CollaborativeModel._meta.fields)]

    @admin.display(description="Settings")
    def settings(self, model: CollaborativeModel) -> str:
        params = model.params or {}
        shown = ("factors", "regularization", "alpha", "item_knn_neighbours")
        return ", ".join(f"{key}={params[key]}" for key in shown if key in params)

    @admin.display(description="Sequence models")
    def sequence_models(self, model: CollaborativeModel) -> str:
        params = model.params or {}
        parts = []
        if "transitions" in params:
            parts.append(f"transitions: {params['transitions'].get('pairs', 0):,} pairs")
        if "sequential" in params:
            seq = params["sequential"]
            parts.append(f"sequential: validation NDCG@10 {seq.get('valid_ndcg@10')} (epoch {seq.get('best_epoch')})")
        return "; ".join(parts) or "none"

    @admin.display(description="How the settings were chosen (NDCG@10 on validation)")
    def tuning(self, model: CollaborativeModel) -> str:
        tuning = (model.params or {}).get("tuning")
        if not tuning:
            return "not tuned (the settings as configured)"
        if "skipped" in tuning:
            return f"not tuned: {tuning['skipped']}"
        trials = [("ALS", t) for t in tuning.get("als", [])] + [("item-KNN", t) for t in tuning.get("item_knn", [])]
        return format_html(
            "<p>{}, {} s</p><table><tr><th>model</th><th>setting</th><th>NDCG@10</th><th>s</th></tr>{}</table>",
            tuning.get("validation", ""),
            tuning.get("seconds", ""),
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (kind, ", ".join(f"{k}={v}" for k, v in t["params"].items()), f"{t['ndcg@10']:.4f}", t["seconds"])
                    for kind, t in trials
                ),
            ),
        )

    def has_add_permission(self, request) -> bool:
        return False


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=[(scope, scope) for scope in API_KEY_SCOPES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        initial=list(DEFAULT_API_KEY_SCOPES),
        help_text=ApiKey._meta.get_field("scopes").help_text,
    )

    class Meta:
        model = ApiKey
        fields = ["tenant", "name", "scopes", "is_active", "expires_at"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Staff issue keys for server-to-server API calls; the secret is shown once, on creation,
    and only its hash is stored. Revoke a key by unticking "is active" (or delete it)."""

    list_display = ["name", "prefix", "tenant", "scope_list", "is_active", "expires_at", "created_at", "last_used_at"]
    list_filter = ["tenant", "is_active"]
    search_fields = ["name", "prefix"]
    fields = [
        "tenant",
        "name",
        "scopes",
        "is_active",
        "expires_at",
        "prefix",
        "created_by",
        "created_at",
        "last_used_at",
    ]
    form = ApiKeyForm

    @admin.display(description="Scopes")
    def scope_list(self, key: ApiKey) -> str:
        return ", ".join(key.scopes or []) or "none"

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
    fields = [
        "number", "kind", "message", "liked", "disliked", "reply", "reply_generator", "reply_check",
        "reply_seconds", "reply_facts", "recommended", "source", "created_at",
    ]  # fmt: skip
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
