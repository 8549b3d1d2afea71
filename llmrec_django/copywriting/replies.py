"""Conversation replies with a sentence by the generative model.

Usage (the API's conversation views)::

    turn = conversations.send_message(session, "cheaper ones")
    turn = add_model_sentence(turn)  # turn.reply gains a sentence about the first pick

A turn's reply starts with what the recommend service knows exactly (``conversation_reply``: what
the turn changed in the request, what it asks for, the picks): a statement about the request,
such as "no horror", must never lose its "no", so that part stays deterministic. The configured
copy generator then writes one sentence about the first pick from its fact sheet (title,
category, attributes and why it was picked, e.g. "PG, 2024, comedy: as you asked"), within
``COPY["REPLY_BUDGET_SECONDS"]``; it goes through the same validator as copy. When it fails, runs
late or the generator is the template, the reply is the deterministic part alone. The user's
message is in the fact sheet only as the shopper's words (data: the validator refuses text copied
from it). The turn keeps the sentence's generator, the checks' verdict, its time and fact sheet
(``ConversationTurn.reply_*``), shown in the admin.
"""

from __future__ import annotations

import time
from typing import Any

from llmrec_django.conf import llmrec_settings
from llmrec_django.conf.backends import get_copy_generator
from llmrec_django.copywriting.base import CopyRequest, ItemFacts, shorten
from llmrec_django.copywriting.service import catalogue_title_lookup, fact_sheet
from llmrec_django.copywriting.writing import produce_copy, template_generator
from llmrec_django.models import Item
from llmrec_django.recommend.conversations import TurnResult

MESSAGE_CHARS = 300


def reply_request(turn: TurnResult) -> CopyRequest | None:
    """The fact sheet of the turn's first pick (None when nothing was picked)."""
    items = turn.recommendations.items
    if not items:
        return None
    first = items[0]
    row = (
        Item.objects.filter(tenant_id=turn.session.tenant_id, pk=first.item_id)
        .values("external_id", "title", "category", "attributes", "description")
        .first()
    )
    if row is None:
        return None
    return CopyRequest(
        items=(ItemFacts.from_row(row, first.explanation),),
        profile=shorten(turn.turn.message, MESSAGE_CHARS),
        max_chars=240,
    )


def add_model_sentence(turn: TurnResult, *, generator: Any = None, budget: float | None = None) -> TurnResult:
    """``turn`` with the model's sentence about its first pick appended to the reply (stored on
    the turn), or the deterministic reply alone with the reason recorded."""
    config = llmrec_settings.COPY
    generator = generator if generator is not None else get_copy_generator()
    request = reply_request(turn)
    record = turn.turn
    if request is None or not generator.needs_validation:  # nothing to describe, or the template
        record.reply_generator = template_generator.generator_name
        record.save(update_fields=["reply_generator"])
        return turn
    started = time.perf_counter()
    budget = float(config["REPLY_BUDGET_SECONDS"] if budget is None else budget)
    lookup = catalogue_title_lookup(turn.session.tenant)  # the session's tenant, already loaded
    copy = produce_copy(generator, request, budget=budget, catalogue_titles=lookup)
    record.reply_facts = fact_sheet(request)
    record.reply_seconds = round(time.perf_counter() - started, 4)
    record.reply_generator = copy.attempted
    if copy.fell_back:
        record.reply_check = copy.reason[:500]
    else:
        record.reply_check = ""
        record.reply = f"{turn.reply} {copy.text}".strip()
        turn.reply = record.reply
    record.save(update_fields=["reply", "reply_generator", "reply_check", "reply_seconds", "reply_facts"])
    return turn
