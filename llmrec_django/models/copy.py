"""Recommendation copy written for a user's list, cached."""

from __future__ import annotations

from django.db import models

from llmrec_django.models.catalogue import Tenant, TenantManager, UserProfile


class RecommendationCopy(models.Model):
    """Cached copy for one user and one list (``llmrec_django.copywriting.service``).

    ``key`` hashes the generator, the prompt version and every fact the copy was written from
    (items, explanations, profile), so a changed list or catalogue text misses the cache. Rows
    belong to the user profile: deleting it (erasure) deletes them. Expired rows are ignored and
    removed by ``llmrec_copy --purge-expired``.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(UserProfile, on_delete=models.CASCADE, related_name="copies")
    key = models.CharField(max_length=64)
    item_ids = models.JSONField(default=list)
    text = models.TextField()
    generator_name = models.CharField(max_length=255)
    fell_back = models.BooleanField(default=False, help_text="The template was used instead of the generator.")
    reason = models.TextField(blank=True, help_text="Why it fell back.")
    seconds = models.FloatField(default=0.0, help_text="Time taken to write it.")
    generator_attempted = models.CharField(
        max_length=255, blank=True, help_text="The generator that was asked first (the template when it fell back)."
    )
    facts = models.JSONField(
        default=dict, blank=True, help_text="The fact sheet the copy was written from (items and the user's interests)."
    )
    created_at = models.DateTimeField(auto_now=True)
    expires_at = models.DateTimeField(db_index=True)

    objects = TenantManager()

    class Meta:
        verbose_name_plural = "recommendation copy"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user", "key"], name="llmrec_copy_unique_key"),
        ]

    def __str__(self) -> str:
        return f"copy for {self.user_id} by {self.generator_name}"

    @classmethod
    def forget(cls, user: UserProfile) -> int:
        """Delete every cached copy of a user (erasure, a changed profile); returns how many went."""
        return cls.objects.filter(user=user).delete()[0]
