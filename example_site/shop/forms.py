"""The example shop's forms: sign-up (a Django account plus its linked recommendation profile)
and the "your interests" page."""

from django import forms
from django.contrib.auth.forms import UserCreationForm

from llmrec_django.catalogue import interest_profile


def _interests_text(value: str) -> str:
    """The app's own rules for a profile text a user writes (length, no NUL)."""
    try:
        return interest_profile.clean_user_text(value)
    except ValueError as exc:
        raise forms.ValidationError(str(exc)) from None


class SignUpForm(UserCreationForm):
    interests = forms.CharField(
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "e.g. slow-burning thrillers, trail running, green tea"}
        ),
        help_text="Optional: what you like, in your words. Your first recommendations start from it.",
    )

    class Meta(UserCreationForm.Meta):
        fields = ("username",)

    def clean_interests(self) -> str:
        return _interests_text(self.cleaned_data["interests"])


class InterestProfileForm(forms.Form):
    profile_text = forms.CharField(
        required=False,
        label="Your interests, in your words",
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="We keep your words until you change them or reset them to what we learned.",
    )

    def clean_profile_text(self) -> str:
        return _interests_text(self.cleaned_data["profile_text"])
