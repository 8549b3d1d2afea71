"""Forms of the admin's own pages: the recommendation preview and starting an evaluation."""

from __future__ import annotations

from typing import Any

from django import forms

from llmrec_django.conf import llmrec_settings
from llmrec_django.database.tenancy import get_default_tenant
from llmrec_django.learning.evaluation import SPLITS, EvaluationOptions
from llmrec_django.models import TIMES_OF_DAY, Tenant


def _tenant_field() -> forms.ModelChoiceField:
    return forms.ModelChoiceField(Tenant.objects.order_by("slug"), required=False, empty_label="default tenant")


class PreviewForm(forms.Form):
    """What to preview: a user's list, the items similar to one, a search, or the popular list."""

    MODES = [
        ("user", "recommendations for a user"),
        ("similar", "items similar to an item"),
        ("search", "search"),
        ("popular", "popular (what anonymous visitors see)"),
    ]

    tenant = _tenant_field()
    mode = forms.ChoiceField(choices=MODES, initial="user", required=False)
    user = forms.CharField(required=False, max_length=255, help_text="External id of the user.")
    item = forms.CharField(required=False, max_length=255, help_text="External id of the item (similar items).")
    query = forms.CharField(required=False, max_length=1000, help_text="Search text (search).")
    k = forms.IntegerField(min_value=1, initial=10, required=False, help_text="Blank: 10.")
    category = forms.CharField(required=False, max_length=255)
    device = forms.CharField(required=False, max_length=64, help_text="e.g. desktop, mobile, tablet")
    time_of_day = forms.ChoiceField(
        required=False, choices=[("", "now")] + [(t, t) for t in TIMES_OF_DAY], label="Time of day"
    )
    location = forms.CharField(required=False, max_length=128)
    with_copy = forms.BooleanField(required=False, label="Write copy")

    def clean_k(self) -> int:
        k = self.cleaned_data["k"]
        if k is None:  # a preview link that names only the user or the item
            return min(self.fields["k"].initial, int(llmrec_settings.MAX_K))
        if k > int(llmrec_settings.MAX_K):
            raise forms.ValidationError(f"At most {llmrec_settings.MAX_K} (LLMREC['MAX_K']).")
        return k

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if "mode" in data:
            data["mode"] = data["mode"] or self.fields["mode"].initial
        needed = {"user": "user", "similar": "item", "search": "query"}.get(data.get("mode"))
        if needed and not (data.get(needed) or "").strip():
            self.add_error(needed, "Needed for this kind of preview.")
        data["tenant"] = data.get("tenant") or get_default_tenant()
        return data

    def context(self) -> dict[str, str]:
        data = self.cleaned_data
        return {key: data[key] for key in ("device", "time_of_day", "location") if data.get(key)}


class EvaluationStartForm(forms.Form):
    tenant = _tenant_field()
    k = forms.IntegerField(min_value=1, max_value=100, initial=10)
    split = forms.ChoiceField(choices=[(s, s) for s in SPLITS], initial="temporal")
    test_events = forms.IntegerField(min_value=1, initial=1, help_text="Temporal: each user's last N events held out.")
    seed = forms.IntegerField(initial=0)
    reuse_vectors = forms.BooleanField(
        required=False, initial=True, help_text="Copy the active item vectors instead of re-embedding the catalogue."
    )
    max_users = forms.IntegerField(
        required=False, min_value=1, help_text="Evaluate a seeded sample of at most this many users (blank: all)."
    )

    def options(self) -> EvaluationOptions:
        data = self.cleaned_data
        return EvaluationOptions(
            k=data["k"],
            split=data["split"],
            test_events=data["test_events"],
            seed=data["seed"],
            reuse_vectors=data["reuse_vectors"],
            max_users=data["max_users"],
        )

    def chosen_tenant(self) -> Tenant:
        return self.cleaned_data.get("tenant") or get_default_tenant()
