"""The example shop's forms: sign-up (a Django account plus its linked recommendation profile)."""

from django import forms
from django.contrib.auth.forms import UserCreationForm


class SignUpForm(UserCreationForm):
    interests = forms.CharField(
        required=False,
        max_length=1000,
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "e.g. slow-burning thrillers, trail running, green tea"}
        ),
        help_text="Optional: what you like, in your words. Your first recommendations start from it.",
    )

    class Meta(UserCreationForm.Meta):
        fields = ("username",)
