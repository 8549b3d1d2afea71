"""Grounded decoding: a language model writes a sentence using only words it was given.

A small local model (SmolLM2-135M) left to itself invents: "a drama directed by a famous director",
"a climbing rack and a rope". Here it still chooses every word, but only among the words of the
item's fact sheet (title, category, attributes, why it was picked) and a short list of plain connecting words (``CONNECTING_WORDS``). At each step the logits of every
token that would not continue or start an allowed word are masked out, so the output cannot hold
a name, number or claim that the facts do not: lexically constrained decoding, in the spirit of
grammar-constrained generation, with the allowed words held in a token trie.

Usage::

    words = AllowedWords(tokenizer, *fact_words(item))
    text = write_sentence(model, tokenizer, prompt_ids, words, deadline=time.monotonic() + 5)

The caller forces the sentence's start (the item's title in quotes, part of ``prompt_ids``); this
module writes the rest, ending at ``.`` or ``!`` after ``min_words`` words, or when ``max_words``
words are written. Greedy, so the same facts give the same sentence. Django-free; needs torch.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from llmrec_django.copywriting.base import ItemFacts

# Plain English connecting words a recommendation sentence may use besides the facts: articles,
# prepositions, pronouns, a few verbs and mild adjectives. No numbers, names, prices, sales or
# urgency words: those come from the facts or not at all.
CONNECTING_WORDS = frozenset(
    """a an the and or but with without for you your yours it its it's this that these those of in
    on to from by at as is are was be been has have had can will would could should may might
    also too so very just really quite well more most much many some any all each every both
    because since like liked likes love loved loves enjoy enjoyed enjoys want wanted wants need
    needs make makes made keep keeps get gets give gives take takes go goes went fit fits fitted
    suit suits match matches pair pairs pairing work works go-to sits brings offers adds
    great good nice fine lovely perfect ideal solid classic favourite favorite handy easy simple
    comfortable comfy cosy cozy warm light sturdy smart fun fresh neat clever reliable practical
    pick picks choice choices option match next another other one same similar kind sort type
    people shoppers fans readers viewers those who what which when where if then than there here
    them they their we our us me my i every day days time times way ways thing things something
    new popular worth try trying look looking looks see seen find found choose chosen picked
    bought viewed tastes taste interest interests recommended because matched""".split()
)

_WORD = re.compile(r"\d+(?:[.,]\d+)+|[^\W_](?:[\w'’-]*[^\W_])?", re.UNICODE)  # "58.50" is one word
_QUOTED = re.compile(r'"([^"]{1,200})"')
MAX_WORD_CHARS = 40

_END = -1  # key of a trie node that completes a word


def words_in(text: str) -> list[str]:
    """The words of ``text`` (letters, digits, inner apostrophes and hyphens)."""
    return [w for w in _WORD.findall(text or "") if len(w) <= MAX_WORD_CHARS]


def fact_words(item: ItemFacts) -> tuple[list[str], list[str]]:
    """(words, quoted titles) a sentence about ``item`` may use: its title, category (with the
    singular of plural words: "boots" -> "boot"), attribute names and values (a number only with
    its name or its unit), and the explanation's own words. What the explanation quotes (another item's title, the shopper's phrase) may only be
    used whole and in quotes, so its words do not drift onto this item; the item's own title
    starts the sentence and is not quoted again. The description is left out (free text a seller,
    or an attacker, wrote, not a fact), and so are the shopper's own words: they are in the
    prompt, so the model can lean on the facts that match them, but a word of theirs that no fact
    of this item holds ("science fiction" about a drama) would be a claim nothing backs."""
    category = words_in(item.category)
    quoted = [m.group(1) for m in _QUOTED.finditer(item.explanation) if m.group(1).strip()]
    words = words_in(item.title) + category + [singular(w) for w in category]
    words += words_in(_QUOTED.sub(" ", item.explanation))
    for key, value in item.attributes:
        words += words_in(key)
        if any(c.isdigit() for c in value):
            # A number only with what it measures ("price of 21.99", "year 2019", "28 cm"), never
            # alone, where it could attach to anything ("21.99 lumens").
            name = " ".join(words_in(key))
            words += [f"{name} {value}", f"{name} of {value}"]
            if not value.replace(".", "", 1).replace(",", "").isdigit():
                words.append(value)
        else:
            words += words_in(value)
    return words, quoted


def singular(word: str) -> str:
    """A plain English singular for a category word ("boots" -> "boot", "accessories" ->
    "accessory"); the word itself when it does not look plural."""
    lower = word.lower()
    if len(word) > 4 and lower.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and lower.endswith("s") and not lower.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


class AllowedWords:
    """A token trie over the allowed words, each as the tokenizer spells it after a space (the
    lowercase form too for connecting words), plus whole quoted titles (`` "Yoga Mat"``)."""

    def __init__(self, tokenizer: Any, words: Iterable[str], quoted: Iterable[str] = ()):
        self.root: dict[int, Any] = {}
        spellings = set(CONNECTING_WORDS)
        for word in words:
            spellings.add(word)
            if word.lower() in CONNECTING_WORDS:
                spellings.add(word.lower())
        for spelling in spellings:
            self._add(tokenizer.encode(" " + spelling, add_special_tokens=False))
        for title in quoted:
            self._add(tokenizer.encode(f' "{" ".join(title.split())}"', add_special_tokens=False))

    def _add(self, ids: list[int]) -> None:
        if not ids:
            return
        node = self.root
        for token in ids:
            node = node.setdefault(token, {})
        node[_END] = True


def _token_sets(tokenizer: Any) -> tuple[list[int], list[int]]:
    """(comma tokens, sentence-end tokens) of this tokenizer's vocabulary."""
    commas, ends = set(), set()
    for text in (",", " ,"):
        ids = tokenizer.encode(text, add_special_tokens=False)
        if len(ids) == 1:
            commas.add(ids[0])
    for text in (".", "!", " .", " !"):
        ids = tokenizer.encode(text, add_special_tokens=False)
        if len(ids) == 1:
            ends.add(ids[0])
    return sorted(commas), sorted(ends)


def write_sentence(
    model: Any,
    tokenizer: Any,
    prompt_ids: Any,
    allowed: AllowedWords,
    *,
    min_words: int = 4,
    max_words: int = 22,
    deadline: float | None = None,
    repeat_penalty: float = 4.0,
) -> Sentence:
    """Continue ``prompt_ids`` (a 1 x n tensor) greedily with allowed words, commas and one final
    ``.``/``!``; returns the continuation's text and its perplexity under the model's own
    unconstrained distribution (how far the constraint pushed it: low for a sentence the model
    would have written anyway, near the vocabulary's size for word salad). A word already written is penalised
    (``repeat_penalty`` on its tokens' logits), the same token twice in a row is never chosen.
    Raises ``TimeoutError`` past ``deadline`` (``time.monotonic()``)."""
    import torch

    commas, ends = _token_sets(tokenizer)
    if not ends:
        raise ValueError("the tokenizer has no single-token sentence end ('.' or '!')")
    root = allowed.root
    starts = list(root)
    node: dict[int, Any] = root
    written: list[int] = []
    seen: dict[int, int] = {}
    words = 0
    log_likelihood = 0.0
    cache_name = _cache_argument(model)
    cache = None
    ids = prompt_ids
    device = prompt_ids.device
    with torch.inference_mode():
        for _ in range(max_words * 6):
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError("the sentence ran past its time budget")
            output = model(input_ids=ids, use_cache=True, **{cache_name: cache})
            cache = output[cache_name]
            logits = output.logits[0, -1].float()
            at_word_end = node is root or _END in node
            choices = [t for t in node if t != _END]
            if at_word_end and node is not root:
                choices += starts
            if node is root and written and written[-1] not in commas:
                choices += commas  # after a word, not at the start nor twice
            elif _END in node:
                choices += commas
            if at_word_end and words >= min_words:
                choices += ends
            if words >= max_words and at_word_end:
                choices = list(ends)
            if not choices:
                break
            index = torch.tensor(sorted(set(choices)), device=device)
            scores = logits[index].clone()
            for position, token in enumerate(index.tolist()):
                if token in seen:
                    scores[position] -= repeat_penalty * seen[token]
                if written and token == written[-1]:
                    scores[position] = float("-inf")
            token = int(index[int(torch.argmax(scores))])
            log_likelihood += float(torch.log_softmax(logits, dim=-1)[token])
            written.append(token)
            inside_word = node is not root and token in node
            if token in ends and not inside_word:  # the "." of "58.99" continues the word
                break
            seen[token] = seen.get(token, 0) + 1
            if token in node and token != _END:
                if node is root:
                    words += 1
                node = node[token]
            elif token in root:
                words += 1
                node = root[token]
            else:  # a comma
                node = root
            ids = torch.tensor([[token]], device=device)
    chosen = len(written)
    if written and written[-1] not in ends:
        written.append(ends[0])
    perplexity = math.exp(-log_likelihood / chosen) if chosen else float("inf")
    return Sentence(tidy_ending(tokenizer.decode(written, skip_special_tokens=True)), perplexity)


# Words a sentence cannot end on: a sentence cut at max_words drops them ("..., but." -> ".").
_DANGLING = frozenset(
    """a an the and or but with without for of in on to from by at as is are was be has have had
    can will would could should may might been being that which who what when where if than so very more most
    it its it's your their our my this these those makes make gives give takes offers adds""".split()
)


def tidy_ending(text: str) -> str:
    """``text`` without dangling words or commas before its final stop, and no space before it."""
    lead = text[: len(text) - len(text.lstrip())]
    stop = text.rstrip()[-1:] if text.rstrip()[-1:] in (".", "!") else "."
    words = text.strip().rstrip(".!").split()
    while len(words) > 1 and (words[-1].lower().strip(",") in _DANGLING or not words[-1].strip(",")):
        words.pop()
    return lead + " ".join(words).rstrip(",") + stop


@dataclass(frozen=True)
class Sentence:
    text: str
    perplexity: float


def _cache_argument(model: Any) -> str:
    """The name under which this transformers version passes the key/value cache: ``cache`` (5.x)
    or ``past_key_values`` (earlier)."""
    import inspect

    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
