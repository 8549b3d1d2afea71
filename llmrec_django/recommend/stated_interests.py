"""A user's own words about their tastes, one vector per interest they named, for serving.

A new user who writes "cosy mysteries, funny animated films for my kids, and trail running" at
sign-up has no behaviour yet; their interest vector (the whole text) lands between the three
tastes. Here each interest (``core.stated_interests.split_interests``) gets its own vector, so
the list can search near each and hold items of every interest::

    stated = stated_interests.for_profile(profile, version)   # None: fewer than two interests
    stated.phrases        # ("cosy mysteries", "funny animated films for my kids", "trail running")
    stated.vectors        # (3, d), unit rows, encoded with the version's model
    stated.interleave(...)  # a list order taking each interest's best match in turn

Only text the user (or the site) wrote counts, never text generated from behaviour, and only
while the user has liked fewer than ``STATED_INTERESTS_LEAD_UNTIL_LIKED`` items: after that their
behaviour leads (the interests still count through the ``closest_liked`` feature). Vectors are
kept per process, per version and text (``MAX_CACHED`` texts).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from llmrec_django.catalogue import embedding
from llmrec_django.catalogue.interest_profile import text_source
from llmrec_django.core.stated_interests import split_interests
from llmrec_django.database import caches
from llmrec_django.models import EmbeddingVersion, UserProfile

logger = logging.getLogger(__name__)

MAX_CACHED = 2048
# An item found by an interest's search matches it when its cosine reaches this share of the
# best match's (else it is only a candidate, explained like any other).
MATCH_SHARE = 0.75
_lock = threading.Lock()
_vectors: OrderedDict[tuple, np.ndarray] = OrderedDict()


@caches.register
def clear() -> None:
    with _lock:
        _vectors.clear()


@dataclass(frozen=True)
class StatedInterests:
    phrases: tuple[str, ...]
    vectors: np.ndarray  # (len(phrases), d), unit rows

    def interleave(self, ids: Sequence[int], found_by: Mapping[int, int], match: Mapping[int, float]) -> list[int]:
        """``ids`` reordered: the best match of each interest in turn (interest order), then the
        next best of each, ...; items no interest's search found follow in their given order.
        ``found_by`` maps an item to its interest, ``match`` to its cosine to it."""
        groups: list[list[int]] = [[] for _ in self.phrases]
        rest = []
        for item_id in ids:
            (groups[found_by[item_id]] if item_id in found_by else rest).append(item_id)
        for group in groups:
            group.sort(key=lambda i: -match.get(i, 0.0))
        rounds = max((len(group) for group in groups), default=0)
        order = [group[r] for r in range(rounds) for group in groups if r < len(group)]
        return order + rest


def for_profile(profile: UserProfile, version: EmbeddingVersion) -> StatedInterests | None:
    """The interests ``profile``'s own text names, encoded for ``version``; None when it names
    fewer than two, the text was generated, personalisation is off, or the encoder fails."""
    text = profile.profile_text or ""
    if (
        not profile.personalisation_enabled
        or text_source(profile.profile_text_source, text) == UserProfile.TextSource.GENERATED
    ):
        return None
    phrases = tuple(split_interests(text))
    if len(phrases) < 2:
        return None
    key = (version.pk, version.model_path, phrases)
    with _lock:
        vectors = _vectors.get(key)
        if vectors is not None:
            _vectors.move_to_end(key)
    if vectors is None:
        try:
            raw = np.asarray(embedding.encoder_for(version).encode(list(phrases)), dtype=np.float32)
        except Exception:  # noqa: BLE001 - the list is still made from the user's interest vector
            logger.exception("Could not encode the stated interests of user %s.", profile.pk)
            return None
        if raw.shape != (len(phrases), version.dimension) or not np.isfinite(raw).all():
            logger.warning("The encoder gave stated-interest vectors of shape %s; ignored.", raw.shape)
            return None
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        vectors = raw / np.where(norms > 0, norms, 1.0)
        with _lock:
            _vectors[key] = vectors
            while len(_vectors) > MAX_CACHED:
                _vectors.popitem(last=False)
    return StatedInterests(phrases=phrases, vectors=vectors)
