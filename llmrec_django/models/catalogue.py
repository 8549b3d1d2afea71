"""Tenants, items, users, interactions and the knowledge graph: the catalogue the recommender works on."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from llmrec_django.core.attribute_schema import vocabulary_problems

TIMES_OF_DAY = ("night", "morning", "afternoon", "evening")


def time_of_day(hour: int) -> str:
    """night [0, 6), morning [6, 12), afternoon [12, 18), evening [18, 24)."""
    return TIMES_OF_DAY[0 if hour < 6 else 1 if hour < 12 else 2 if hour < 18 else 3]


class Tenant(models.Model):
    """One catalogue served by this installation.

    ``staff``: the staff accounts that may work on it through the API (with their Django
    permissions); superusers may work on every tenant, and every staff member on the default one.
    """

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200, blank=True)
    staff = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="llmrec_tenants", help_text="Staff who may work on it."
    )
    vocabulary = models.JSONField(
        default=dict, blank=True,
        help_text='What requests may call things, over LLMREC["INTENT"]: {"categories": {"films": ["movie", "电影"]}, '
        '"attributes": {"age_rating": {"ordering": ["U", "PG", "12", "15", "18"], "ages": {"PG": 8}}}, '
        '"values": {"horror": ["scary", "恐怖片"]}} (llmrec_django.core.attribute_schema).',
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name or self.slug

    def clean(self) -> None:
        problems = vocabulary_problems(self.vocabulary or {})
        if problems:
            raise ValidationError({"vocabulary": problems})


class TenantQuerySet(models.QuerySet):
    def for_tenant(self, tenant: Tenant | int) -> TenantQuerySet:
        tenant_id = tenant.pk if isinstance(tenant, Tenant) else tenant
        return self.filter(tenant_id=tenant_id)


class TenantManager(models.Manager.from_queryset(TenantQuerySet)):
    def by_external_id(self, tenant: Tenant | int, external_id: str) -> Any:
        """The tenant's row with this ``external_id`` (unique per tenant), or None: one indexed
        query without the ORM's compilation, since every API call about a user or item runs it."""
        tenant_id = tenant.pk if isinstance(tenant, Tenant) else tenant
        table = self.model._meta.db_table
        found = list(
            self.raw(
                f"SELECT * FROM {table} WHERE tenant_id = %s AND external_id = %s", [int(tenant_id), str(external_id)]
            )
        )
        return found[0] if found else None


def item_content_hash(title: str, description: str, category: str, attributes: Any) -> str:
    """Hash of the fields an item's text is built from; a changed hash means re-embed."""
    payload = json.dumps(
        [title or "", description or "", category or "", attributes or {}],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class Item(models.Model):
    """Something that can be recommended: a product, a film, a book, an article."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="items")
    external_id = models.CharField(max_length=255, help_text="The site's own id for the item.")
    title = models.CharField(max_length=500)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=255, blank=True, db_index=True)
    attributes = models.JSONField(default=dict, blank=True, help_text='Free facts, e.g. {"brand": "Apple"}.')
    image_url = models.URLField(max_length=1000, blank=True)
    is_active = models.BooleanField(default=True)
    content_hash = models.CharField(max_length=64, editable=False, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "external_id"], name="llmrec_item_unique_external_id"),
        ]
        indexes = [models.Index(fields=["tenant", "is_active"], name="llmrec_item_tenant_active")]

    def __str__(self) -> str:
        return self.title

    def compute_content_hash(self) -> str:
        return item_content_hash(self.title, self.description, self.category, self.attributes)

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.content_hash = self.compute_content_hash()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "content_hash" not in update_fields:
            kwargs["update_fields"] = [*update_fields, "content_hash"]
        super().save(*args, **kwargs)


# The external id given to the profile created for a Django account that has none yet.
ACCOUNT_PROFILE_ID = "account-{pk}"


class UserProfile(models.Model):
    """A recommendation subject: a shopper, reader or viewer, known by the site's external id.

    Sites without Django accounts for their shoppers use ``external_id`` alone; sites with them
    can link the profile to ``settings.AUTH_USER_MODEL``.

    ``profile_text`` is the interest profile in plain words that the user is shown and that feeds
    their interest vector; ``profile_text_source`` says who wrote it (``interest_profile``): the
    system from the user's behaviour (rewritten whenever the vector is refreshed), the user
    (never overwritten), or the site: any text written outside that service (an import, the
    admin, the site's own code), kept as it is; an empty one is left to the generator. With
    ``personalisation_enabled`` off the user gets the popularity lists and has no interest
    vector; their events are still stored.
    """

    class TextSource(models.TextChoices):
        GENERATED = "generated", "learnt from behaviour"
        USER = "user", "written by the user"
        SITE = "site", "given by the site"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="user_profiles")
    external_id = models.CharField(max_length=255)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="llmrec_profiles",
    )
    profile_text = models.TextField(blank=True, help_text="Interests and preferences in plain words.")
    profile_text_source = models.CharField(
        max_length=16,
        choices=TextSource.choices,
        default=TextSource.SITE,
        help_text="Who wrote the profile text; a generated (or empty) one is rewritten from behaviour.",
    )
    profile_generated_at = models.DateTimeField(
        null=True, blank=True, help_text="When the system last wrote the profile text from behaviour."
    )
    preferences = models.JSONField(default=dict, blank=True)
    recent_queries = models.JSONField(default=list, blank=True, help_text="Latest search queries, newest last.")
    personalisation_enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantManager()

    class Meta:
        permissions = [("export_userprofile", "Can export everything stored about a user")]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "external_id"], name="llmrec_user_unique_external_id"),
            models.UniqueConstraint(
                fields=["tenant", "user"], condition=Q(user__isnull=False), name="llmrec_user_unique_account"
            ),
        ]

    def __str__(self) -> str:
        return self.external_id


class EventType(models.TextChoices):
    VIEW = "view"
    CLICK = "click"
    ADD_TO_CART = "add_to_cart"
    PURCHASE = "purchase"
    RATING = "rating"
    LIKE = "like"
    DISLIKE = "dislike"
    SHARE = "share"
    SEARCH = "search"
    IMPRESSION = "impression"


class Interaction(models.Model):
    """One behaviour event of a user on an item, with its context.

    ``event_id`` is supplied by the client; a repeated id is stored once per user, which makes
    ingestion idempotent: a retried request cannot double-count, and no user can claim the ids
    of another user's events ahead of them.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="interactions")
    event_id = models.CharField(max_length=255)
    user = models.ForeignKey(UserProfile, on_delete=models.CASCADE, related_name="interactions")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="interactions")
    event_type = models.CharField(max_length=32, help_text="One of LLMREC['EVENT_WEIGHTS'] (view, click, ...).")
    value = models.FloatField(null=True, blank=True, help_text="Rating, price paid, quantity ...")
    timestamp = models.DateTimeField(default=timezone.now)
    device = models.CharField(max_length=64, blank=True)
    location = models.CharField(max_length=128, blank=True)
    context = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user", "event_id"], name="llmrec_interaction_unique_user_event"),
        ]
        indexes = [
            models.Index(fields=["tenant", "user", "timestamp"], name="llmrec_inter_user_time"),
            models.Index(fields=["tenant", "item", "timestamp"], name="llmrec_inter_item_time"),
            models.Index(fields=["tenant", "timestamp"], name="llmrec_inter_time"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.event_type} {self.item_id}"

    @property
    def time_of_day(self) -> str:
        hour = self.timestamp.hour
        return "night" if hour < 6 else "morning" if hour < 12 else "afternoon" if hour < 18 else "evening"


class Entity(models.Model):
    """A node of the knowledge graph that is not an item or a user: a brand, a genre, an author."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="entities")
    entity_type = models.CharField(max_length=64, help_text='e.g. "brand", "category", "genre".')
    name = models.CharField(max_length=255)

    objects = TenantManager()

    class Meta:
        verbose_name_plural = "entities"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "entity_type", "name"], name="llmrec_entity_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.entity_type}: {self.name}"


def _one_of(prefix: str) -> Q:
    """Exactly one of <prefix>_item, <prefix>_entity, <prefix>_user is set."""
    fields = [f"{prefix}_item", f"{prefix}_entity", f"{prefix}_user"]
    options = Q()
    for chosen in fields:
        term = Q(**{f"{chosen}__isnull": False})
        for other in fields:
            if other != chosen:
                term &= Q(**{f"{other}__isnull": True})
        options |= term
    return options


class Relation(models.Model):
    """A weighted, typed edge of the knowledge graph: item -has_brand-> Nike, user -bought-> item.

    Each end is an item, an entity or a user (exactly one of the three foreign keys per end), so
    deleting any node removes its edges and no edge can point at nothing.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="relations")
    head_item = models.ForeignKey(Item, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    head_entity = models.ForeignKey(Entity, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    head_user = models.ForeignKey(UserProfile, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    relation = models.CharField(max_length=64, help_text='e.g. "has_brand", "bought", "similar_to".')
    tail_item = models.ForeignKey(Item, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    tail_entity = models.ForeignKey(Entity, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    tail_user = models.ForeignKey(UserProfile, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    weight = models.FloatField(default=1.0)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantManager()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=_one_of("head"), name="llmrec_relation_one_head"),
            models.CheckConstraint(condition=_one_of("tail"), name="llmrec_relation_one_tail"),
            models.UniqueConstraint(
                fields=[
                    "tenant",
                    "head_item",
                    "head_entity",
                    "head_user",
                    "relation",
                    "tail_item",
                    "tail_entity",
                    "tail_user",
                ],
                nulls_distinct=False,
                name="llmrec_relation_unique_edge",
            ),
        ]
        indexes = [
            models.Index(fields=["head_item", "relation"], name="llmrec_rel_head_item"),
            models.Index(fields=["tail_entity", "relation"], name="llmrec_rel_tail_entity"),
            models.Index(fields=["head_user", "relation"], name="llmrec_rel_head_user"),
            models.Index(fields=["tail_item", "relation"], name="llmrec_rel_tail_item"),
        ]

    @property
    def head(self) -> Item | Entity | UserProfile:
        return self.head_item or self.head_entity or self.head_user

    @property
    def tail(self) -> Item | Entity | UserProfile:
        return self.tail_item or self.tail_entity or self.tail_user

    def __str__(self) -> str:
        return f"{self.head} -{self.relation}-> {self.tail}"


class RecommendationPreview(UserProfile):
    """Not a table: the admin's "recommendation preview" page (any user's list with scores,
    sources and explanations) hangs on this proxy so it appears in the admin index and has its
    own view permission."""

    class Meta:
        proxy = True
        verbose_name = "recommendation preview"
        verbose_name_plural = "recommendation preview"
