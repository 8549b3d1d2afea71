"""The recommend service: "for you" lists, similar items, search, and what wraps a served list
(rules, explanations, serve-time re-ranking, experiments and exploration, the list cache, the
served-list log), conversations and erasure.

Usage::

    from llmrec_django.recommend.for_user import recommend_for_user
    from llmrec_django.recommend.similar import similar_items
    from llmrec_django.recommend.text_search import search

    result = recommend_for_user("user-005", k=10)
    for rec in result.items:
        print(rec.item.title, rec.score, rec.explanation)

The names below are the public API; the modules of this package are its internals, and import
each other directly (never this ``__init__``), so that the package has no import cycle.
"""

from llmrec_django.recommend.for_user import current_blend, recommend_for_user
from llmrec_django.recommend.lists import (
    Recommendation,
    RecommendationList,
    UnknownItem,
    UnknownUser,
    recommend_for_vector,
    resolve_item,
    resolve_user,
)
from llmrec_django.recommend.similar import similar_items
from llmrec_django.recommend.text_search import search

__all__ = [
    "Recommendation",
    "RecommendationList",
    "UnknownItem",
    "UnknownUser",
    "current_blend",
    "recommend_for_user",
    "recommend_for_vector",
    "resolve_item",
    "resolve_user",
    "search",
    "similar_items",
]
