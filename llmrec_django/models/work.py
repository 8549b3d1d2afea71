"""Reliable background work: the outbox (``PendingWork``), delivery counts (``TaskDelivery``)
and writes set aside because their data could not be stored (``QuarantinedWrite``)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from llmrec_django.models.catalogue import Tenant, UserProfile


class PendingWork(models.Model):
    """Follow-up work decided in a transaction (the outbox): written in the same transaction as
    the data that calls for it, sent to Celery after the commit, and deleted by the task once the
    work is done. A broker that is down loses nothing: the row waits for ``drain_outbox``.

    ``key`` identifies the work (task and arguments): asking again for work still pending bumps
    ``generation`` instead of adding a row, and a task removes the row only if no newer request
    came while it ran. ``sent_at`` is a lease: a row sent less than ``OUTBOX_RESEND_SECONDS`` ago
    is not sent again.
    """

    # No database constraint: deleting a tenant fires signals (its relations' post_delete) that
    # write work for it in the deleting transaction; such work is a no-op once it runs.
    tenant = models.ForeignKey(Tenant, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    task = models.CharField(max_length=200, help_text="Celery task name.")
    args = models.JSONField(default=list, blank=True, help_text="Positional arguments of the task.")
    key = models.CharField(max_length=64, unique=True, help_text="sha256 of the task and its arguments.")
    generation = models.PositiveIntegerField(default=1, help_text="Bumped when the same work is asked for again.")
    created_at = models.DateTimeField(default=timezone.now)
    requested_at = models.DateTimeField(default=timezone.now, help_text="When the work was last asked for.")
    sent_at = models.DateTimeField(null=True, blank=True, help_text="When the work was last sent to the broker.")
    attempts = models.PositiveIntegerField(default=0, help_text="Times sent to the broker for this generation.")
    last_error = models.TextField(blank=True)
    given_up_at = models.DateTimeField(null=True, blank=True, help_text="No more sends: it failed too often.")

    class Meta:
        ordering = ["pk"]
        verbose_name_plural = "pending work"

    def __str__(self) -> str:
        return f"{self.task.rsplit('.', 1)[-1]}{tuple(self.args)} (generation {self.generation})"


class TaskDelivery(models.Model):
    """How many times one message of a task (its id, and the retry it is) reached a worker.

    Counted and committed before the work starts and deleted when the task ends in the process,
    so a row that stays counts deliveries that killed their worker (OOM, SIGKILL), which an
    ``acks_late`` broker would otherwise redeliver forever.
    """

    task_id = models.CharField(max_length=255)
    retries = models.PositiveIntegerField(default=0, help_text="The retry this message is (0: the first run).")
    task_name = models.CharField(max_length=200)
    deliveries = models.PositiveIntegerField(default=1)
    first_delivered_at = models.DateTimeField(default=timezone.now)
    last_delivered_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["task_id", "retries"], name="llmrec_taskdelivery_unique")]
        verbose_name_plural = "task deliveries"

    def __str__(self) -> str:
        return f"{self.task_name}[{self.task_id}] retry {self.retries}: {self.deliveries} deliveries"


class QuarantinedWrite(models.Model):
    """A background write that failed for its data, not for the database being away (a value
    PostgreSQL refuses), set aside after one try of its own so that the writes queued behind it
    go on. Staff read them in the admin; the health endpoint counts them. The row belongs to the
    user it names, if any: erasing the user deletes it."""

    kind = models.CharField(max_length=64, help_text='What was being written, e.g. "served_list".')
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(UserProfile, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    payload = models.JSONField(default=dict, blank=True, help_text="What was to be written, made storable.")
    error = models.TextField(help_text="Why the database refused it.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.kind} quarantined at {self.created_at:%Y-%m-%d %H:%M}"
