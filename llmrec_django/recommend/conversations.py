"""Conversational recommendations: a session that the user steers with messages and feedback.

Usage::

    from llmrec_django import conversations

    turn = conversations.start_session(profile, message="a cosy mystery", k=5)
    turn.session, turn.recommendations.items, turn.reply
    turn = conversations.send_message(turn.session, "something lighter, less violent")
    turn = conversations.give_feedback(turn.session, liked=["film-3"], disliked=["film-7"])

The session keeps a query vector in the active embedding version's space. It starts as the
user's interest vector (if they have one); every step moves it (``core.conversation``):

- a message is split into what it asks for and what it asks for less of ("less violent"); both
  are embedded with the version's encoder; the query moves toward the first and away from the
  second (weights ``CONVERSATION_MESSAGE_WEIGHT`` and the Rocchio gamma); a category or price
  ceiling named in the message ("films under $20") becomes a filter of the session;
- feedback moves it toward the liked items' vectors and away from the disliked ones' (Rocchio,
  ``CONVERSATION_ROCCHIO``) and is recorded as like/dislike interactions, which also refresh the
  user's long-term interest vector.

Each turn answers with items nearest the query that were not shown in the session before, not
disliked and not consumed, and a reply from ``conversation_reply`` (a template today; the single
place where a language model can write the sentence instead). Without a usable vector (no
active version, a new user and no message yet) the user's usual list answers, with its fallback
reason.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from django.db import transaction

from llmrec_django.catalogue import embedding, events
from llmrec_django.conf import llmrec_settings
from llmrec_django.core.conversation import rocchio, split_message
from llmrec_django.core.intent import Intent, intent_from_dict, merge_intents, parse_intent, without
from llmrec_django.core.query_parsing import ParsedQuery
from llmrec_django.database import serving_data, vectorstore
from llmrec_django.models import ConversationSession, ConversationTurn, EmbeddingVersion, Item, UserProfile
from llmrec_django.recommend import serving
from llmrec_django.recommend.for_user import recommend_for_user
from llmrec_django.recommend.lists import Recommendation, RecommendationList, recommend_for_vector
from llmrec_django.recommend.text_search import vector_text

logger = logging.getLogger(__name__)

MAX_MESSAGE_LENGTH = 2000
MAX_FEEDBACK_ITEMS = 100
# Versions whose vectors still exist (a retired version's were dropped).
_LIVE_STATUSES = (EmbeddingVersion.Status.ACTIVE, EmbeddingVersion.Status.READY)


class ConversationError(ValueError):
    """A message or feedback that cannot be used; the message says why."""


@dataclass
class TurnResult:
    session: ConversationSession
    turn: ConversationTurn
    recommendations: RecommendationList
    reply: str
    # What this turn changed in the session's intent, as the constraints describe themselves.
    added: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


def intent_changes(before: Intent | None, after: Intent | None) -> tuple[list[str], list[str]]:
    """(added, dropped): the constraints ``after`` has that ``before`` had not, and the reverse."""
    old = [c.describe() for c in (before.constraints if before else ())]
    new = [c.describe() for c in (after.constraints if after else ())]
    return [c for c in new if c not in old], [c for c in old if c not in new]


QUOTABLE_WORDS = 6
_INSTRUCTION = re.compile(
    r"(?i)\b(?:ignore|disregard|instructions?|prompt|system|assistant|say|print|repeat|reply|write)\b"
)
_NOT_QUOTABLE = re.compile(r"\d{3}|[@/:<>{}\[\]\\]|www\.|\.[a-z]{2,6}\b", re.IGNORECASE)


def quotable(text: str) -> bool:
    """Whether the reply may quote the user's words back: a short phrase, no digit runs, links or
    markup. A long or odd message ("... call +1 555 0100 ...") is summed up by its constraints,
    never echoed (a reply is no place for text someone else may have made them paste)."""
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in text):  # zero-width and control characters
        return False
    return (
        0 < len(text.split()) <= QUOTABLE_WORDS
        and len(text) <= 60
        and not _NOT_QUOTABLE.search(text)
        and not _INSTRUCTION.search(text)
    )


def _changes_sentence(added: Sequence[str], dropped: Sequence[str]) -> str:
    parts = []
    if added:
        parts.append("now " + ", ".join(added))
    if dropped:
        parts.append("no longer " + ", ".join(dropped))
    if not parts:
        return ""
    sentence = "; ".join(parts)
    return sentence[:1].upper() + sentence[1:] + ". "


# ---------------------------------------------------------------------------------------------
# The reply


def _quoted_titles(items: Sequence[Recommendation], limit: int = 3) -> str:
    titles = [f'"{item.title}"' for item in items[:limit]]
    if len(titles) <= 1:
        return "".join(titles)
    return ", ".join(titles[:-1]) + " and " + titles[-1]


def conversation_reply(
    *,
    kind: str,
    items: Sequence[Recommendation],
    message: str = "",
    wanted: str = "",
    unwanted: Sequence[str] = (),
    parsed: ParsedQuery | Intent | None = None,
    liked_titles: Sequence[str] = (),
    disliked_titles: Sequence[str] = (),
    fallback_reason: str | None = None,
    added: Sequence[str] = (),
    dropped: Sequence[str] = (),
) -> str:
    """The assistant's sentences for a turn, grounded in what was asked and what is shown: what
    the turn changed in the intent, what it asked for, the picks. Deterministic, so every
    statement about the request is exact (a negation is never lost); the generative model adds a
    sentence about the first pick (``copywriting.replies``)."""
    changes = _changes_sentence(added, dropped)
    if not items:
        if isinstance(parsed, Intent) and parsed.constraints:
            return f"{changes}Nothing new is {parsed.describe()}. Drop one of these, or describe it differently."
        return f"{changes}I have nothing new to show for that. Try describing it differently."
    return changes + _picks_sentence(
        kind, items, message, wanted, unwanted, parsed, liked_titles, disliked_titles, fallback_reason
    )


def _picks_sentence(
    kind: str,
    items: Sequence[Recommendation],
    message: str,
    wanted: str,
    unwanted: Sequence[str],
    parsed: ParsedQuery | Intent | None,
    liked_titles: Sequence[str],
    disliked_titles: Sequence[str],
    fallback_reason: str | None,
) -> str:
    picks = _quoted_titles(items)
    if kind == ConversationTurn.Kind.FEEDBACK:
        noted = []
        if liked_titles:
            noted.append("more like " + ", ".join(f'"{t}"' for t in liked_titles[:3]))
        if disliked_titles:
            noted.append("less like " + ", ".join(f'"{t}"' for t in disliked_titles[:3]))
        lead = f"Noted: {' and '.join(noted)}. " if noted else ""
        return f"{lead}Here are picks in that direction: {picks}."
    if message or (isinstance(parsed, Intent) and parsed.constraints):
        asked = []
        if wanted and quotable(wanted):
            asked.append(f'for "{wanted}"')
        elif wanted and not (isinstance(parsed, Intent) and parsed.constraints):
            asked.append("for what you asked")
        if unwanted and all(quotable(u) for u in unwanted):
            asked.append("with less " + " and ".join(f'"{u}"' for u in unwanted))
        constraints = parsed.describe() if parsed is not None else ""
        if constraints:
            asked.append(f"({constraints})")
        return f"Here are picks {' '.join(asked)}: {picks}.".replace("picks :", "picks:")
    if fallback_reason:
        return f"Here are popular picks to start with: {picks}. Tell me what you are in the mood for."
    return f"Here are picks from your interests: {picks}. Tell me what you are in the mood for."


# ---------------------------------------------------------------------------------------------
# The session's query vector


def _vectors(read: Callable[[], Any], empty: Any) -> Any:
    """``read()``, or ``empty`` when the vectors cannot be read (``vectorstore.READ_ERRORS``): the
    turn then answers without them, from the user's usual list, which falls back by itself."""
    try:
        return read()
    except vectorstore.READ_ERRORS as exc:
        logger.warning("Reading vectors for a conversation failed: %s", exc)
        return empty


def _live_version(session: ConversationSession) -> EmbeddingVersion | None:
    """The session's version while its vectors exist; else the active one, restarting the query
    from the user's interest vector (vectors of different versions do not mix)."""
    if session.version_id is not None and session.version.status in _LIVE_STATUSES:
        return session.version
    version = vectorstore.active_version(session.tenant_id)
    if version is not None and version.pk != session.version_id:
        session.version = version
        vector = _vectors(lambda: vectorstore.user_vector(version, session.user_id), None)
        session.query_vector = [] if vector is None else [float(x) for x in vector]
    return version


def _query(session: ConversationSession) -> np.ndarray | None:
    return np.asarray(session.query_vector, dtype=np.float32) if session.query_vector else None


def _set_query(session: ConversationSession, vector: np.ndarray | None) -> None:
    if vector is not None:
        session.query_vector = [float(x) for x in vector]


@dataclass
class MessageParts:
    wanted: str = ""
    unwanted: list[str] = field(default_factory=list)
    parsed: Intent | None = None  # the conversation's intent after the message
    problem: str | None = None  # why the message could not move the query vector


def _shown_attributes(session: ConversationSession, last: int = 10) -> list[dict]:
    """The attributes of the items shown last ("cheaper than these")."""
    ids = list(session.shown_item_ids or [])[-last:]
    rows = serving_data.load_items(session.tenant_id, ids) if ids else {}
    return [rows[i].attributes or {} for i in ids if i in rows]


def _set_intent(session: ConversationSession, intent: Intent) -> None:
    """Store the conversation's intent, and its category and price ceiling in the older fields."""
    session.intent = intent.to_dict()
    session.category = intent.category or ""
    ceilings = [float(c.value) for c in intent.constraints if c.attribute == "price" and c.op in ("<=", "<")]
    session.max_price = min(ceilings) if ceilings else None


def _apply_message(session: ConversationSession, message: str) -> MessageParts:
    """Blend the message into the session (intent and vector); returns its parts."""
    schema = serving_data.catalogue_schema(session.tenant_id)
    try:
        turn = parse_intent(message, schema, shown=_shown_attributes(session))
    except Exception:  # noqa: BLE001 - the turn still moves the vector, as plain text
        logger.exception("Could not understand a conversation message (session %s).", session.pk)
        turn = Intent(text=message, soft_text=message)
    _set_intent(session, merge_intents(intent_from_dict(session.intent), turn, schema))
    wanted, unwanted = split_message(message)
    if turn.constraints:  # the soft words, never the excluded values ("no horror" must not pull to horror)
        wanted = vector_text(turn)
        excluded = {str(v).lower() for c in turn.constraints if c.op == "not_in" for v in c.value}
        unwanted = [u for u in unwanted if u.lower() not in excluded]
    parts = MessageParts(wanted, unwanted, intent_from_dict(session.intent))
    version = _live_version(session)
    texts = ([wanted] if wanted else []) + unwanted
    if version is None or not texts:
        return parts

    try:
        vectors = np.asarray(embedding.encoder_for(version).encode(texts), dtype=np.float32)
        if vectors.shape != (len(texts), version.dimension):
            raise ValueError(f"vectors of shape {vectors.shape}, the version holds {version.dimension}-d")
        if not np.all(np.isfinite(vectors)):
            raise ValueError("the encoder gave vectors that are not finite")
    except Exception as exc:  # noqa: BLE001 - the turn still answers, from the current query
        logger.warning("Encoding a conversation message failed (session %s): %s", session.pk, exc)
        parts.problem = f"the message could not be embedded ({type(exc).__name__}: {exc})"
        return parts
    weight = float(llmrec_settings.CONVERSATION_MESSAGE_WEIGHT)
    gamma = float(llmrec_settings.CONVERSATION_ROCCHIO["gamma"])
    liked = vectors[:1] if wanted else None
    disliked = vectors[1:] if wanted else vectors
    _set_query(session, rocchio(_query(session), liked, disliked, alpha=1 - weight, beta=weight, gamma=gamma))
    return parts


# ---------------------------------------------------------------------------------------------
# Turns


def _next_number(session: ConversationSession) -> int:
    last = session.turns.order_by("-number").values_list("number", flat=True).first()
    return (last or 0) + 1


def _answer(
    session: ConversationSession,
    kind: str,
    *,
    k: int | None,
    message: str = "",
    parts: MessageParts | None = None,
    liked: Sequence[Item] = (),
    disliked: Sequence[Item] = (),
    before: Intent | None = None,
) -> TurnResult:
    """Recommend for the session's query, write the turn, remember what was shown. ``before``:
    the intent before this turn (what the reply says changed)."""
    consumed = serving_data.load_history(
        session.user_id, llmrec_settings.EXCLUDE_CONSUMED_EVENT_TYPES, llmrec_settings.EXCLUDE_RECENT_EVENTS
    ).consumed
    exclude = set(session.shown_item_ids) | set(session.liked_item_ids) | set(session.disliked_item_ids) | set(consumed)
    version = _live_version(session)
    query = _query(session)
    intent = intent_from_dict(session.intent)
    if version is not None and query is not None and len(query) == version.dimension:
        if message:
            explanation = f'Matches "{message}"' if quotable(message) else "Matches what you asked"
        else:
            explanation = "Close to what you liked in this conversation"

        def nearest(constraints, excluded):
            return recommend_for_vector(
                query, version=version, k=k, exclude=excluded, constraints=constraints,
                context={**(intent.context if intent else {}), **session.context}, explanation=explanation,
            )  # fmt: skip

        constraints = list(intent.constraints) if intent else []
        result = nearest(constraints, exclude)
        if not result.items and constraints:
            # Nothing new satisfies: what was shown before may show again (not what was judged).
            judged = set(session.liked_item_ids) | set(session.disliked_item_ids) | set(consumed)
            result = nearest(constraints, judged)
            carried = [c for c in constraints if c.source == "turn" and c.attribute != "category"]
            while not result.items and carried:  # then the oldest carried constraints give way
                constraints.remove(carried.pop(0))
                result = nearest(constraints, judged)
            if len(constraints) < len(intent.constraints):
                intent = replace(intent, constraints=tuple(constraints))
                _set_intent(session, intent)
    else:
        result = recommend_for_user(
            session.user,
            tenant=session.tenant,
            k=k,
            category=session.category or None,
            context=session.context,
            exclude=exclude,
        )
    serving.conversation_turn(
        result, tenant_id=session.tenant_id, user_id=session.user_id, session_id=session.pk, context=session.context
    )
    parts = parts or MessageParts()
    # What changed, once there was something to change (a first request says what it asks anyway).
    added, dropped = intent_changes(before, intent) if before is not None and before.constraints else ([], [])
    reply = conversation_reply(
        kind=kind,
        items=result.items,
        message=message,
        wanted=parts.wanted,
        unwanted=parts.unwanted,
        parsed=intent if intent is not None else parts.parsed,
        liked_titles=[item.title for item in liked],
        disliked_titles=[item.title for item in disliked],
        fallback_reason=result.reason,
        added=added,
        dropped=dropped,
    )
    session.shown_item_ids = list(session.shown_item_ids) + [i for i in result.item_ids if i not in exclude]
    session.save()
    turn = ConversationTurn.objects.create(
        session=session,
        number=_next_number(session),
        kind=kind,
        message=message,
        liked=[item.external_id for item in liked],
        disliked=[item.external_id for item in disliked],
        reply=reply,
        recommended=result.external_ids,
        source=result.source,
        reason="; ".join(r for r in (result.reason, parts.problem) if r),
    )
    result.intent = intent
    return TurnResult(session=session, turn=turn, recommendations=result, reply=reply, added=added, dropped=dropped)


def _clean_message(message: Any) -> str:
    if not isinstance(message, str):
        raise ConversationError("The message must be text.")
    message = message.strip()
    if len(message) > MAX_MESSAGE_LENGTH:
        raise ConversationError(f"The message is longer than {MAX_MESSAGE_LENGTH} characters.")
    if "\x00" in message:
        raise ConversationError("The message contains a NUL character.")
    return message


def start_session(
    profile: UserProfile,
    *,
    message: str = "",
    k: int | None = None,
    context: Mapping[str, Any] | None = None,
) -> TurnResult:
    """A new session for ``profile``, answered at once (with ``message`` blended in if given)."""
    message = _clean_message(message or "")
    with transaction.atomic():
        version = vectorstore.active_version(profile.tenant_id)
        vector = _vectors(lambda: vectorstore.user_vector(version, profile.pk), None) if version is not None else None
        session = ConversationSession.objects.create(
            tenant_id=profile.tenant_id,
            user=profile,
            version=version,
            query_vector=[] if vector is None else [float(x) for x in vector],
            context={key: str(value) for key, value in (context or {}).items() if value},
        )
        parts = _apply_message(session, message) if message else None
        return _answer(session, ConversationTurn.Kind.START, k=k, message=message, parts=parts)


def _locked(session: ConversationSession) -> ConversationSession:
    """The session re-read under a row lock: concurrent turns of one session run one by one."""
    return (
        ConversationSession.objects.select_for_update(of=("self",))
        .select_related("tenant", "user", "version")
        .get(pk=session.pk)
    )


def send_message(
    session: ConversationSession, message: str, *, k: int | None = None, drop: Sequence[str] = ()
) -> TurnResult:
    """Blend ``message`` into the session and answer; ``drop`` removes the constraints on those
    attributes first ("category", "price" ...: a chip the user closed; a message may then be empty)."""
    message = _clean_message(message)
    if not message and not drop:
        raise ConversationError("The message is empty.")
    with transaction.atomic():
        session = _locked(session)
        before = intent_from_dict(session.intent)
        if drop:
            current = intent_from_dict(session.intent)
            if current is not None:
                _set_intent(session, without(current, [str(name) for name in drop]))
        parts = _apply_message(session, message) if message else MessageParts(parsed=intent_from_dict(session.intent))
        return _answer(session, ConversationTurn.Kind.MESSAGE, k=k, message=message, parts=parts, before=before)


def _items(session: ConversationSession, external_ids: Sequence[str]) -> list[Item]:
    found = {
        item.external_id: item
        for item in Item.objects.filter(tenant_id=session.tenant_id, external_id__in=list(external_ids))
    }
    unknown = [external_id for external_id in external_ids if external_id not in found]
    if unknown:
        raise ConversationError(f"Unknown item(s) in this tenant: {', '.join(map(repr, unknown[:10]))}.")
    return [found[external_id] for external_id in dict.fromkeys(external_ids)]


def give_feedback(
    session: ConversationSession,
    *,
    liked: Sequence[str] = (),
    disliked: Sequence[str] = (),
    k: int | None = None,
) -> TurnResult:
    """Move the session's query toward ``liked`` and away from ``disliked`` items (external ids),
    record the feedback as like/dislike interactions, and answer."""
    liked, disliked = [str(i) for i in liked], [str(i) for i in disliked]
    if not liked and not disliked:
        raise ConversationError("Give at least one liked or disliked item.")
    if len(liked) + len(disliked) > MAX_FEEDBACK_ITEMS:
        raise ConversationError(f"At most {MAX_FEEDBACK_ITEMS} items of feedback per turn.")
    both = set(liked) & set(disliked)
    if both:
        raise ConversationError(f"Items both liked and disliked: {', '.join(sorted(both))}.")
    with transaction.atomic():
        session = _locked(session)
        liked_items, disliked_items = _items(session, liked), _items(session, disliked)
        version = _live_version(session)
        if version is not None:
            shown = [i.pk for i in liked_items + disliked_items]
            vectors = _vectors(lambda: vectorstore.item_vectors(version, shown), {})
            rocchio_weights = llmrec_settings.CONVERSATION_ROCCHIO
            updated = rocchio(
                _query(session),
                [vectors[i.pk] for i in liked_items if i.pk in vectors],
                [vectors[i.pk] for i in disliked_items if i.pk in vectors],
                alpha=float(rocchio_weights["alpha"]),
                beta=float(rocchio_weights["beta"]),
                gamma=float(rocchio_weights["gamma"]),
            )
            _set_query(session, updated)
        session.liked_item_ids = list(dict.fromkeys([*session.liked_item_ids, *(i.pk for i in liked_items)]))
        session.disliked_item_ids = list(dict.fromkeys([*session.disliked_item_ids, *(i.pk for i in disliked_items)]))
        number = _next_number(session)
        events.ingest_events(
            [
                {
                    "event_id": f"conversation-{session.pk}-{number}-{event_type}-{item.pk}",
                    "user_id": session.user.external_id,
                    "item_id": item.external_id,
                    "event_type": event_type,
                    "context": {"conversation": session.pk},
                }
                for event_type, items in (("like", liked_items), ("dislike", disliked_items))
                for item in items
            ],
            session.tenant_id,
        )
        return _answer(session, ConversationTurn.Kind.FEEDBACK, k=k, liked=liked_items, disliked=disliked_items)
