"""A user's interests in a few plain sentences, from facts only: what they liked (signed,
recency-decayed weight per item), the categories and knowledge-graph entities of those items,
and their recent searches. No language model: every name in the text is a category, an entity,
an item title or a query of the user's own, so the text cannot claim what the data does not say.

    Likes films (genre: science fiction, drama; directed by: Christopher Nolan). Likes outdoor
    gear (brand: Salomon). Recently searched for "trail shoes". Not interested in: horror.

The recipe (``summarise_interests``):

1. Each item's group is its category (else its KG entity of a generic type such as "category").
   A group's score is the sum of its liked items' weights; the best ``MAX_GROUPS`` groups with a
   score of at least ``GROUP_SHARE`` of the best one get a sentence each.
2. In a group, each entity scores ``sum(item weight x edge weight)`` over the group's liked
   items; an entity is named only if its score over *all* the user's items is positive (so
   something the user mostly dislikes is never listed as a like) and reaches ``ENTITY_SHARE`` of
   the group's best. Names are grouped by readable relation ("directed by", "brand"), at most
   ``RELATIONS_PER_GROUP`` relations of ``NAMES_PER_RELATION`` names. A group without entities
   names its best liked titles instead.
3. The latest ``QUERIES_SHOWN`` distinct searches, newest first.
4. "Not interested in": the entities whose score over all items is negative, and the groups
   with disliked items and no liked one, most negative first; each only when at least
   ``DISLIKE_MIN_ITEMS`` different disliked items show it (one "not for me" is not a taste).

Sentences are kept whole, in that order, while the text fits ``max_chars`` (the first one is
cut at a word if it alone is too long). The same inputs always give the same text.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from llmrec_django.core.text import readable_relation

MAX_GROUPS = 3
GROUP_SHARE = 0.2
ENTITY_SHARE = 0.25
RELATIONS_PER_GROUP = 3
NAMES_PER_RELATION = 3
TITLES_PER_GROUP = 2
QUERIES_SHOWN = 3
QUERY_CHARS = 60
DISLIKES_SHOWN = 3
DISLIKE_MIN_ITEMS = 2
# Entity types that name a group (a category) rather than describe the items in it.
GROUP_ENTITY_TYPES = frozenset({"category"})

_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class EntityEdge:
    relation: str  # e.g. "has_genre", "directed_by"
    entity_type: str  # e.g. "genre", "person"
    name: str
    weight: float = 1.0


@dataclass(frozen=True)
class ItemFacts:
    title: str
    category: str = ""
    entities: tuple[EntityEdge, ...] = field(default_factory=tuple)


def _clean(text: str) -> str:
    return _SPACES.sub(" ", str(text)).strip()


def _group_of(facts: ItemFacts) -> str:
    if _clean(facts.category):
        return _clean(facts.category)
    for edge in facts.entities:
        if edge.entity_type in GROUP_ENTITY_TYPES and _clean(edge.name):
            return _clean(edge.name)
    return ""


def _describing(facts: ItemFacts, group: str) -> list[tuple[tuple[str, str], float]]:
    """(readable relation, name) of the item's entities that say more than its group does."""
    out = []
    for edge in facts.entities:
        name = _clean(edge.name)
        if not name or edge.entity_type in GROUP_ENTITY_TYPES or name.lower() == group.lower():
            continue
        out.append(((readable_relation(edge.relation), name), float(edge.weight)))
    return out


def _ranked(scores: Mapping, *, positive: bool = True) -> list:
    """Keys by score (largest first for likes, most negative first for dislikes), ties by name
    ignoring case."""
    sign = -1.0 if positive else 1.0
    return sorted(scores, key=lambda key: (sign * scores[key], str(key).lower(), key))


def _join_names(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: max(limit - 1, 0)].rsplit(" ", 1)[0].rstrip(" ,;:(")
    return cut + "…"


def _like_sentence(group: str, entity_scores: Mapping[tuple[str, str], float], titles: Sequence[str]) -> str:
    best = max(entity_scores.values(), default=0.0)
    by_relation: dict[str, list[str]] = defaultdict(list)
    relation_best: dict[str, float] = {}
    for relation, name in _ranked(entity_scores):
        score = entity_scores[(relation, name)]
        if score < ENTITY_SHARE * best or len(by_relation[relation]) >= NAMES_PER_RELATION:
            continue
        by_relation[relation].append(name)
        relation_best.setdefault(relation, score)
    relations = _ranked(relation_best)[:RELATIONS_PER_GROUP]
    details = "; ".join(f"{relation}: {', '.join(by_relation[relation])}" for relation in relations)
    if details:
        return f"Likes {group} ({details})." if group else f"Likes items with {details}."
    if titles:
        return f"Likes {group or 'items'} such as {_join_names(list(titles))}."
    return f"Likes {group}." if group else ""


def summarise_interests(
    item_weights: Mapping[int, float],
    items: Mapping[int, ItemFacts],
    recent_queries: Sequence[str] = (),
    *,
    max_chars: int = 400,
) -> str:
    """The interest summary of one user (see the module docstring); "" when nothing is known.

    ``item_weights``: the user's summed, signed, recency-decayed event weight per item id;
    ``items``: the facts of those items (ids missing here are ignored); ``recent_queries``: oldest
    first, as ``UserProfile.recent_queries`` keeps them.
    """
    weights = {i: float(w) for i, w in item_weights.items() if i in items and w == w and w != 0}
    liked_score: dict[str, float] = defaultdict(float)
    disliked_score: dict[str, float] = defaultdict(float)
    entity_net: dict[tuple[str, str], float] = defaultdict(float)
    liked_in_group: dict[str, list[int]] = defaultdict(list)
    disliked_items: dict[str, int] = defaultdict(int)  # group or entity name -> disliked items showing it
    for item_id, weight in weights.items():
        facts = items[item_id]
        group = _group_of(facts)
        if weight > 0:
            liked_score[group] += weight
        else:
            disliked_score[group] += weight
            disliked_items[group] += 1
        for key, edge_weight in _describing(facts, group):
            entity_net[key] += weight * edge_weight
            if weight < 0:
                disliked_items[key[1]] += 1
        if weight > 0:
            liked_in_group[group].append(item_id)

    sentences = []
    top = max(liked_score.values(), default=0.0)
    for group in [g for g in _ranked(liked_score) if liked_score[g] >= GROUP_SHARE * top][:MAX_GROUPS]:
        scores: dict[tuple[str, str], float] = defaultdict(float)
        for item_id in liked_in_group[group]:
            for key, edge_weight in _describing(items[item_id], group):
                if entity_net[key] > 0:
                    scores[key] += weights[item_id] * edge_weight
        best_items = sorted(liked_in_group[group], key=lambda i: (-weights[i], _clean(items[i].title), i))
        titles = [_clean(items[i].title) for i in best_items if _clean(items[i].title)][:TITLES_PER_GROUP]
        sentence = _like_sentence(group, scores, titles)
        if sentence:
            sentences.append(sentence)

    queries: list[str] = []
    for query in reversed(list(recent_queries)):
        text = _clip(_clean(str(query)).replace('"', ""), QUERY_CHARS)
        if text and text.lower() not in {q.lower() for q in queries}:
            queries.append(text)
    if queries:
        quoted = ", ".join(f'"{q}"' for q in queries[:QUERIES_SHOWN])
        sentences.append(f"Recently searched for {quoted}.")

    disliked: dict[str, float] = {}
    for (_relation, name), score in entity_net.items():
        if score < 0 and disliked_items[name] >= DISLIKE_MIN_ITEMS:
            disliked[name] = min(disliked.get(name, 0.0), score)
    for group, score in disliked_score.items():
        if group and group not in liked_score and disliked_items[group] >= DISLIKE_MIN_ITEMS:
            disliked[group] = min(disliked.get(group, 0.0), score)
    if disliked:
        names = _ranked(disliked, positive=False)[:DISLIKES_SHOWN]
        sentences.append(f"Not interested in: {', '.join(names)}.")

    kept: list[str] = []
    for sentence in sentences:
        if len(" ".join([*kept, sentence])) <= max_chars:
            kept.append(sentence)
        elif not kept:
            kept.append(_clip(sentence, max_chars))
    return " ".join(kept)
