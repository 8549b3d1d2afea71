"""Training examples from a tenant's own interactions, with a time-based validation split.

The split is the offline evaluation's (``evaluation.split_log`` with the temporal scheme, each
user's last positive item held out), so the promotion's evaluation never scores a model on
pairs it was trained on, and early stopping watches the same held-out items.

- **User text** (the anchor, and the re-ranker's left side): the profile text a user or the site
  wrote, recent searches, then the titles of the user's last ``history_items`` liked items
  before the moment of the example (``core.text.user_history_text``). The serving re-ranker
  builds it the same way (``current_user_text``), and so does a served fine-tuned encoder for
  its users' vectors (``encoders.user_tower``, whose recipe the trainer saves with the model).
- **Encoder pairs**: for every positive (user, item) of the training part, in time order, the
  user text made of what came before (``anchor="item_texts"``: the profile then the full texts
  of those items, newest first, instead of their titles; ``anchor="history"``: a
  ``HistoryAnchor``, the stated text and the texts of those items, which the model weighs by
  position) -> the item's text (``embedding.item_texts``), plus
  ``hard_negatives`` items drawn from the user's nearest items in the active version's ANN index
  (ranks 5..``hard_negative_depth``, the user's own items excluded; random items without an
  active version), or, with ``hard_negatives_from`` "collaborative" / "both", from what ALS and
  item-KNN fitted on the training part would recommend them (``collaborative_pools``). Validation: the user text from the whole training history -> the held-out item.
- **Re-ranker examples**: the same positives labelled 1, and per positive
  ``negatives_per_positive`` items labelled 0: first items the user was shown but ignored
  (``impression`` events with no positive event on the item), then ANN hard negatives and random
  catalogue items, alternately. Validation: each held-out item with as many negatives.
- **The catalogue** (``catalogue_sample`` active items, all of them in a smaller catalogue): each
  validation pair carries its user's columns (left out) and its item's, so that the validation
  ranks the catalogue (``modules.info_nce_validation``); with ``catalogue_negatives`` every
  training anchor is contrasted with those items too (``modules.CatalogueNegatives``), and each
  training example carries the columns that are not negatives for it: its positive and every
  item its user touched in training.
- ``max_examples`` keeps a seeded sample of the training pairs (0: all).
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from llmrec_django.catalogue import collaborative
from llmrec_django.catalogue.embedding import item_texts
from llmrec_django.catalogue.interest_profile import written_text
from llmrec_django.conf import llmrec_settings
from llmrec_django.core.text import user_history_text
from llmrec_django.database import vectorstore
from llmrec_django.learning.blend import last_new_items
from llmrec_django.learning.evaluation import EvaluationOptions, load_log, split_log
from llmrec_django.ml.encoders.user_tower import HistoryAnchor, UserTower
from llmrec_django.models import Interaction, Item, Tenant, UserProfile

logger = logging.getLogger(__name__)

SKIP_NEAREST = 5  # the very nearest items are too often unlabelled positives


@dataclass
class UserHistory:
    profile: str
    queries: list[str]
    liked: list[tuple[float, int]] = field(default_factory=list)  # (time, item), oldest first


@dataclass
class TrainingExamples:
    train: list[tuple]
    valid: list[tuple]
    window: dict[str, Any]
    # Encoder: the texts of the catalogue (sample) the validation ranks, and with
    # ``catalogue_negatives`` contrasts every training anchor with (each training example then
    # ends with the columns masked for it).
    catalogue: list[str] = field(default_factory=list)
    catalogue_negatives: bool = False


# ---------------------------------------------------------------------------------------------
# The split and the shared pieces


@dataclass
class SplitData:
    tenant: Tenant
    users: dict[int, UserHistory]  # training positives per user, oldest first
    held_out: dict[int, list[int]]  # user -> held-out items
    known: dict[int, set[int]]  # every item a user touched in training (any event type)
    ignored: dict[int, list[int]]  # impressions without a positive event on the item
    window: dict[str, Any]
    # user -> the item the blend's fit holds out of the same training part (the user's most
    # recently discovered one: ``learning.blend.hold_out_last_new_item``)
    blend_held_out: dict[int, int] = field(default_factory=dict)


def load_split(tenant: Tenant) -> SplitData:
    log = load_log(tenant)
    if not len(log):
        raise ValueError(f"Tenant {tenant.slug!r} has no interactions to train on.")
    held_out_items = int(llmrec_settings.TRAINING["HELD_OUT_ITEMS"])
    split = split_log(log, EvaluationOptions(split="temporal", test_events=held_out_items))
    # A text the system generated was written from every event, the held-out ones included: it
    # would leak them into the training anchors. Texts users or the site wrote are kept.
    profiles = {
        pk: (written_text(text, source), list(queries or []))
        for pk, text, queries, source in UserProfile.objects.for_tenant(tenant).values_list(
            "pk", "profile_text", "recent_queries", "profile_text_source"
        )
    }
    users: dict[int, UserHistory] = {}
    known: dict[int, set[int]] = defaultdict(set)
    seen_pairs: set[tuple[int, int]] = set()
    impressions: dict[int, list[int]] = defaultdict(list)
    liked_pairs: set[tuple[int, int]] = set()
    impression_ids = set()
    rows = split.train
    for row in rows.tolist():
        user, item = int(log.users[row]), int(log.items[row])
        known[user].add(item)
        if log.weights[row] > 0:
            liked_pairs.add((user, item))
            if (user, item) not in seen_pairs:  # a pair counts once, at its first positive event
                seen_pairs.add((user, item))
                history = users.setdefault(user, UserHistory(*profiles.get(user, ("", []))))
                history.liked.append((float(log.times[row]), item))
        else:
            impression_ids.add(int(log.ids[row]))
            impressions[user].append(item)
    # Only real impressions count as "shown but ignored", not dislikes or poor ratings.
    shown = set(
        Interaction.objects.filter(pk__in=list(impression_ids), event_type="impression").values_list("pk", flat=True)
    )
    ignored: dict[int, list[int]] = defaultdict(list)
    for row in rows.tolist():
        if int(log.ids[row]) in shown:
            user, item = int(log.users[row]), int(log.items[row])
            if (user, item) not in liked_pairs and item not in ignored[user]:
                ignored[user].append(item)
    held_out = {u: sorted(items) for u, items in split.relevant.items()}
    blend_held_out = {
        user: item for user, (_, item) in last_new_items(log.users[rows], log.items[rows], log.times[rows]).items()
    }
    for user in held_out:
        users.setdefault(user, UserHistory(*profiles.get(user, ("", []))))
    times = log.times[rows] if len(rows) else np.zeros(0)
    window = {
        "split": (
            "temporal, each user's last positive item held out for validation"
            if held_out_items == 1
            else f"temporal, each user's last {held_out_items} positive items held out for validation"
        ),
        "held_out_items": held_out_items,
        "events": len(log),
        "train_events": len(rows),
        "held_out_pairs": sum(len(v) for v in held_out.values()),
        "users": len(users),
        "first_event": _iso(times.min()) if len(times) else None,
        "last_train_event": _iso(times.max()) if len(times) else None,
        "last_event": _iso(log.times.max()),
        "last_interaction_id": int(log.ids.max()),
    }
    return SplitData(tenant, users, held_out, known, dict(ignored), window, blend_held_out)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(float(seconds), tz=UTC).isoformat(timespec="seconds")


def item_text_map(item_ids: Iterable[int]) -> dict[int, str]:
    ids = sorted(set(item_ids))
    out: dict[int, str] = {}
    for start in range(0, len(ids), 5000):
        out.update({t.item_id: t.text for t in item_texts(Item.objects.filter(pk__in=ids[start : start + 5000]))})
    return out


def hard_negative_pools(
    tenant: Tenant, users: Iterable[int], known: dict[int, set[int]], depth: int
) -> dict[int, list[int]]:
    """Per user, items near their interest vector in the active ANN index, own items excluded."""
    version = vectorstore.active_version(tenant)
    if version is None or depth <= SKIP_NEAREST:
        return {}
    pools = {}
    for user in users:
        vector = vectorstore.user_vector(version, user)
        if vector is None:
            continue
        near = vectorstore.nearest_items(version, vector, depth, exclude_item_ids=sorted(known.get(user, ())))
        pools[user] = [n.item_id for n in near][SKIP_NEAREST:]
    return pools


def collaborative_pools(split: SplitData, users: Iterable[int], depth: int) -> dict[int, list[int]]:
    """Per user, what the collaborative model fitted on the training part would recommend
    (ALS and item-KNN, alternately), own items excluded: the candidates the service's blend
    chooses among, so a model trained against them learns what tells the next item apart there."""
    rows = [(user, item) for user, history in split.users.items() for _, item in history.liked]
    if not rows or depth <= SKIP_NEAREST:
        return {}
    user_ids, item_ids = (np.array(column, dtype=np.int64) for column in zip(*rows, strict=True))
    factors = collaborative.fit_factors(
        collaborative.Interactions(user_ids, item_ids, np.ones(len(rows)), np.zeros(len(rows)))
    )
    if factors is None:
        return {}
    pools = {}
    for user in users:
        known = split.known.get(user, set())
        liked = [item for _, item in split.users[user].liked] if user in split.users else []
        als = list(factors.recommend(user, depth, exclude=known))
        knn = list(factors.neighbour_recommend(liked, depth, exclude=known)) if liked else []
        merged = _alternate(als, knn)
        if merged[SKIP_NEAREST:depth]:
            pools[user] = merged[SKIP_NEAREST:depth]
    return pools


def _alternate(*lists: Sequence[int]) -> list[int]:
    """One item from each list in turn, each item once."""
    merged: list[int] = []
    for position in range(max((len(items) for items in lists), default=0)):
        merged += [items[position] for items in lists if position < len(items) and items[position] not in merged]
    return merged


HARD_NEGATIVE_SOURCES = ("ann", "collaborative", "both")


def mined_pools(tenant: Tenant, split: SplitData, users: set[int], source: str, depth: int) -> dict[int, list[int]]:
    """Hard-negative pools from ``source``: the active ANN index, the collaborative model, or both."""
    if source not in HARD_NEGATIVE_SOURCES:
        raise ValueError(f"hard_negatives_from must be one of {', '.join(HARD_NEGATIVE_SOURCES)}, not {source!r}.")
    ann = hard_negative_pools(tenant, users, split.known, depth) if source in ("ann", "both") else {}
    cf = collaborative_pools(split, users, depth) if source in ("collaborative", "both") else {}
    return {user: _alternate(ann.get(user, []), cf.get(user, [])) for user in ann.keys() | cf.keys()}


class NegativeSampler:
    """Draws negatives for a user: hard ones from their ANN pool, else random catalogue items."""

    def __init__(self, catalogue: Sequence[int], pools: dict[int, list[int]], known: dict[int, set[int]], seed: int):
        self.catalogue = list(catalogue)
        self.pools = pools
        self.known = known
        self.rng = random.Random(seed)

    def random_item(self, user: int, avoid: set[int]) -> int | None:
        for _ in range(20):
            item = self.rng.choice(self.catalogue)
            if item not in avoid and item not in self.known.get(user, ()):
                return item
        return None

    def hard_item(self, user: int, avoid: set[int]) -> int | None:
        pool = [i for i in self.pools.get(user, ()) if i not in avoid]
        return self.rng.choice(pool) if pool else self.random_item(user, avoid)

    def draw(
        self, user: int, n: int, avoid: set[int], *, first: Sequence[int] = (), mix_random: bool = False
    ) -> list[int]:
        out: list[int] = []
        for item in first:
            if len(out) < n and item not in avoid and item not in out:
                out.append(item)
        while len(out) < n:
            use_random = mix_random and len(out) % 2 == 1
            item = self.random_item(user, avoid | set(out)) if use_random else self.hard_item(user, avoid | set(out))
            if item is None:
                break
            out.append(item)
        return out


def _positive_events(split: SplitData) -> list[tuple[int, int, list[int]]]:
    """(user, item, the user's earlier liked items newest last) for every training positive."""
    out = []
    for user, history in split.users.items():
        items = [item for _, item in history.liked]
        for position, item in enumerate(items):
            out.append((user, item, items[:position]))
    return out


def _sample(examples: list, max_examples: int, seed: int) -> list:
    if max_examples and len(examples) > max_examples:
        rng = random.Random(seed)
        examples = rng.sample(examples, max_examples)
    return examples


def _catalogue(tenant: Tenant) -> list[int]:
    return list(Item.objects.for_tenant(tenant).filter(is_active=True).values_list("pk", flat=True))


def _titles(item_ids: Iterable[int]) -> dict[int, str]:
    return dict(Item.objects.filter(pk__in=set(item_ids)).values_list("pk", "title"))


# ---------------------------------------------------------------------------------------------
# Examples per model


def encoder_examples(tenant: Tenant, params: dict[str, Any], split: SplitData | None = None) -> TrainingExamples:
    """(user text, next item text, [hard negative texts]) to train; (user text, item text) to validate."""
    split = split or load_split(tenant)
    seed, history_n = int(params["seed"]), int(params["history_items"])
    events = [e for e in _positive_events(split) if e[2] or _has_profile(split.users[e[0]])]
    if params.get("blend_holdout", True):
        # The blend is fitted on these same interactions, each user's last new item held out: a
        # model trained on that pair too would look better there than it is, and the blend
        # would trust it too much (on ml-latest-small its weights on the vector features went
        # up 3-6x, and its validation AUC down).
        events = [e for e in events if split.blend_held_out.get(e[0]) != e[1]]
    events = _sample(events, int(params["max_examples"]), seed)
    users = {e[0] for e in events} | set(split.held_out)
    n_hard = int(params["hard_negatives"])
    depth, source = int(params["hard_negative_depth"]), str(params.get("hard_negatives_from", "ann"))
    pools = mined_pools(tenant, split, users, source, depth) if n_hard else {}
    active = _catalogue(tenant)
    sampler = NegativeSampler(active, pools, split.known, seed)
    negatives = {
        (user, item): sampler.draw(user, n_hard, split.known.get(user, set()) | {item}) for user, item, _ in events
    }
    catalogue_ids = _catalogue_sample(active, int(params.get("catalogue_sample", 0)), seed)
    catalogue_negatives = bool(params.get("catalogue_negatives", False)) and bool(catalogue_ids)
    needed = {i for u, item, before in events for i in (item, *before[-history_n:], *negatives[(u, item)])}
    needed |= set(catalogue_ids)
    needed |= {i for u in split.held_out for i in split.held_out[u]}
    needed |= {i for h in split.users.values() for _, i in h.liked[-history_n:]}
    texts, titles = item_text_map(needed), _titles(needed)

    tower = UserTower(history_items=history_n, anchor=str(params.get("anchor", "titles")))

    def anchor(user: int, before: Sequence[int]) -> str | HistoryAnchor:
        history = split.users[user]
        recent = before[-history_n:]
        text = tower.text(
            history.profile, history.queries, [titles.get(i, "") for i in recent], [texts.get(i, "") for i in recent]
        )
        if tower.weighs_history:
            return HistoryAnchor(text, tuple(texts[i] for i in recent if i in texts))
        return text

    catalogue_ids = [i for i in catalogue_ids if i in texts]
    column = {item: j for j, item in enumerate(catalogue_ids)}

    known_columns: dict[int, tuple[int, ...]] = {}

    def own_columns(user: int) -> tuple[int, ...]:
        # The user's items are unlabelled positives, never negatives: one shared tuple per user.
        if user not in known_columns:
            known_columns[user] = tuple(sorted(column[i] for i in split.known.get(user, ()) if i in column))
        return known_columns[user]

    def masked(user: int, item: int) -> tuple[int, ...]:
        own = own_columns(user)  # a training positive is one of them already
        return own if item not in column or column[item] in own else (*own, column[item])

    train = [
        (anchor(user, before), texts[item], [texts[n] for n in negatives[(user, item)] if n in texts])
        + ((masked(user, item),) if catalogue_negatives else ())
        for user, item, before in events
        if item in texts
    ]
    valid = []
    for user, items in sorted(split.held_out.items()):
        text = anchor(user, [i for _, i in split.users[user].liked])
        if text:
            # With a catalogue: the user's columns to leave out and the held-out item's column,
            # for the validation's ranking over the catalogue.
            valid += [
                (text, texts[item]) + ((own_columns(user), column[item]) if item in column else ())
                for item in items
                if item in texts
            ]
    random.Random(seed).shuffle(valid)  # in-batch negatives should not be ordered by user id
    window = {
        **split.window,
        "train_examples": len(train),
        "valid_examples": len(valid),
        "hard_negative_users": len(pools),
        "catalogue_items": len(catalogue_ids),
        "catalogue_negatives": catalogue_negatives,
    }
    catalogue = [texts[i] for i in catalogue_ids]
    return TrainingExamples(train, valid, window, catalogue=catalogue, catalogue_negatives=catalogue_negatives)


def _catalogue_sample(active: Sequence[int], size: int, seed: int) -> list[int]:
    """``size`` of the ``active`` items (all of them when fewer; a seeded sample else)."""
    if size <= 0:
        return []
    items = sorted(active)
    return items if len(items) <= size else sorted(random.Random(seed).sample(items, size))


def reranker_examples(tenant: Tenant, params: dict[str, Any], split: SplitData | None = None) -> TrainingExamples:
    """(user text, item text, label 1/0): clicks/purchases vs ignored impressions and sampled items."""
    split = split or load_split(tenant)
    seed, history_n = int(params["seed"]), int(params["history_items"])
    per_positive = int(params["negatives_per_positive"])
    events = _sample(_positive_events(split), int(params["max_examples"]), seed)
    users = {e[0] for e in events} | set(split.held_out)
    pools = hard_negative_pools(tenant, users, split.known, int(params.get("hard_negative_depth", 50)))
    sampler = NegativeSampler(_catalogue(tenant), pools, split.known, seed)
    ignored = split.ignored
    labelled: list[tuple[int, int, tuple[int, ...], float]] = []
    for user, item, before in events:
        labelled.append((user, item, tuple(before), 1.0))
        avoid = split.known.get(user, set()) - set(ignored.get(user, ())) | {item}
        for negative in sampler.draw(user, per_positive, avoid, first=ignored.get(user, ())[:1], mix_random=True):
            labelled.append((user, negative, tuple(before), 0.0))
    valid_labelled = []
    for user, items in sorted(split.held_out.items()):
        before = tuple(i for _, i in split.users[user].liked)
        for item in items:
            valid_labelled.append((user, item, before, 1.0))
            avoid = split.known.get(user, set()) | set(items)
            for negative in sampler.draw(user, per_positive, avoid, mix_random=True):
                valid_labelled.append((user, negative, before, 0.0))
    needed = {e[1] for e in labelled + valid_labelled} | {
        i for e in labelled + valid_labelled for i in e[2][-history_n:]
    }
    texts, titles = item_text_map(needed), _titles(needed)

    def build(rows):
        out = []
        for user, item, before, label in rows:
            history = split.users[user]
            left = user_history_text(history.profile, history.queries, [titles.get(i, "") for i in before[-history_n:]])
            if item in texts:
                out.append((left or "(new user)", texts[item], label))
        return out

    train, valid = build(labelled), build(valid_labelled)
    window = {
        **split.window,
        "train_examples": len(train),
        "train_positives": int(sum(e[2] for e in train)),
        "valid_examples": len(valid),
        "ignored_impressions_used": sum(min(1, len(v)) for v in ignored.values()),
    }
    return TrainingExamples(train, valid, window)


def _has_profile(history: UserHistory) -> bool:
    return bool(history.profile.strip() or history.queries)
