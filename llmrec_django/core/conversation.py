"""The maths of a conversational session: how its query vector moves from turn to turn.

Usage::

    from llmrec_django.core.conversation import rocchio, split_message

    # feedback: toward the liked items, away from the disliked ones (Rocchio, 1971)
    query = rocchio(query, liked=[v1, v2], disliked=[v3], alpha=1.0, beta=0.75, gamma=0.25)

    # a message: "something lighter, less violent" -> ("something lighter", ["violent"])
    wanted, unwanted = split_message("something lighter, less violent")
    query = rocchio(query, liked=[embed(wanted)], disliked=[embed(u) for u in unwanted],
                    alpha=1 - w, beta=w, gamma=0.25)

    q' = normalise(alpha * q + beta * mean(liked) - gamma * mean(disliked))

Terms that are missing (no query yet, nothing liked, nothing disliked) are left out; a result of
(almost) zero length keeps the previous query. Vectors are compared by cosine, so every result
is a unit vector. Nothing here imports Django.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from llmrec_django.core.interest import normalise

# Words that turn what follows into something the user wants less of.
NEGATIONS = ("less", "fewer", "not", "no", "without", "nothing", "avoid", "never", "don't want", "not so", "not too")
# Words that end a negated phrase ("less violent and funnier": "violent" only).
_PHRASE_END = r"(?:,|;|\.|!|\?|\band\b|\bbut\b|\bmore\b|\bplease\b|$)"
_NEGATED = re.compile(
    r"\b(?:" + "|".join(re.escape(word) for word in sorted(NEGATIONS, key=len, reverse=True)) + r")\s+"
    r"(?:so\s+|too\s+|very\s+|as\s+|more\s+)?(?P<phrase>.+?)\s*(?=" + _PHRASE_END + ")",
    re.IGNORECASE,
)


def _mean(vectors: Sequence[np.ndarray] | np.ndarray | None) -> np.ndarray | None:
    if vectors is None or len(vectors) == 0:
        return None
    return np.mean(np.asarray(vectors, dtype=np.float64), axis=0)


def rocchio(
    query: np.ndarray | None,
    liked: Sequence[np.ndarray] | np.ndarray | None = None,
    disliked: Sequence[np.ndarray] | np.ndarray | None = None,
    *,
    alpha: float = 1.0,
    beta: float = 0.75,
    gamma: float = 0.25,
) -> np.ndarray | None:
    """``normalise(alpha q + beta mean(liked) - gamma mean(disliked))``, as float32.

    Returns the (normalised) previous query when the update cancels out, and None when there is
    nothing at all to go on.
    """
    query = None if query is None or len(query) == 0 else np.asarray(query, dtype=np.float64)
    total = None
    for weight, term in ((alpha, query), (beta, _mean(liked)), (-gamma, _mean(disliked))):
        if term is None or weight == 0:
            continue
        total = weight * term if total is None else total + weight * term
    if total is None:
        return None
    updated = normalise(total)
    if updated is not None:
        return updated
    return normalise(query) if query is not None else None


def split_message(text: str) -> tuple[str, list[str]]:
    """(what the message asks for, the phrases it asks for less of).

    ``"something lighter, less violent"`` gives ``("something lighter", ["violent"])``;
    ``"no horror and not too long"`` gives ``("", ["horror", "long"])``.
    """
    unwanted = [m.group("phrase").strip(" ,.;") for m in _NEGATED.finditer(text)]
    unwanted = [phrase for phrase in unwanted if phrase]
    wanted = _NEGATED.sub(" ", text)
    wanted = re.sub(r"[,;.!?]+", " ", wanted)
    wanted = re.sub(r"\b(?:and|but|please)\b", " ", wanted, flags=re.IGNORECASE)
    wanted = re.sub(r"\s+", " ", wanted).strip()
    return wanted, unwanted
