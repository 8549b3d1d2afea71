"""Why an item is on a list, in plain words: the KG path or the liked items that led to it."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from llmrec_django.database.serving_data import EntityKey

# How a user's strongest event on an item reads in a sentence ("Because you bought ...").
EVENT_VERBS = {
    "purchase": "bought",
    "like": "liked",
    "rating": "rated",
    "add_to_cart": "added to your cart",
    "share": "shared",
    "click": "looked at",
    "view": "looked at",
}

# Item-to-item relations as a phrase before the other item's title.
ITEM_RELATION_PHRASES = {"similar_to": "Similar to", "pairs_with": "Goes well with"}


def verb(event_type: str | None) -> str:
    return EVENT_VERBS.get(event_type or "", "liked")


def kg_explanation(
    entity: EntityKey,
    labels: Mapping[EntityKey, tuple],
    liked_edges: Mapping[int, Mapping[EntityKey, float]],
    liked: Mapping[int, float],
    titles: Mapping[int, str],
    strongest_event: Mapping[int, str],
    candidate: int | None = None,
) -> str | None:
    """'Because you liked "Lantern Ship" (same genre: science fiction)' for the liked item that
    contributes most through ``entity``; 'Goes well with "X" you bought' for an item edge. The
    ``candidate`` itself is never the reason given for it."""
    contributions = {
        item: weight * liked_edges.get(item, {}).get(entity, 0.0)
        for item, weight in liked.items()
        if entity in liked_edges.get(item, {}) and item != candidate
    }
    if entity[0] == "i":
        # The candidate is the target of an item edge from a liked item.
        sources = {
            item: weight * edges[("i", entity[1])]
            for item, edges in liked_edges.items()
            if ("i", entity[1]) in edges and (weight := liked.get(item, 0.0)) > 0 and item != candidate
        }
        if not sources:
            return None
        source = max(sources, key=sources.get)
        relation = labels.get(entity, ("related_to",))[0]
        phrase = ITEM_RELATION_PHRASES.get(relation, "Related to")
        return f'{phrase} "{titles.get(source, "an item")}" you {verb(strongest_event.get(source))}'
    if not contributions:
        return None
    source = max(contributions, key=contributions.get)
    entity_type, name = labels.get(entity, ("kind", "?"))
    return f'Because you {verb(strongest_event.get(source))} "{titles.get(source, "an item")}" (same {entity_type}: {name})'


class ClosestLiked:
    """The liked item whose vector is closest to a candidate's, for the candidates of one list
    (the liked items' matrix is built once, not once per item explained)."""

    def __init__(self, liked_vectors: Mapping[int, np.ndarray], liked: Mapping[int, float]) -> None:
        self.items = [item for item in liked_vectors if liked.get(item, 0) > 0]
        if self.items:
            matrix = np.stack([liked_vectors[item] for item in self.items]).astype(np.float64)
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            self.unit = matrix / np.where(norms > 0, norms, 1.0)

    def __call__(self, candidate_vector: np.ndarray | None, candidate: int | None = None) -> int | None:
        """The closest liked item other than ``candidate`` itself (an item is never "similar to"
        itself), or None."""
        if candidate_vector is None or not self.items:
            return None
        similarity = self.unit @ candidate_vector
        for index in np.argsort(-similarity, kind="stable")[:2]:
            if self.items[int(index)] != candidate:
                return self.items[int(index)]
        return None
