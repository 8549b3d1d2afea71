"""Fitting the blend weights of the hybrid score on a validation split (``llmrec_fit``).

Each user's most recently discovered item is held out (``hold_out_last_new_item``);
from the rest (the training part) we rebuild, in memory, what the service would know: interest
vectors (``core.interest``), the collaborative model (ALS and item-KNN), KG weights and trending
popularity. For a sample of the held-out users the same five candidate sources propose items;
each candidate is one row of ``core.ranking.hybrid_features`` labelled 1 if it is the held-out
item, else 0. A logistic regression (``core.ranking.fit_blend_cross_fitted``) is fitted on all
of them, with its validation loss and AUC measured out of fold (each half of the users scored by
a blend fitted on the other half), and stored as a ``RankingModel``: the service uses the latest.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable

import numpy as np
from django.db.models import Max

from llmrec_django.catalogue import collaborative, embedding, sequences
from llmrec_django.catalogue.interest_profile import written_text
from llmrec_django.conf import llmrec_settings
from llmrec_django.core import ranking
from llmrec_django.core.interest import SECONDS_PER_DAY, interest_vector
from llmrec_django.core.text import build_user_text
from llmrec_django.database import serving_data, vectorstore
from llmrec_django.models import EmbeddingVersion, Interaction, Item, RankingModel, Tenant, UserProfile

logger = logging.getLogger(__name__)


class NotEnoughData(ValueError):
    """Too few interactions (or no positive held-out candidate) to fit a blend."""


def last_new_items(users: np.ndarray, items: np.ndarray, times: np.ndarray) -> dict[int, tuple[float, int]]:
    """``{user: (first contact, item)}`` of each user's most recently discovered item, for users
    with at least two items (what ``hold_out_last_new_item`` holds out)."""
    first_seen: dict[tuple[int, int], float] = {}
    for row in np.argsort(times, kind="stable").tolist():  # oldest first
        first_seen.setdefault((int(users[row]), int(items[row])), float(times[row]))
    newest: dict[int, tuple[float, int]] = {}
    items_per_user: dict[int, int] = defaultdict(int)
    for (user, item), when in first_seen.items():
        items_per_user[user] += 1
        if user not in newest or when >= newest[user][0]:
            newest[user] = (when, item)
    return {user: pair for user, pair in newest.items() if items_per_user[user] >= 2}


def hold_out_last_new_item(interactions: collaborative.Interactions) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (train, valid): each user's most recently *discovered* item is held out.

    The held-out item is the one whose first interaction is the user's latest first contact; all
    the user's events on it go to validation, and training keeps only events from before that
    moment. Holding out the last *event* instead would often pick a repeat of an item the user
    already knows, which the candidates exclude, leaving nothing to learn from.
    """
    held = last_new_items(interactions.user_ids, interactions.item_ids, interactions.times)
    train, valid = [], []
    for row, (user, item, when) in enumerate(
        zip(interactions.user_ids.tolist(), interactions.item_ids.tolist(), interactions.times.tolist(), strict=True)
    ):
        if user not in held:
            train.append(row)
        elif item == held[user][1]:
            valid.append(row)
        elif when < held[user][0]:
            train.append(row)
    valid_rows = np.asarray(valid, dtype=np.int64)
    # One validation row per user (its first event on the held-out item) is enough for the labels.
    _, first = np.unique(interactions.user_ids[valid_rows], return_index=True)
    return np.asarray(train, dtype=np.int64), valid_rows[np.sort(first)]


class TrainingSnapshot:
    """What the service would know after a set of interactions, rebuilt in memory.

    From ``data`` (positive interactions) and the tenant's catalogue: the collaborative model (ALS
    and item-KNN), trending popularity counted back from the last event, the active version's
    item vectors and the items' KG edges. ``features(user)`` then proposes candidates from the
    same sources as ``recommend_for_user`` and returns their ``hybrid_features`` rows.
    """

    def __init__(
        self,
        tenant: Tenant,
        data: collaborative.Interactions,
        events: collaborative.Interactions | None = None,
        steps: collaborative.Interactions | None = None,
        *,
        seed: int = 0,
        params: dict | None = None,
        version: EmbeddingVersion | None = None,
    ):
        """``data``: the positive interactions (collaborative model, popularity, KG); ``events``:
        every weighted event of the same window (dislikes and poor ratings too), from which the
        interest vectors are built as ``embedding.compute_user_vectors`` builds them (signed,
        recency-decayed weights); ``data`` when not given. ``steps``: the engagements of the
        same window (``sequences.load_sequence_events``), for the transitions and the sequential
        model; without them neither is fitted. ``params``: the collaborative settings (as chosen
        for the serving model: ``collaborative.chosen_params``). ``version``: the embedding
        version whose item vectors (and user tower) the service will read; the active one when
        not given (a candidate encoder's version gets its blend before it is switched on)."""
        version = version or vectorstore.active_version(tenant)
        self.factors = collaborative.fit_factors(
            data,
            events=steps,
            vectors=sequences.catalogue_vectors(tenant, version) if steps is not None and version else None,
            seed=seed,
            **(params or {}),
        )
        self.steps = sequences.user_sequences(steps) if steps is not None else {}
        self.catalogue = np.array(
            Item.objects.for_tenant(tenant).filter(is_active=True).order_by("pk").values_list("pk", flat=True),
            dtype=np.int64,
        )
        self.column = {int(i): j for j, i in enumerate(self.catalogue)}
        known = np.array([self.column.get(int(i), -1) for i in data.item_ids])
        mask = known >= 0
        trend = ranking.time_decayed_popularity(
            known[mask],
            data.times[mask],
            float(data.times.max()) if len(data.times) else 0.0,
            float(llmrec_settings.POPULARITY_HALF_LIFE_DAYS),
            len(self.catalogue),
            data.weights[mask],
        )
        self.trend = trend / (trend.max() or 1.0)

        self.tenant_id = tenant.pk
        self.version = version
        self.vectors = None
        if version is not None:
            rows = vectorstore.item_vectors(version, self.catalogue.tolist())
            zero = np.zeros(version.dimension, dtype=np.float32)
            vectors = np.stack([rows.get(int(i), zero) for i in self.catalogue]).astype(np.float32)
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            self.vectors = vectors / np.where(norms > 0, norms, 1.0)

        self.edges, _ = serving_data.item_entity_edges(self.catalogue.tolist())
        self.by_entity: dict[serving_data.EntityKey, list[tuple[int, float]]] = defaultdict(list)
        for item_id, item_edges in self.edges.items():
            for key, weight in item_edges.items():
                if key[0] == "e":
                    self.by_entity[key].append((item_id, weight))

        self.liked: dict[int, dict[int, float]] = defaultdict(dict)
        for u, i, w in zip(data.user_ids.tolist(), data.item_ids.tolist(), data.weights.tolist(), strict=True):
            self.liked[u][i] = self.liked[u].get(i, 0.0) + w
        # Each user's liked items, latest first (rows are oldest first): the service reads the
        # vectors of the first ``serving_data.RECENT_LIKED_ITEMS`` of them for ``closest_liked``.
        self.recent_liked: dict[int, dict[int, None]] = defaultdict(dict)
        for u, i in zip(reversed(data.user_ids.tolist()), reversed(data.item_ids.tolist()), strict=True):
            self.recent_liked[u].setdefault(i, None)
        # Interest weights per user and item: signed, decayed by age at the window's end (the
        # service decays from "now"; a constant factor per user, which normalising removes).
        events = data if events is None else events
        half_life = float(llmrec_settings.RECENCY_HALF_LIFE_DAYS)
        end = float(events.times.max()) if len(events.times) else 0.0
        decay = (
            0.5 ** ((end - events.times) / SECONDS_PER_DAY / half_life) if half_life > 0 else np.ones(len(events.times))
        )
        self.interest: dict[int, dict[int, float]] = defaultdict(dict)
        for u, i, w in zip(
            events.user_ids.tolist(), events.item_ids.tolist(), (events.weights * decay).tolist(), strict=True
        ):
            self.interest[u][i] = self.interest[u].get(i, 0.0) + w
        # The user's own text, added to the weighted history as the service adds it: a fine-tuned
        # model's user tower (``encoders.user_tower``), else the text the user or site wrote.
        self.tower = embedding.user_tower_of(version) if version is not None else None
        self.text_weight = self.tower.text_weight if self.tower else float(llmrec_settings.PROFILE_WEIGHT)
        self.text_vectors: dict[int, np.ndarray | None] = {}
        self.n = int(llmrec_settings.CANDIDATES_PER_SOURCE)
        self.cap = float(llmrec_settings.KG_CAP)
        self.popular_order = ranking.top_items(self.trend, self.catalogue, self.n + 200, set())

    def encode_user_texts(self, users: Iterable[int]) -> None:
        """Encode the texts of ``users`` in one batch (``features`` encodes a missing one alone).

        A tower's text is built from the snapshot's liked items (before the held-out one); a
        base model's from the profile text the user or site wrote and the recent searches. A
        generated profile text is left out: it was written from every event, the held-out ones
        included."""
        users = [u for u in users if u not in self.text_vectors]
        if self.version is None or not users:
            return
        if self.tower is not None:
            limit = self.tower.history_items
            recent = {u: list(self.recent_liked.get(u, {}))[:limit][::-1] for u in users}
            texts = embedding.tower_texts(self.tenant_id, recent, self.tower)
        else:
            rows = UserProfile.objects.filter(tenant_id=self.tenant_id, pk__in=users).values_list(
                "pk", "profile_text", "profile_text_source", "recent_queries"
            )
            texts = {pk: build_user_text(written_text(t, source), queries or []) for pk, t, source, queries in rows}
            texts = {pk: text for pk, text in texts.items() if text}
        with_text = [u for u in users if texts.get(u)]
        vectors = embedding.encoder_for(self.version).encode([texts[u] for u in with_text]) if with_text else []
        self.text_vectors.update(dict.fromkeys(users))
        self.text_vectors.update(zip(with_text, vectors, strict=True))

    def user_vector(self, user: int, liked: dict[int, float] | None = None) -> np.ndarray | None:
        """The user's interest vector as ``embedding.compute_user_vectors`` makes it: weighted
        events (``liked`` when the snapshot has none of the user's) plus the user's text."""
        if self.vectors is None:
            return None
        if self.tower is not None and self.tower.weighs_history:
            # The last liked items weighed by their position, as the tower was trained.
            recent = list(self.recent_liked.get(user, {}))[: self.tower.history_items][::-1]
            if not recent and liked:
                recent = [i for i, w in liked.items() if w > 0][-self.tower.history_items :]
            items, weights = self.tower.weighted_history(recent, self.column)
            rows = [self.column[i] for i in items]
        else:
            interest = self.interest.get(user) or (self.liked.get(user, {}) if liked is None else liked)
            rows = [self.column[i] for i in interest if i in self.column]
            weights = np.array([interest[int(self.catalogue[r])] for r in rows], dtype=np.float64)
        if user not in self.text_vectors:
            self.encode_user_texts([user])
        return interest_vector(self.vectors[rows], weights, self.text_vectors.get(user), self.text_weight)

    def features(
        self, user: int, exclude: set[int] | None = None, liked: dict[int, float] | None = None
    ) -> tuple[list[int], np.ndarray]:
        """The user's candidates (item ids) and their feature rows; ``exclude`` defaults to the
        items the user interacted with in the snapshot, ``liked`` to their weights there."""
        liked = self.liked.get(user, {}) if liked is None else liked
        exclude = set(liked) if exclude is None else exclude
        n = self.n
        cosine_all = np.zeros(len(self.catalogue))
        u_vec = self.user_vector(user, liked)
        if u_vec is not None:
            cosine_all = self.vectors @ u_vec
        factors = self.factors
        ann = ranking.top_items(cosine_all, self.catalogue, n, exclude) if self.vectors is not None else {}
        cf = factors.recommend(user, n, exclude=exclude) if factors else {}
        knn_vector = factors.neighbour_vector(liked) if factors else None
        knn = factors.neighbour_recommend(liked, n, exclude=exclude, vector=knn_vector) if factors else {}
        entity_weights = ranking.user_entity_weights(liked, {i: self.edges.get(i, {}) for i in liked})
        positive_total = sum(w for w in entity_weights.values() if w > 0)
        strength: dict[int, float] = defaultdict(float)
        for key, weight in entity_weights.items():
            if weight <= 0:
                continue
            if key[0] == "i":
                strength[key[1]] += weight / positive_total
            for item_id, edge in self.by_entity.get(key, ()):
                strength[item_id] += weight / positive_total * edge
        kg = dict(sorted(((i, s) for i, s in strength.items() if i not in exclude), key=lambda p: -p[1])[:n])
        popular = dict(list(((i, s) for i, s in self.popular_order.items() if i not in exclude))[:n])
        # The order of the user's engagements: scored once, for candidates and features alike.
        seq = factors.sequences if factors else None
        steps, times = self.steps.get(user, ((), ()))
        steps = [int(i) for i in steps]
        seq_all = seq.sequential_vector(seq.user_vector(steps, list(times))) if seq else None
        trans_all = seq.transition_vector(steps[::-1]) if seq else None
        following = seq.sequential_recommend(seq_all, n, exclude) if seq else {}
        after = seq.transition_recommend(trans_all, n, exclude) if seq else {}
        ids, _, _ = ranking.merge_candidates(ann, cf, knn, kg, popular, following, after)
        ids = [i for i in ids if i in self.column]
        if not ids:
            return [], np.zeros((0, len(ranking.HYBRID_FEATURES)))
        rows_ids = [self.column[i] for i in ids]
        kg_weight, _ = serving_data.kg_weights(entity_weights, self.edges, ids, self.cap)
        cf_scores = factors.score_items(user, ids) if factors else np.zeros(len(ids))
        knn_scores = factors.neighbour_scores(liked, ids, vector=knn_vector) if factors else None
        known = factors.knows_items(ids) if factors else None
        closest = np.zeros(len(ids))
        if self.vectors is not None:
            recent = [i for i in self.recent_liked.get(user, {}) if i in liked]
            recent += [i for i in liked if i not in self.recent_liked.get(user, {})]
            window = min(serving_data.RECENT_LIKED_ITEMS, int(llmrec_settings.CLOSEST_LIKED_RECENT))
            rows_recent = [self.column[i] for i in recent if i in self.column][:window]
            closest = ranking.closest_liked_similarity(self.vectors[rows_ids], self.vectors[rows_recent])
        features = ranking.hybrid_features(
            cosine_all[rows_ids], kg_weight, cf_scores, self.trend[rows_ids], item_knn=knn_scores, known=known,
            closest_liked=closest,
            sequential=seq.sequential_scores(seq_all, ids) if seq else None,
            transition=seq.transition_scores(trans_all, ids) if seq else None,
        )  # fmt: skip
        return ids, features


def fit_ranking_model(
    tenant: Tenant,
    *,
    version: EmbeddingVersion | None = None,
    max_users: int | None = None,
    seed: int = 0,
    l2: float = 1.0,
) -> RankingModel:
    """Fit and store the tenant's blend weights for ``version`` (default: the active embedding
    version; it serves while that version is active); returns the new record (weights, AUC, loss)."""
    started = time.perf_counter()
    version = version or vectorstore.active_version(tenant)
    # The newest event this fit can see: the learning loop refits when enough arrived after it.
    last_interaction_id = Interaction.objects.for_tenant(tenant).aggregate(last=Max("pk"))["last"]
    interactions = collaborative.load_interactions(tenant)
    train, valid = hold_out_last_new_item(interactions)
    if len(valid) < 2:
        raise NotEnoughData("Fitting a blend needs users with at least two positive interactions.")
    train_data = collaborative.Interactions(
        interactions.user_ids[train],
        interactions.item_ids[train],
        interactions.weights[train],
        interactions.times[train],
    )
    held_out = dict(zip(interactions.user_ids[valid].tolist(), interactions.item_ids[valid].tolist(), strict=True))
    # Every weighted event from before each user's held-out item, for the interest vectors.
    cut = {int(u): float(t) for u, t in zip(interactions.user_ids[valid], interactions.times[valid], strict=True)}
    every = collaborative.load_interactions(tenant, positive_only=False)
    before = np.array(
        [
            t < cut.get(u, np.inf) and held_out.get(u) != i
            for u, i, t in zip(every.user_ids.tolist(), every.item_ids.tolist(), every.times.tolist(), strict=True)
        ],
        dtype=bool,
    )
    events = collaborative.Interactions(
        every.user_ids[before], every.item_ids[before], every.weights[before], every.times[before]
    )
    every_step = sequences.load_sequence_events(tenant)
    before_step = np.array(
        [
            t < cut.get(u, np.inf) and held_out.get(u) != i
            for u, i, t in zip(
                every_step.user_ids.tolist(), every_step.item_ids.tolist(), every_step.times.tolist(), strict=True
            )
        ],
        dtype=bool,
    )
    steps = collaborative.Interactions(
        every_step.user_ids[before_step], every_step.item_ids[before_step], every_step.weights[before_step],
        every_step.times[before_step],
    )  # fmt: skip
    snapshot = TrainingSnapshot(
        tenant, train_data, events, steps, seed=seed, params=collaborative.chosen_params(tenant.pk), version=version
    )
    users = sorted(held_out)
    limit = int(max_users or llmrec_settings.BLEND_FIT_USERS)
    rng = np.random.default_rng(seed)
    if len(users) > limit:
        users = sorted(rng.choice(users, size=limit, replace=False).tolist())
    snapshot.encode_user_texts(users)

    features_by_user, labels_by_user = [], []
    hits = 0
    for user in users:
        ids, features = snapshot.features(user)
        if not ids:
            continue
        features_by_user.append(features)
        target = held_out[user]
        labels_by_user.append(np.array([1.0 if i == target else 0.0 for i in ids]))
        hits += int(target in ids)

    if hits < 2:
        raise NotEnoughData("The held-out items were (almost) never among the candidates; nothing to learn from.")
    model = ranking.fit_blend_cross_fitted(
        features_by_user, labels_by_user, l2=l2, feature_names=ranking.HYBRID_FEATURES, seed=seed
    )
    model = ranking.never_below_best_component(model)
    weights, bias = model.raw_coefficients()
    record = RankingModel.objects.create(
        tenant=tenant,
        embedding_version=version,
        feature_names=list(ranking.HYBRID_FEATURES),
        weights=[round(float(w), 6) for w in weights],
        bias=float(bias),
        model=model.to_dict(),
        valid_loss=model.valid_loss,
        valid_auc=model.valid_auc,
        n_train=model.n_train,
        metrics={
            "users": len(features_by_user),
            "rows_fit": model.n_train,
            "rows_valid": model.extra["valid_rows"],
            "validation": model.extra["validation"],
            "candidate_recall": round(hits / max(len(features_by_user), 1), 4),
            "ndcg@10": model.extra.get("ndcg@10"),
            "choice": model.extra.get("choice"),
            "sequence_models": snapshot.factors.sequences.describe()
            if snapshot.factors and snapshot.factors.sequences
            else None,
            "train_loss": model.train_loss,
            "initial_loss": model.initial_loss,
            "with_vectors": snapshot.vectors is not None,
            "seconds": round(time.perf_counter() - started, 3),
            "last_interaction_id": last_interaction_id,
        },
    )
    logger.debug("Blend %s for %s: weights %s, valid AUC %s", record.pk, tenant.slug, record.weights, record.valid_auc)
    return record
