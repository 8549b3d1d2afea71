"""Conversational recommendation sessions and their turns."""

from __future__ import annotations

from django.db import models

from llmrec_django.models.catalogue import Tenant, TenantManager, UserProfile
from llmrec_django.models.vectors import EmbeddingVersion


class ConversationSession(models.Model):
    """A conversational recommendation session of one user ("something lighter, less violent").

    ``query_vector`` is the session's current query in the embedding space of ``version``: each
    message is embedded and blended in, each feedback moves it toward liked and away from disliked
    items (Rocchio, ``core.conversation``). Items already shown or disliked are not shown again.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(UserProfile, on_delete=models.CASCADE, related_name="conversations")
    version = models.ForeignKey(EmbeddingVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    query_vector = models.JSONField(default=list, blank=True, help_text="Unit vector, [] before the first query.")
    shown_item_ids = models.JSONField(default=list, blank=True)
    liked_item_ids = models.JSONField(default=list, blank=True)
    disliked_item_ids = models.JSONField(default=list, blank=True)
    category = models.CharField(max_length=255, blank=True, help_text="Category named in a message, as a filter.")
    max_price = models.FloatField(null=True, blank=True, help_text="Price ceiling named in a message.")
    intent = models.JSONField(
        default=dict, blank=True,
        help_text="What the conversation asks for so far (core.intent): constraints, context, soft words.",
    )  # fmt: skip
    context = models.JSONField(default=dict, blank=True, help_text="device, time_of_day, location of the start.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantManager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["tenant", "user", "created_at"], name="llmrec_conv_user_time")]

    def __str__(self) -> str:
        return f"conversation {self.pk} of {self.user_id}"


class ConversationTurn(models.Model):
    """One exchange of a session: what the user said or rated, and what was answered."""

    class Kind(models.TextChoices):
        START = "start"
        MESSAGE = "message"
        FEEDBACK = "feedback"

    session = models.ForeignKey(ConversationSession, on_delete=models.CASCADE, related_name="turns")
    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    message = models.TextField(blank=True)
    liked = models.JSONField(default=list, blank=True, help_text="External ids of items liked in this turn.")
    disliked = models.JSONField(default=list, blank=True, help_text="External ids of items disliked in this turn.")
    reply = models.TextField(blank=True)
    reply_generator = models.CharField(
        max_length=255, blank=True, help_text="What wrote the reply's sentence about the first pick (or 'template')."
    )
    reply_check = models.TextField(
        blank=True, help_text="Why the model's sentence was not used (empty when it passed the checks)."
    )
    reply_seconds = models.FloatField(default=0.0, help_text="Time taken to write the model's sentence.")
    reply_facts = models.JSONField(default=dict, blank=True, help_text="The fact sheet the reply was written from.")
    recommended = models.JSONField(default=list, blank=True, help_text="External ids shown in answer, in order.")
    source = models.CharField(max_length=32, blank=True)
    reason = models.TextField(blank=True, help_text="Why a fallback answered, if one did.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session", "number"]
        constraints = [models.UniqueConstraint(fields=["session", "number"], name="llmrec_turn_unique_number")]

    def __str__(self) -> str:
        return f"turn {self.number} ({self.kind}) of conversation {self.session_id}"
