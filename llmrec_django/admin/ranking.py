"""Ranking screens: business rules, fitted blends, collaborative models, API keys, conversations."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

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
