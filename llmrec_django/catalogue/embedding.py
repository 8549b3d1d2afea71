"""Building embedding versions and keeping them fresh.

A full build (``start_build``) makes a new ``EmbeddingVersion`` and runs, on Celery:

1. ``embed_item_chunk`` for each range of item ids (a group, so several workers share it);
2. ``finish_build`` once every chunk is done (the chord's callback): user vectors, the HNSW
   index (built concurrently, writes keep flowing), a recall check of the index against exact
   search, then the version becomes READY and (by default) is switched on atomically.

Every step is idempotent: a chunk run twice skips the items whose vector already matches the
text's hash, so a retried or redelivered task redoes nothing, and the progress counter is
recomputed from the rows, not incremented. Any failure marks the version FAILED and leaves the
active version alone.

Incremental updates: ``refresh_items`` re-embeds the given items whose text changed into the
active (and any building) version; ``refresh_users`` recomputes users' interest vectors. Item
saves, imports and new interactions call them through tasks after the transaction commits.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from celery import Signature, chord, signature
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from llmrec_django import queues
from llmrec_django.catalogue import interest_profile
from llmrec_django.conf import llmrec_settings
from llmrec_django.conf.backends import get_encoder
from llmrec_django.core.interest import event_weights, interest_vector
from llmrec_django.core.text import build_item_text, text_hash
from llmrec_django.database import artifacts, vectorstore
from llmrec_django.ml.encoders.user_tower import UserTower, read_user_tower
from llmrec_django.models import (
    EmbeddingVersion,
    ExperimentArm,
    Item,
    ItemVector,
    Relation,
    Tenant,
    UserProfile,
    UserVector,
)

logger = logging.getLogger(__name__)

# Users whose interest vectors are computed per batch: bounds memory (their events and the
# vectors of the items they touched) whatever the number of users.
USER_BATCH_SIZE = 2000


@dataclass(frozen=True)
class ItemText:
    item_id: int
    text: str
    hash: str


# ---------------------------------------------------------------------------------------------
# Texts


def item_neighbours(item_ids: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
    """(relation, name) of each item's outgoing KG edges: entities by name, items by title."""
    neighbours: dict[int, list[tuple[str, str]]] = defaultdict(list)
    rows = Relation.objects.filter(head_item_id__in=item_ids).values_list(
        "head_item_id", "relation", "tail_entity__name", "tail_item__title"
    )
    for item_id, relation, entity_name, item_title in rows:
        name = entity_name or item_title
        if name:
            neighbours[item_id].append((relation, name))
    return neighbours


def item_texts(items: Iterable[Item]) -> list[ItemText]:
    """The encoder's input for each item (see ``llmrec_django.core.text``)."""
    items = list(items)
    neighbours = item_neighbours([i.pk for i in items])
    texts = []
    for item in items:
        text = build_item_text(item.title, item.description, item.category, item.attributes, neighbours[item.pk])
        texts.append(ItemText(item.pk, text, text_hash(text)))
    return texts


def item_text(item: Item) -> str:
    return item_texts([item])[0].text


# ---------------------------------------------------------------------------------------------
# Items


def model_directory(version: EmbeddingVersion) -> Path | None:
    """The local folder of ``version``'s encoder, a fine-tuned one fetched from the artifact
    storage when this machine lacks it (``database.artifacts``); None for a version whose
    vectors were made elsewhere (``"-"``)."""
    if version.model_path in ("", "-"):
        return None
    return artifacts.local_path(version.model_path)


def user_tower_of(version: EmbeddingVersion) -> UserTower | None:
    """The user side ``version``'s encoder was fine-tuned with (``encoders.user_tower``); None
    for a model without one, or with no folder here nor in the artifact storage."""
    try:
        folder = model_directory(version)
    except artifacts.ArtifactMissing:
        return None
    return read_user_tower(folder)


def encoder_for(version: EmbeddingVersion):
    default = get_encoder()
    if version.model_path in ("", default.model_path):
        return default
    return get_encoder(str(artifacts.local_path(version.model_path)))


def embed_items(version: EmbeddingVersion, items: Iterable[Item], *, force: bool = False) -> int:
    """Embed ``items`` into ``version``; items whose vector already matches their text are
    skipped unless ``force``. Returns how many were (re-)embedded."""
    texts = item_texts(items)
    if not texts:
        return 0
    if not force:
        current = dict(
            ItemVector.objects.filter(version=version, item_id__in=[t.item_id for t in texts]).values_list(
                "item_id", "content_hash"
            )
        )
        texts = [t for t in texts if current.get(t.item_id) != t.hash]
    if not texts:
        return 0
    vectors = encoder_for(version).encode([t.text for t in texts])
    vectorstore.write_item_vectors(version, [t.item_id for t in texts], vectors, [t.hash for t in texts])
    return len(texts)


def item_id_ranges(tenant: Tenant, chunk_size: int) -> list[tuple[int, int]]:
    """Consecutive [first_id, last_id] ranges of about ``chunk_size`` items each."""
    ids = list(Item.objects.for_tenant(tenant).order_by("pk").values_list("pk", flat=True))
    return [(ids[i], ids[min(i + chunk_size, len(ids)) - 1]) for i in range(0, len(ids), chunk_size)]


def embed_item_range(version_id: int, first_id: int, last_id: int) -> int:
    """One chunk of a build: embed the tenant's items with ids in [first_id, last_id]."""
    version = EmbeddingVersion.objects.filter(pk=version_id).first()
    if version is None or version.status != EmbeddingVersion.Status.BUILDING:
        logger.info("Version %s is gone or no longer building; chunk %s-%s skipped.", version_id, first_id, last_id)
        return 0
    items = Item.objects.for_tenant(version.tenant_id).filter(pk__gte=first_id, pk__lte=last_id).order_by("pk")
    done = embed_items(version, items)
    update_progress(version)
    return done


def update_progress(version: EmbeddingVersion) -> None:
    # Recounted from the rows (not incremented) so a chunk that runs twice does not overcount.
    EmbeddingVersion.objects.filter(pk=version.pk).update(
        items_done=ItemVector.objects.filter(version_id=version.pk).count()
    )


# ---------------------------------------------------------------------------------------------
# Users


def _user_rows(tenant_id: int, user_ids: Sequence[int]) -> dict[int, list[tuple]]:
    """The most recent events (limit per user) of ``user_ids`` as (item, type, value, time).

    The times travel as epoch seconds (float8) and become datetimes here: the text form of a
    timestamptz went through a parser written in Python (Django's time-zone-aware loader), which
    for the 30,000 rows of 300 users' histories took a sixth of a refresh pass."""
    limit = int(llmrec_settings.USER_HISTORY_LIMIT)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT user_id, item_id, event_type, value, extract(epoch FROM timestamp)::float8 FROM (
                SELECT user_id, item_id, event_type, value, timestamp,
                       row_number() OVER (PARTITION BY user_id ORDER BY timestamp DESC, id DESC) AS recency
                FROM llmrec_django_interaction
                WHERE tenant_id = %s AND user_id = ANY(%s)
            ) recent WHERE recency <= %s
            """,
            [tenant_id, list(user_ids), limit],
        )
        events: dict[int, list[tuple]] = defaultdict(list)
        utc, from_epoch = UTC, datetime.fromtimestamp
        for user_id, item_id, event_type, value, epoch in cursor.fetchall():
            events[user_id].append((item_id, event_type, value, from_epoch(epoch, utc)))
    return events


def compute_user_vectors(version: EmbeddingVersion, user_ids: Sequence[int] | None = None) -> int:
    """Compute and store interest vectors of ``user_ids`` (all the tenant's users if None)."""
    users = UserProfile.objects.for_tenant(version.tenant_id).order_by("pk")
    if user_ids is not None:
        users = users.filter(pk__in=list(user_ids))
    all_ids = list(users.values_list("pk", flat=True))
    written = 0
    for start in range(0, len(all_ids), USER_BATCH_SIZE):
        written += _compute_user_batch(version, all_ids[start : start + USER_BATCH_SIZE])
    return written


def _compute_user_batch(version: EmbeddingVersion, user_ids: Sequence[int]) -> int:
    events = _user_rows(version.tenant_id, user_ids)
    # The interest profile texts are (re)written here, so the text a user reads is the one their
    # vector is made from; users who turned personalisation off get no vector.
    stated = interest_profile.texts_for_vectors(version.tenant_id, user_ids, events)
    if stated.paused:
        UserVector.objects.filter(version=version, user_id__in=stated.paused).delete()
        paused = set(stated.paused)
        user_ids = [pk for pk in user_ids if pk not in paused]
    item_ids = {event[0] for pk in user_ids for event in events.get(pk, ())}
    # From the process's matrix of the version where there is one (vector_cache: a re-embedded
    # item's old vector for up to IN_PROCESS_SEARCH_SECONDS), the rest from PostgreSQL.
    vectors_by_item = vectorstore.item_vectors(version, item_ids, cached=True)
    now = timezone.now()
    weights_by_type = llmrec_settings.EVENT_WEIGHTS
    half_life = float(llmrec_settings.RECENCY_HALF_LIFE_DAYS)
    tower = user_tower_of(version)
    if tower is not None:
        # A fine-tuned two-tower model: the user's own text, written as it was trained.
        texts = user_tower_texts(version.tenant_id, user_ids, events, tower)
        text_weight = tower.text_weight
    else:
        texts, text_weight = stated.texts, float(llmrec_settings.PROFILE_WEIGHT)
    with_text = [pk for pk in user_ids if texts.get(pk)]
    text_vectors = _encode_user_texts(version, with_text, texts)

    out_ids, out_vectors, out_counts = [], [], []
    for user_id in user_ids:
        usable = [e for e in events.get(user_id, ()) if e[0] in vectors_by_item]
        if tower is not None and tower.weighs_history:
            # The last liked items weighed by their position, as the tower was trained.
            recent = recent_liked_items(events.get(user_id, ()), tower.history_items)
            items, weights = tower.weighted_history(recent, vectors_by_item)
            matrix = np.stack([vectors_by_item[i] for i in items]) if items else np.zeros((0, version.dimension))
        elif usable:
            ages = np.array([(now - e[3]).total_seconds() for e in usable])
            weights = event_weights([e[1] for e in usable], [e[2] for e in usable], ages, weights_by_type, half_life)
            matrix = np.stack([vectors_by_item[e[0]] for e in usable])
        else:
            weights, matrix = np.zeros(0), np.zeros((0, version.dimension))
        vector = interest_vector(matrix, weights, text_vectors.get(user_id), text_weight)
        if vector is not None:
            out_ids.append(user_id)
            out_vectors.append(vector)
            out_counts.append(len(usable))
    if out_ids:
        vectorstore.write_user_vectors(version, out_ids, np.stack(out_vectors), out_counts)
    return len(out_ids)


def _encode_user_texts(version: EmbeddingVersion, user_ids: Sequence[int], texts: Mapping[int, str]) -> dict:
    """The vectors of the users' texts; none when the version has no model to encode them with.

    The encoder is loaded only when there is text to encode. A version of vectors computed
    elsewhere (``model_path`` "-") has no model: its users' vectors come from behaviour alone,
    as do those of a version whose model directory went missing (logged: the profile texts are
    then left out until the model is back or a new version is built)."""
    if not user_ids:
        return {}
    try:
        encoder = encoder_for(version)
    except FileNotFoundError as exc:
        logger.warning("Version %s: user texts left out of the user vectors: %s", version.pk, exc)
        return {}
    return dict(zip(user_ids, encoder.encode([texts[pk] for pk in user_ids]), strict=True))


def user_tower_texts(
    tenant_id: int, user_ids: Sequence[int], events: Mapping[int, Sequence[tuple]], tower: UserTower
) -> dict[int, str]:
    """Each user's text for a two-tower model (``encoders.user_tower``): their stated profile
    (a generated one is left out, as in training, where it would leak later events), recent
    searches, and their last ``tower.history_items`` liked items."""
    recent = {user_id: recent_liked_items(events.get(user_id, ()), tower.history_items) for user_id in user_ids}
    return tower_texts(tenant_id, recent, tower)


def recent_liked_items(events: Sequence[tuple], n: int) -> list[int]:
    """The last ``n`` distinct items a user liked (positive events), oldest first, from their
    ``(item_id, event_type, value, time)`` rows in any order."""
    rows = sorted(events, key=lambda e: e[3], reverse=True)
    signs = event_weights(
        [e[1] for e in rows], [e[2] for e in rows], np.zeros(len(rows)), llmrec_settings.EVENT_WEIGHTS, 0.0
    )
    liked: list[int] = []
    for event, sign in zip(rows, signs, strict=True):
        if sign > 0 and event[0] not in liked:
            liked.append(event[0])
            if len(liked) >= n:
                break
    return liked[::-1]


def tower_texts(tenant_id: int, recent_liked: Mapping[int, Sequence[int]], tower: UserTower) -> dict[int, str]:
    """The users' texts for a two-tower model from their recent liked items (item ids per user,
    oldest first; the last ``tower.history_items`` count) and their profile rows."""
    recent = {user_id: list(items)[-tower.history_items :] for user_id, items in recent_liked.items()}
    wanted = {i for items in recent.values() for i in items}
    titles = dict(Item.objects.filter(pk__in=wanted).values_list("pk", "title"))
    full = (
        {t.item_id: t.text for t in item_texts(Item.objects.filter(pk__in=wanted))}
        if tower.anchor == "item_texts"
        else {}
    )
    texts = {}
    for pk, text, source, queries in UserProfile.objects.filter(tenant_id=tenant_id, pk__in=list(recent)).values_list(
        "pk", "profile_text", "profile_text_source", "recent_queries"
    ):
        items = recent.get(pk, [])
        texts[pk] = tower.text(
            interest_profile.written_text(text, source),
            queries or [],
            [titles.get(i, "") for i in items],
            [full.get(i, "") for i in items],
        )
    return {pk: text for pk, text in texts.items() if text}


# ---------------------------------------------------------------------------------------------
# Whole builds


def create_build(tenant: Tenant, model_path: str | None = None) -> EmbeddingVersion:
    """A new BUILDING version for ``tenant`` with the configured (or given) encoder."""
    encoder = get_encoder(str(artifacts.local_path(model_path))) if model_path else get_encoder()
    # The version keeps the reference it was given (an artifact name every machine resolves), not
    # this machine's folder.
    version = vectorstore.create_version(
        tenant, model_name=encoder.model_name, model_path=model_path or encoder.model_path, dimension=encoder.dimension
    )
    version.items_total = Item.objects.for_tenant(tenant).count()
    version.save(update_fields=["items_total"])
    return version


def finish_build(version_id: int, *, activate: bool = True, concurrently: bool = True) -> EmbeddingVersion | None:
    """After all chunks: user vectors, index, recall check, READY, then the switch."""
    version = EmbeddingVersion.objects.filter(pk=version_id).first()
    if version is None or version.status != EmbeddingVersion.Status.BUILDING:
        logger.info("Version %s is gone or not building; nothing to finish.", version_id)
        return version
    update_progress(version)
    version.refresh_from_db()
    missing = Item.objects.for_tenant(version.tenant_id).exclude(vectors__version=version).count()
    if missing:
        raise RuntimeError(f"Version {version.pk} is missing vectors for {missing} items; not finishing it.")

    started = time.perf_counter()
    users = compute_user_vectors(version)
    users_seconds = time.perf_counter() - started

    started = time.perf_counter()
    vectorstore.build_index(version, concurrently=concurrently)
    index_seconds = time.perf_counter() - started

    recall = recall_check(version)
    version.metrics = {
        **version.metrics,
        "items": version.items_done,
        "users": users,
        "user_vectors_seconds": round(users_seconds, 3),
        "index_seconds": round(index_seconds, 3),
        "recall_at_10": recall,
    }
    version.status = EmbeddingVersion.Status.READY
    version.built_at = timezone.now()
    version.save(update_fields=["metrics", "status", "built_at"])
    if activate:
        version = vectorstore.activate_version(version)
    return version


def recall_check(version: EmbeddingVersion, k: int = 10) -> float | None:
    """Recall@k of the new index against exact search, with sampled item vectors as queries."""
    n = int(llmrec_settings.RECALL_CHECK_QUERIES)
    sample = list(ItemVector.objects.filter(version=version).order_by("?").values_list("embedding", flat=True)[:n])
    if not sample:
        return None
    return round(vectorstore.recall_against_exact(version, np.asarray(sample, dtype=np.float32), k=k), 4)


def mark_failed(version_id: int, error: str) -> None:
    EmbeddingVersion.objects.filter(pk=version_id, status=EmbeddingVersion.Status.BUILDING).update(
        status=EmbeddingVersion.Status.FAILED, error=error[:10_000]
    )


def build_version_in_process(
    tenant: Tenant,
    model_path: str | None = None,
    *,
    activate: bool = True,
    progress: Callable[[int], None] | None = None,
    concurrently: bool = True,
) -> EmbeddingVersion:
    """The whole build in this process (``llmrec_embed --sync``, tests, the demo set-up)."""
    version = create_build(tenant, model_path)
    try:
        for first_id, last_id in item_id_ranges(tenant, int(llmrec_settings.EMBED_CHUNK_SIZE)):
            embed_item_range(version.pk, first_id, last_id)
            if progress:
                version.refresh_from_db(fields=["items_done"])
                progress(version.items_done)
        return finish_build(version.pk, activate=activate, concurrently=concurrently)
    except Exception as exc:
        mark_failed(version.pk, f"{type(exc).__name__}: {exc}")
        raise


# ---------------------------------------------------------------------------------------------
# Incremental updates


def versions_to_maintain(tenant_id: int) -> list[EmbeddingVersion]:
    """Versions that must follow catalogue and behaviour changes: the active one, any being
    built, and ready ones that an arm of a current experiment serves (``version_id``)."""

    served_by_arms = [
        v
        for v in ExperimentArm.objects.filter(experiment__tenant_id=tenant_id, experiment__is_active=True)
        .exclude(experiment__ends_at__lte=timezone.now())
        .values_list("strategy__version_id", flat=True)
        if isinstance(v, int)
    ]
    return list(
        EmbeddingVersion.objects.filter(tenant_id=tenant_id).filter(
            Q(status__in=[EmbeddingVersion.Status.ACTIVE, EmbeddingVersion.Status.BUILDING])
            | Q(status=EmbeddingVersion.Status.READY, pk__in=served_by_arms)
        )
    )


def refresh_items(tenant_id: int, item_ids: Sequence[int]) -> int:
    """Re-embed those of ``item_ids`` whose text changed, in every maintained version."""
    done = 0
    for version in versions_to_maintain(tenant_id):
        items = Item.objects.for_tenant(tenant_id).filter(pk__in=list(item_ids))
        done += embed_items(version, items)
        if version.status == EmbeddingVersion.Status.BUILDING:
            update_progress(version)
    return done


def refresh_users(tenant_id: int, user_ids: Sequence[int]) -> int:
    done = 0
    for version in versions_to_maintain(tenant_id):
        if version.status != EmbeddingVersion.Status.BUILDING:  # a build computes them when it ends
            done += compute_user_vectors(version, user_ids)
    return done


def version_summary(tenant: Tenant) -> list[dict]:
    """Versions with their vector counts, newest first (for the command line and the admin)."""
    rows = EmbeddingVersion.objects.for_tenant(tenant).order_by("-created_at")
    return [
        {
            "id": v.pk,
            "status": v.status,
            "model": v.model_name,
            "dimension": v.dimension,
            "items": f"{v.items_done}/{v.items_total}",
            "recall_at_10": v.metrics.get("recall_at_10"),
            "created": v.created_at.isoformat(timespec="seconds"),
            "activated": v.activated_at.isoformat(timespec="seconds") if v.activated_at else "",
        }
        for v in rows
    ]


def start_build(
    tenant: Tenant,
    model_path: str | None = None,
    *,
    activate: bool = True,
    then: Signature | None = None,
    on_error_run: int | None = None,
) -> EmbeddingVersion:
    """Create a version and fan its chunks out to the workers (the tasks ``embed_item_range``,
    then ``build_finish``); returns at once.

    ``then``: a signature run after the version is finished (a training run's evaluation);
    ``on_error_run``: the training run to mark failed if the build fails.
    """
    version = create_build(tenant, model_path)
    ranges = item_id_ranges(tenant, int(llmrec_settings.EMBED_CHUNK_SIZE))
    chunks = [
        signature(queues.EMBED_ITEM_RANGE, args=(version.pk, first, last), immutable=True) for first, last in ranges
    ]
    finish = signature(queues.BUILD_FINISH, args=(version.pk,), kwargs={"activate": activate})
    finish = finish.on_error(signature(queues.BUILD_FAILED, kwargs={"version_id": version.pk}))
    if on_error_run is not None:
        finish = finish.on_error(signature(queues.TRAIN_BUILD_FAILED, kwargs={"run_id": on_error_run}))
    if chunks:
        chord(chunks)(finish | then if then is not None else finish)
    else:
        finish = finish.clone(args=([],))  # no chunk results to pass on
        (finish | then if then is not None else finish).apply_async()
    return version
