"""Batch recommendations: a run computes the top-k of many users at once (``recommend.batch``),
one ``BatchList`` per user, written to files in Django storage when every chunk is done."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from llmrec_django.models.catalogue import Tenant, TenantManager, UserProfile


class BatchRun(models.Model):
    """One batch of lists: which users (``segment``), how many items each, how far it got."""

    class Status(models.TextChoices):
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="batch_runs")
    k = models.PositiveSmallIntegerField(help_text="Items per list.")
    segment = models.JSONField(default=dict, blank=True, help_text='Who: {"active_days": 30} or {"users": N}.')
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    users_total = models.PositiveIntegerField(default=0, help_text="Users selected when the run started.")
    users_done = models.PositiveIntegerField(default=0, help_text="Lists written (updated as chunks finish).")
    user_ids = models.JSONField(default=list, blank=True, help_text="The selected profiles' ids (for --resume).")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    jsonl_file = models.CharField(max_length=255, blank=True, help_text="Name in the batch storage.")
    csv_file = models.CharField(max_length=255, blank=True, help_text="Name in the batch storage.")
    error = models.TextField(blank=True)
    send_digest = models.BooleanField(default=False, help_text="E-mail each user their list when the run is done.")
    digests_sent = models.PositiveIntegerField(null=True, blank=True, help_text="Messages sent (empty: not sent).")

    objects = TenantManager()

    class Meta:
        ordering = ["-started_at", "-pk"]

    def __str__(self) -> str:
        return f"batch run {self.pk} ({self.status}, {self.users_done}/{self.users_total} users)"


class BatchList(models.Model):
    """A user's list in a run. ``served_list_id``: the list's id in the served-list log, which
    tracked links carry so that attribution credits clicks on them."""

    run = models.ForeignKey(BatchRun, on_delete=models.CASCADE, related_name="lists")
    user = models.ForeignKey(UserProfile, on_delete=models.CASCADE, related_name="batch_lists")
    items = models.JSONField(default=list, help_text='[{"item": external id, "score": s, "explanation": text}]')
    source = models.CharField(max_length=32, help_text='"hybrid", "fallback:popularity" ...')
    served_list_id = models.UUIDField(null=True, blank=True, help_text="The ServedList id (recommendation id).")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["run", "user"]
        constraints = [models.UniqueConstraint(fields=["run", "user"], name="llmrec_batch_list_unique_user")]
        indexes = [models.Index(fields=["user", "created_at"], name="llmrec_batch_list_user_time")]

    def __str__(self) -> str:
        return f"batch list of user {self.user_id} in run {self.run_id}"


class DigestOptOut(models.Model):
    """A user who unsubscribed from the e-mail digest of batch lists (``recommend.digest``)."""

    user = models.OneToOneField(UserProfile, primary_key=True, on_delete=models.CASCADE, related_name="digest_opt_out")
    opted_out_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"user {self.user_id} unsubscribed from the digest"
