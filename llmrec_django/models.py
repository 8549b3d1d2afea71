"""The data the recommender works on: tenants, items, users, interactions, the knowledge graph,
and versioned embeddings stored in pgvector.

Every row belongs to a ``Tenant`` (one catalogue: a shop, a site); single-site installs use the
default tenant, created by the first migration. Queries go through ``.for_tenant(tenant)``.

Vectors: one ``vector`` column without a fixed dimension holds the item (and user) vectors of
every ``EmbeddingVersion``; each version gets its own partial HNSW index on
``(embedding::vector(dim))`` restricted to its rows (see ``llmrec_django.vectorstore``). A new
model with another dimension is built beside the active one and switched on atomically
(blue/green), and the previous version stays queryable for a one-step rollback.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone
from pgvector.django import VectorField


class Tenant(models.Model):
    """One catalogue served by this installation."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name or self.slug


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

    ``event_id`` is supplied by the client; a repeated id is stored once (per tenant), which
    makes ingestion idempotent: a retried request cannot double-count.
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
            models.UniqueConstraint(fields=["tenant", "event_id"], name="llmrec_interaction_unique_event_id"),
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


class EmbeddingVersion(models.Model):
    """One complete set of item and user vectors produced by one model.

    Life cycle: building -> ready -> active -> ready (replaced, kept for rollback) -> retired
    (vectors and index dropped); a build that fails ends as failed and never touches the active
    version. At most one version per tenant is active (a partial unique constraint), and the
    switch happens in one transaction.
    """

    class Status(models.TextChoices):
        BUILDING = "building"
        READY = "ready"
        ACTIVE = "active"
        RETIRED = "retired"
        FAILED = "failed"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="embedding_versions")
    model_name = models.CharField(max_length=255, help_text="Human name of the encoder.")
    model_path = models.CharField(max_length=1000, help_text="Where the encoder was loaded from.")
    dimension = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.BUILDING, db_index=True)
    metrics = models.JSONField(default=dict, blank=True, help_text="Recall of the index vs exact search, timings.")
    items_total = models.PositiveIntegerField(default=0)
    items_done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    built_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    objects = TenantManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant"], condition=Q(status="active"), name="llmrec_one_active_version_per_tenant"
            ),
            models.CheckConstraint(condition=Q(dimension__gt=0), name="llmrec_version_dimension_positive"),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"v{self.pk} {self.model_name} ({self.dimension}d, {self.status})"

    @property
    def index_name(self) -> str:
        return f"llmrec_itemvec_hnsw_v{self.pk}"

    @property
    def progress(self) -> float:
        return self.items_done / self.items_total if self.items_total else 0.0


class ItemVector(models.Model):
    """An item's vector in one embedding version, with the hash of the text it was made from."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(EmbeddingVersion, on_delete=models.CASCADE, related_name="item_vectors")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="vectors")
    embedding = VectorField()
    content_hash = models.CharField(max_length=64)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "item"], name="llmrec_itemvector_unique"),
        ]
        indexes = [models.Index(fields=["item"], name="llmrec_itemvec_item")]


class UserVector(models.Model):
    """A user's interest vector in one embedding version."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(EmbeddingVersion, on_delete=models.CASCADE, related_name="user_vectors")
    user = models.ForeignKey(UserProfile, on_delete=models.CASCADE, related_name="vectors")
    embedding = VectorField()
    events_used = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "user"], name="llmrec_uservector_unique"),
        ]
        indexes = [models.Index(fields=["user"], name="llmrec_uservec_user")]


# ---------------------------------------------------------------------------------------------
# Ranking: business rules, the learnt blend, the collaborative model

TIMES_OF_DAY = ("night", "morning", "afternoon", "evening")


def time_of_day(hour: int) -> str:
    """night [0, 6), morning [6, 12), afternoon [12, 18), evening [18, 24)."""
    return TIMES_OF_DAY[0 if hour < 6 else 1 if hour < 12 else 2 if hour < 18 else 3]


class BusinessRule(models.Model):
    """A merchandising rule applied to every list of its tenant: boost, bury, pin or block.

    The target is one item, or every item of a category, or every item whose attribute
    ``attribute_key`` equals ``attribute_value`` (the conditions that are set must all hold). A rule
    applies while it is active, inside its optional time window, and when its optional context
    condition (device, time of day, location) matches the request's context.
    """

    class Kind(models.TextChoices):
        BOOST = "boost", "boost (multiply the score by factor)"
        BURY = "bury", "bury (move to the end of the list)"
        PIN = "pin", "pin (force at position)"
        BLOCK = "block", "block (never show)"

    class TimeOfDay(models.TextChoices):
        NIGHT = "night"
        MORNING = "morning"
        AFTERNOON = "afternoon"
        EVENING = "evening"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="business_rules")
    name = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    item = models.ForeignKey(Item, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    category = models.CharField(max_length=255, blank=True)
    attribute_key = models.CharField(max_length=100, blank=True)
    attribute_value = models.CharField(max_length=255, blank=True)
    factor = models.FloatField(default=1.5, help_text="Boost: score multiplier (1.5 = +50 %).")
    position = models.PositiveIntegerField(default=0, help_text="Pin: 0-based position in the list.")
    device = models.CharField(max_length=64, blank=True, help_text="Only for requests from this device.")
    time_of_day = models.CharField(max_length=16, blank=True, choices=TimeOfDay.choices)
    location = models.CharField(max_length=128, blank=True, help_text="Only for requests from this location.")
    is_active = models.BooleanField(default=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantManager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(item__isnull=False) | ~Q(category="") | ~Q(attribute_key=""),
                name="llmrec_rule_has_target",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "is_active"], name="llmrec_rule_tenant_active")]

    def __str__(self) -> str:
        return self.name or f"{self.kind} {self.target_label}"

    @property
    def target_label(self) -> str:
        parts = []
        if self.item_id:
            parts.append(f"item {self.item_id}")
        if self.category:
            parts.append(f"category {self.category}")
        if self.attribute_key:
            parts.append(f"{self.attribute_key}={self.attribute_value}")
        return ", ".join(parts)

    def matches_context(self, context: dict[str, Any]) -> bool:
        """True when every condition set on the rule equals the context's value (case-insensitive)."""
        for key in ("device", "time_of_day", "location"):
            wanted = getattr(self, key)
            if wanted and str(context.get(key) or "").strip().lower() != wanted.strip().lower():
                return False
        return True

    def matches_item(self, item_id: int, category: str, attributes: dict[str, Any]) -> bool:
        if self.item_id and self.item_id != item_id:
            return False
        if self.category and self.category.lower() != (category or "").lower():
            return False
        if self.attribute_key and str((attributes or {}).get(self.attribute_key)) != self.attribute_value:
            return False
        return True


class RankingModel(models.Model):
    """A learnt blend of the hybrid features (``core.ranking.BlendModel``), fitted on a validation
    split by ``llmrec_fit``; recommendations use the tenant's latest one."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="ranking_models")
    feature_names = models.JSONField(default=list)
    weights = models.JSONField(default=list, help_text="Raw-feature weights, in feature_names order.")
    bias = models.FloatField(default=0.0)
    model = models.JSONField(default=dict, help_text="BlendModel.to_dict(): standardisation, losses.")
    valid_loss = models.FloatField(null=True, blank=True)
    valid_auc = models.FloatField(null=True, blank=True)
    n_train = models.PositiveIntegerField(default=0)
    metrics = models.JSONField(default=dict, blank=True, help_text="Split sizes, timings, candidate recall.")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantManager()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        auc = "n/a" if self.valid_auc is None else f"{self.valid_auc:.3f}"
        return f"blend {self.pk} ({self.tenant}, AUC {auc})"


class CollaborativeModel(models.Model):
    """A fitted ALS model of a tenant's interactions, stored as a ``.npz`` file under
    ``LLMREC_HOME/models/<tenant>/``; the tenant's latest record names the current file."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="collaborative_models")
    path = models.CharField(max_length=1000)
    n_users = models.PositiveIntegerField(default=0)
    n_items = models.PositiveIntegerField(default=0)
    n_interactions = models.PositiveIntegerField(default=0)
    params = models.JSONField(default=dict, blank=True)
    fit_seconds = models.FloatField(default=0.0)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantManager()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"ALS {self.pk} ({self.tenant}, {self.n_users} users x {self.n_items} items)"


# ---------------------------------------------------------------------------------------------
# Conversations and API keys


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
    recommended = models.JSONField(default=list, blank=True, help_text="External ids shown in answer, in order.")
    source = models.CharField(max_length=32, blank=True)
    reason = models.TextField(blank=True, help_text="Why a fallback answered, if one did.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session", "number"]
        constraints = [models.UniqueConstraint(fields=["session", "number"], name="llmrec_turn_unique_number")]

    def __str__(self) -> str:
        return f"turn {self.number} ({self.kind}) of conversation {self.session_id}"


def hash_api_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


class ApiKey(models.Model):
    """A key for server-to-server calls of the REST API (event ingestion, catalogue sync).

    Bound to one tenant and trusted like staff inside it. Only a hash is stored; the key itself is
    shown once, when staff issue it in the admin (``ApiKey.issue``). Sent as
    ``Authorization: Api-Key <key>``.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=200, help_text="Who uses it, e.g. 'shop backend'.")
    prefix = models.CharField(
        max_length=12, editable=False, db_index=True, help_text="First characters, to recognise it."
    )
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = TenantManager()

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def set_new_key(self) -> str:
        """Give this key a new random secret; returns it (the only time it is readable)."""
        import secrets

        raw_key = "llmrec_" + secrets.token_urlsafe(32)
        self.prefix = raw_key[7:15]
        self.key_hash = hash_api_key(raw_key)
        return raw_key

    @classmethod
    def issue(cls, tenant: Tenant, name: str, created_by: Any = None) -> tuple[ApiKey, str]:
        """A new active key and its secret."""
        key = cls(tenant=tenant, name=name, created_by=created_by)
        raw_key = key.set_new_key()
        key.save()
        return key, raw_key

    @classmethod
    def find(cls, raw_key: str) -> ApiKey | None:
        """The active key with this secret, if any."""
        return cls.objects.select_related("tenant").filter(key_hash=hash_api_key(raw_key), is_active=True).first()


# ---------------------------------------------------------------------------------------------
# Recommendation copy


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


# ---------------------------------------------------------------------------------------------
# Admin pages: the recommendation preview and stored evaluation reports


class RecommendationPreview(UserProfile):
    """Not a table: the admin's "recommendation preview" page (any user's list with scores,
    sources and explanations) hangs on this proxy so it appears in the admin index and has its
    own view permission."""

    class Meta:
        proxy = True
        verbose_name = "recommendation preview"
        verbose_name_plural = "recommendation preview"


class EvaluationReport(models.Model):
    """One run of the offline evaluation (``llmrec_django.evaluation.evaluate_tenant``), stored
    so the admin can list past runs and chart them. ``report`` is ``EvaluationReport.to_dict()``.

    Started from the admin (a Celery task: ``tasks.run_evaluation``) or by
    ``llmrec_evaluate --save``; see ``llmrec_django.evaluation_reports``.
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="evaluation_reports")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    options = models.JSONField(default=dict, blank=True, help_text="EvaluationOptions of the run.")
    report = models.JSONField(default=dict, blank=True, help_text="Every figure of the run (to_dict()).")
    error = models.TextField(blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = TenantManager()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"evaluation {self.pk} of {self.tenant} ({self.status})"

    @property
    def k(self) -> int | None:
        return self.report.get("k") or self.options.get("k")

    def metric(self, method: str, name: str) -> float | None:
        """A figure of one method, e.g. ``metric("hybrid", "ndcg@10")``; None when absent."""
        value = (self.report.get("methods") or {}).get(method, {}).get(name)
        return float(value) if isinstance(value, int | float) else None


# ---------------------------------------------------------------------------------------------
# Fine-tuning


class TrainingRun(models.Model):
    """One fine-tuning run of the encoder or the CTR re-ranker (``llmrec_django.training``).

    Life cycle of ``status``: queued -> running -> succeeded | failed (``error`` says why).
    ``promotion`` then says what became of the model: pending (evaluated, waiting for an admin),
    active (serving), replaced (was active, kept for rollback), rejected (did not beat the active
    model), rolled_back. An encoder run's model serves through its ``embedding_version``; at most
    one re-ranker run per tenant is active.
    """

    class Kind(models.TextChoices):
        ENCODER = "encoder"
        RERANKER = "reranker"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    class Promotion(models.TextChoices):
        NONE = "", "not evaluated"
        PENDING = "pending", "pending (waiting for an admin)"
        ACTIVE = "active"
        REPLACED = "replaced", "replaced (kept for rollback)"
        REJECTED = "rejected", "rejected (not better)"
        ROLLED_BACK = "rolled_back", "rolled back"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="training_runs")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    stage = models.CharField(max_length=64, blank=True, help_text="What the run is doing now.")
    progress = models.FloatField(default=0.0, help_text="0..1 over the training steps.")
    params = models.JSONField(default=dict, blank=True, help_text="Hyper-parameters the run used.")
    epochs = models.JSONField(
        default=list, blank=True, help_text="Per epoch: train loss, validation loss and metrics, seconds."
    )
    metrics = models.JSONField(default=dict, blank=True, help_text="Offline evaluation: candidate vs active.")
    data_window = models.JSONField(default=dict, blank=True, help_text="Events used: time range, counts.")
    device = models.CharField(max_length=64, blank=True)
    world_size = models.PositiveIntegerField(default=1, help_text="Data-parallel processes.")
    base_model_path = models.CharField(max_length=1000, blank=True)
    artifact_path = models.CharField(max_length=1000, blank=True, help_text="Where the trained model is saved.")
    embedding_version = models.ForeignKey(
        EmbeddingVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="Encoder runs: the catalogue re-embedded with the new weights.",
    )  # fmt: skip
    previous_version = models.ForeignKey(
        EmbeddingVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="Encoder runs: the version that was active when this one was promoted.",
    )  # fmt: skip
    previous_run = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="Re-ranker runs: the re-ranker that was active when this one was promoted.",
    )  # fmt: skip
    promotion = models.CharField(max_length=16, choices=Promotion.choices, default=Promotion.NONE, blank=True)
    error = models.TextField(blank=True)
    task_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    promoted_at = models.DateTimeField(null=True, blank=True)

    objects = TenantManager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant"],
                condition=Q(kind="reranker", promotion="active"),
                name="llmrec_one_active_reranker_per_tenant",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "kind", "status"], name="llmrec_trainrun_kind_status")]

    def __str__(self) -> str:
        return f"{self.kind} run {self.pk} ({self.tenant}, {self.status})"


# ---------------------------------------------------------------------------------------------
# Online measurement: served lists, attribution, experiments (``llmrec_django.online``)


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
    """One strategy of an experiment (see ``llmrec_django.recommending.strategy.Strategy`` for the
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

        from llmrec_django.recommending.strategy import Strategy

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
    (``llmrec_django.online.log``). ``shadow``: scored by a shadow arm, not shown."""

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


# ---------------------------------------------------------------------------------------------
# Reliable background work: the outbox and delivery counts (``llmrec_django.outbox``,
# ``llmrec_django.deliveries``)


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
