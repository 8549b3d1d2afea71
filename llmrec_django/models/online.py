"""Online measurement: experiments and their arms, served lists, attribution."""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone

from llmrec_django.core.strategy import Strategy
from llmrec_django.models.catalogue import Interaction, Tenant, TenantManager, UserProfile


class Experiment(models.Model):
    """An A/B test of recommendation strategies on the personalised ("for you") lists.

    Users are split between the arms by a hash of the experiment and the user's id, in the arms'
    traffic shares, and keep their arm (``ExperimentAssignment``). It runs while ``is_active``
    and between ``starts_at`` and ``ends_at`` (either may be empty: no bound). A shadow arm
    scores a list for the same users without showing it, so its lists can be compared offline.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="experiments")
    name = models.SlugField(max_length=100, help_text="Short name, used by the report command and the API.")
    description = models.TextField(blank=True, help_text="What is tested, and why.")
    is_active = models.BooleanField(default=True, help_text="Untick to stop assigning and serving arms.")
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    salt = models.CharField(
        max_length=32, blank=True, editable=False, help_text="Mixed into the assignment hash (set on creation)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantManager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="llmrec_experiment_unique_name")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.salt:
            import secrets

            self.salt = secrets.token_hex(8)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": "The end must come after the start."})
        if not self.is_active or not self.tenant_id:
            return
        # One experiment runs per tenant at a time: two would fight over the same lists.
        overlapping = Experiment.objects.filter(tenant_id=self.tenant_id, is_active=True).exclude(pk=self.pk)
        if self.ends_at:
            overlapping = overlapping.filter(Q(starts_at__isnull=True) | Q(starts_at__lt=self.ends_at))
        if self.starts_at:
            overlapping = overlapping.filter(Q(ends_at__isnull=True) | Q(ends_at__gt=self.starts_at))
        else:
            overlapping = overlapping.filter(Q(ends_at__isnull=True) | Q(ends_at__gt=timezone.now()))
        clash = overlapping.first()
        if clash is not None:
            raise ValidationError(
                f"Experiment {clash.name!r} is active over the same time; stop it (untick active or set its end) "
                "first: one experiment runs per tenant at a time."
            )

    def is_running(self, at: Any = None) -> bool:
        at = at or timezone.now()
        return (
            self.is_active
            and (self.starts_at is None or self.starts_at <= at)
            and (self.ends_at is None or at < self.ends_at)
        )


class ExperimentArm(models.Model):
    """One strategy of an experiment (see ``llmrec_django.core.strategy.Strategy`` for the
    keys of ``strategy``) and its share of the experiment's traffic."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="arms")
    name = models.SlugField(max_length=64)
    traffic = models.FloatField(
        default=50.0, help_text="Share of the experiment's users (relative to the other shown arms)."
    )
    is_control = models.BooleanField(default=False, help_text="The arm the others are compared with.")
    is_shadow = models.BooleanField(
        default=False, help_text="Scored for every user of the experiment but never shown; takes no traffic."
    )
    strategy = models.JSONField(
        default=dict,
        blank=True,
        help_text='e.g. {"mmr_lambda": 0.6, "sources": ["vector", "kg"], "reranker": false, '
        '"blend_weights": {"relevance": 1.0, "popularity": 0.2}, "version_id": 7, "copy_generator": "..."}',
    )

    class Meta:
        ordering = ["experiment", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "name"], name="llmrec_arm_unique_name"),
            models.CheckConstraint(condition=Q(traffic__gte=0), name="llmrec_arm_traffic_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.experiment.name}/{self.name}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        try:
            Strategy.from_dict(self.strategy or {})
        except ValueError as exc:
            raise ValidationError({"strategy": str(exc)}) from exc


class ExperimentAssignment(models.Model):
    """Which arm a user was given, the first time the experiment served them; kept so that a user
    stays in their arm when traffic shares change."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="assignments")
    user = models.ForeignKey(UserProfile, on_delete=models.CASCADE, related_name="experiment_assignments")
    arm = models.ForeignKey(ExperimentArm, on_delete=models.CASCADE, related_name="assignments")
    assigned_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["experiment", "user"], name="llmrec_assignment_unique_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} -> {self.arm}"


class ServedList(models.Model):
    """One recommendation list as served: its id is the ``list_id`` of the response, the list's
    items are its impressions (position = index + 1). Written in batches off the response path
    (``llmrec_django.recommend.served_log``). ``shadow``: scored by a shadow arm, not shown."""

    class Surface(models.TextChoices):
        FOR_YOU = "for_you", "for you"
        POPULAR = "popular"
        SIMILAR = "similar"
        SEARCH = "search"
        CONVERSATION = "conversation"

    id = models.UUIDField(primary_key=True, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(UserProfile, null=True, blank=True, on_delete=models.CASCADE, related_name="served_lists")
    surface = models.CharField(max_length=16, choices=Surface.choices)
    source = models.CharField(max_length=32, help_text='"hybrid", "fallback:popularity" ...')
    strategy = models.CharField(max_length=64, default="default", help_text="The arm's name, or default.")
    experiment = models.ForeignKey(Experiment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    arm = models.ForeignKey(ExperimentArm, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    shadow = models.BooleanField(default=False)
    version_id = models.IntegerField(null=True, blank=True, help_text="Embedding version used.")
    ranking_model_id = models.IntegerField(null=True, blank=True, help_text="Blend that scored the list.")
    reranker_run_id = models.IntegerField(null=True, blank=True, help_text="Re-ranker training run, if one ran.")
    item_ids = ArrayField(models.BigIntegerField(), help_text="Items shown, in order.")
    explored = ArrayField(
        models.SmallIntegerField(), default=list, blank=True, help_text="1-based positions given to exploration."
    )
    context = models.JSONField(default=dict, blank=True, help_text="device, time_of_day, location; page, anchor.")
    served_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-served_at"]
        indexes = [
            models.Index(fields=["tenant", "user", "served_at"], name="llmrec_served_user_time"),
            models.Index(fields=["experiment", "served_at"], name="llmrec_served_experiment_time"),
            models.Index(fields=["tenant", "served_at"], name="llmrec_served_tenant_time"),
        ]

    def __str__(self) -> str:
        return f"{self.surface} list {self.id} ({len(self.item_ids)} items)"


class Attribution(models.Model):
    """An engagement event credited to the list, position, strategy and model version that
    showed its item: the latest list shown to the user with the item within the event type's
    window (``LLMREC["ONLINE"]["ATTRIBUTION_WINDOWS"]``), or the list the event names."""

    interaction = models.OneToOneField(Interaction, primary_key=True, on_delete=models.CASCADE, related_name="+")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    served_list = models.ForeignKey(ServedList, on_delete=models.CASCADE, related_name="attributions")
    position = models.PositiveSmallIntegerField(help_text="1-based position of the item in the list.")
    explored = models.BooleanField(default=False, help_text="The position was an exploration slot.")
    event_type = models.CharField(max_length=32)
    value = models.FloatField(null=True, blank=True)
    seconds_after = models.FloatField(help_text="Time from the list being served to the event.")

    class Meta:
        indexes = [models.Index(fields=["served_list", "position"], name="llmrec_attr_list_position")]

    def __str__(self) -> str:
        return f"{self.event_type} of interaction {self.interaction_id} -> list {self.served_list_id}"


class AttributionCursor(models.Model):
    """How far attribution has read a tenant's interactions (by id)."""

    tenant = models.OneToOneField(Tenant, primary_key=True, on_delete=models.CASCADE, related_name="+")
    last_interaction_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)
