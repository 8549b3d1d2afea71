"""A deterministic sample catalogue for the example site's demo.

``generate_sample_catalogue(seed)`` builds about 320 items in four departments (films, books,
outdoor & running gear, home & kitchen; about a tenth of them listed in Chinese), 80 users with
personas, a knowledge graph and about 8,000 behaviour events drawn from each persona's tastes.
Everything is composed from the hand-written phrase banks in ``sample_catalogue_data`` with a
seeded ``random.Random``; timestamps are counted back from a fixed reference date, so the same
seed always gives the same catalogue. The module does not import Django.

``write_sample_catalogue(directory, seed)`` writes the files the importer reads: ``items.jsonl``,
``users.jsonl``, ``relations.jsonl`` (JSON Lines) and ``events.csv`` (CSV with a header).

Run ``python -m example_site.shop.sample_catalogue OUT_DIR [--seed N]`` to write them by hand.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from example_site.shop import sample_catalogue_data as data

__all__ = [
    "DEPARTMENTS",
    "EVENT_COLUMNS",
    "EVENT_TYPES",
    "ITEM_COLUMNS",
    "REFERENCE_DATE",
    "RELATION_COLUMNS",
    "USER_COLUMNS",
    "WINDOW_DAYS",
    "SampleCatalogue",
    "generate_sample_catalogue",
    "sample_personas",
    "write_sample_catalogue",
]

#: Events fall in the ``WINDOW_DAYS`` before this instant (never "now", so output is reproducible).
REFERENCE_DATE = datetime(2026, 11, 1, tzinfo=UTC)
WINDOW_DAYS = 120

ITEM_COLUMNS = ["external_id", "title", "description", "category", "attributes", "image_url"]
USER_COLUMNS = ["external_id", "profile"]
RELATION_COLUMNS = ["head_type", "head_id", "relation", "tail_type", "tail_id", "weight"]
EVENT_COLUMNS = ["event_id", "user_id", "item_id", "event_type", "value", "timestamp", "device", "location"]
EVENT_TYPES = ["view", "click", "add_to_cart", "purchase", "rating", "like", "dislike", "share"]
#: Department of an item, as found in ``attributes["department"]``.
DEPARTMENTS = ["films", "books", "outdoor", "home"]

_ID_PREFIX = {"films": "film", "books": "book", "outdoor": "gear", "home": "home"}
_NOISE = 0.10  # share of engagements on a random item, whatever the persona
_SMALL_WORDS = {"and", "with", "for", "of", "the", "a"}


@dataclass
class SampleCatalogue:
    """The four tables the importer reads, as lists of plain dicts (see the ``*_COLUMNS``)."""

    items: list[dict[str, Any]]
    users: list[dict[str, Any]]
    relations: list[dict[str, Any]]
    events: list[dict[str, Any]]

    def counts(self) -> dict[str, int]:
        return {
            "items": len(self.items),
            "users": len(self.users),
            "relations": len(self.relations),
            "events": len(self.events),
        }


def generate_sample_catalogue(seed: int = 7) -> SampleCatalogue:
    """Build the demo catalogue; the same ``seed`` always gives the same result."""
    return _Builder(seed).build()[0]


def sample_personas(seed: int = 7) -> dict[str, dict[str, Any]]:
    """The persona behind each user of ``generate_sample_catalogue(seed)``, by user external id.

    Each value has the persona's ``key``, ``lang``, ``departments`` (department -> share of
    the user's attention), ``genres``, ``moods``, ``types``, ``favourites``, ``price_tier`` and
    ``cold`` (true for users who have a profile but no events). Handy for tests and for
    explaining the demo; the importer doesn't need it.
    """
    return _Builder(seed).build()[1]


def write_sample_catalogue(directory: str | Path, seed: int = 7) -> dict[str, Path]:
    """Write items.jsonl, users.jsonl, relations.jsonl and events.csv into ``directory``.

    Returns the paths by table name (``items``, ``users``, ``relations``, ``events``).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    catalogue = generate_sample_catalogue(seed)
    paths = {
        "items": directory / "items.jsonl",
        "users": directory / "users.jsonl",
        "relations": directory / "relations.jsonl",
        "events": directory / "events.csv",
    }
    for name, columns in (("items", ITEM_COLUMNS), ("users", USER_COLUMNS), ("relations", RELATION_COLUMNS)):
        with paths[name].open("w", encoding="utf-8") as fh:
            for row in getattr(catalogue, name):
                fh.write(json.dumps({c: row[c] for c in columns}, ensure_ascii=False) + "\n")
    with paths["events"].open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=EVENT_COLUMNS)
        writer.writeheader()
        writer.writerows(catalogue.events)
    return paths


# ---------------------------------------------------------------------------------------------
# Text helpers
# ---------------------------------------------------------------------------------------------


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _title_case(text: str) -> str:
    """Title-case a product name, leaving small words and units ("26 cm") alone."""
    words = text.split(" ")
    out = []
    for i, word in enumerate(words):
        keep = i and (word in _SMALL_WORDS or words[i - 1][:1].isdigit())
        out.append(word if keep else _cap(word))
    return " ".join(out)


def _money(price: float) -> str:
    return f"{price:.2f}"


def _price(rng: random.Random, low: float, high: float) -> float:
    """A shop-looking price (x.99) between low and high."""
    return round(max(round(rng.uniform(low, high)), 2) - 0.01, 2)


def _fmt_value(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and abs(value) >= 10_000:
        return f"{value:,}"
    return value


def _tier_sentence(rng: random.Random, tier: str, tier_word: str) -> str:
    """A price sentence for the tier that doesn't repeat the tier word the opener used."""
    word = tier_word if tier_word == "mid-range" else tier_word.split("-")[0]
    options = [p for p in data.GEAR_TIER_PHRASES[tier] if word not in p.lower()]
    return rng.choice(options or data.GEAR_TIER_PHRASES[tier])


def _shift_tier(rng: random.Random, tier: str) -> str:
    order = ["budget", "mid-range", "premium"]
    if rng.random() < 0.2:
        i = order.index(tier) + rng.choice([-1, 1])
        return order[min(max(i, 0), 2)]
    return tier


# ---------------------------------------------------------------------------------------------
# The builder
# ---------------------------------------------------------------------------------------------


class _Builder:
    """One generation run. ``self.meta`` keeps, per item id, facts the tables don't show
    (department, genre, gear type, brand, tier ...) that the event simulation needs."""

    def __init__(self, seed: int):
        self.seed = seed
        self.meta: dict[str, dict[str, Any]] = {}

    def rng(self, part: str) -> random.Random:
        """An independent stream per part, so that one part's changes don't reshuffle the others."""
        return random.Random(f"llmrec-sample:{self.seed}:{part}")

    def build(self) -> tuple[SampleCatalogue, dict[str, dict[str, Any]]]:
        items = self._films() + self._books() + self._gear() + self._home()
        relations = self._relations(items)
        users, personas = self._users()
        relations += self._follows(personas)
        events = self._events(personas)
        return SampleCatalogue(items=items, users=users, relations=relations, events=events), personas

    # -- items ------------------------------------------------------------------------------

    def _finish(self, dept: str, rows: list[tuple[dict, dict]], rng: random.Random) -> list[dict]:
        """Shuffle a department (so genres and languages mix) and give stable ids."""
        rng.shuffle(rows)
        out = []
        for n, (item, meta) in enumerate(rows, start=1):
            item_id = f"{_ID_PREFIX[dept]}-{n:03d}"
            self.meta[item_id] = {**meta, "id": item_id, "dept": dept, "title": item["title"]}
            out.append({"external_id": item_id, **item, "image_url": ""})
        return out

    @staticmethod
    def _pick_person(rng: random.Random, people: list[tuple[str, list[str]]], genre: str, used: dict) -> str:
        candidates = [name for name, genres in people if genre in genres] or [name for name, _ in people]
        low = min(used.get(c, 0) for c in candidates)
        name = rng.choice([c for c in candidates if used.get(c, 0) == low])
        used[name] = used.get(name, 0) + 1
        return name

    @staticmethod
    def _who(rng: random.Random, spec: dict, plot: str) -> str:
        if re.search(r"\b(her|she|she'll)\b", plot):
            return rng.choice(spec.get("who_female", data.FEMALE_PROTAGONISTS))
        return rng.choice(spec.get("who", data.PROTAGONISTS))

    def _films(self) -> list[dict]:
        rng = self.rng("films")
        used: dict[str, int] = {}
        rows = []
        for genre, spec in data.FILM_GENRES.items():
            for title, moods, plot in spec["titles"]:
                mood_list = moods.split()
                attrs = self._film_attrs(rng, genre, spec, mood_list, data.DIRECTORS, used)
                if spec.get("subject_included"):
                    premise = rng.choice(data.FILM_SUBJECT_TEMPLATES).format(title=title, plot=plot)
                else:
                    template = rng.choice(data.FILM_PREMISE_TEMPLATES)
                    premise = template.format(title=title, who=self._who(rng, spec, plot), plot=plot)
                sentences = [_cap(premise), rng.choice(data.FILM_MOOD_PHRASES[attrs["mood"]]).format(g=spec["noun"])]
                extras = {
                    "flavour": rng.choice(spec["flavour"]),
                    "detail": rng.choice(data.FILM_DETAILS).format(**attrs),
                    "audience": rng.choice(spec["audience"]),
                }
                chosen = rng.sample(list(extras), rng.choice([0, 1, 1, 2]))
                sentences += [text for key, text in extras.items() if key in chosen]
                rows.append(self._film_row(title, " ".join(sentences), genre, mood_list, attrs))
        for title, genre, moods, premise in data.ZH_FILMS:
            spec = data.FILM_GENRES[genre]
            mood_list = moods.split()
            attrs = self._film_attrs(rng, genre, spec, mood_list, data.ZH_DIRECTORS, used, language="zh")
            sentences = [premise, rng.choice(data.ZH_FILM_MOOD_PHRASES[attrs["mood"]]).format(g=spec["zh_noun"])]
            if rng.random() < 0.7:
                sentences.append(rng.choice(data.ZH_FILM_DETAILS).format(**attrs))
            rows.append(self._film_row(title, "".join(sentences), genre, mood_list, attrs))
        return self._finish("films", rows, rng)

    def _film_attrs(self, rng, genre, spec, moods, directors, used, language="en") -> dict:
        year = max(1978, 2026 - int(abs(rng.gauss(0, 9))))
        if year >= 2024:
            price = rng.choice([4.99, 5.99])
        elif year >= 2015:
            price = rng.choice([3.99, 4.49])
        else:
            price = rng.choice([2.99, 3.49])
        return {
            "department": "films",
            "genre": genre,
            "mood": rng.choice(moods),
            "year": year,
            "director": self._pick_person(rng, directors, genre, used),
            "runtime_minutes": rng.randint(*spec["runtime"]),
            "age_rating": rng.choice(spec["age_ratings"]),
            "language": language,
            "price": price,
        }

    @staticmethod
    def _film_row(title, description, genre, moods, attrs) -> tuple[dict, dict]:
        item = {"title": title, "description": description, "category": "films", "attributes": attrs}
        meta = {
            "genre": genre,
            "mood": attrs["mood"],
            "moods": moods,
            "type": None,
            "category": "films",
            "brand": None,
            "person": attrs["director"],
            "tier": None,
            "lang": attrs["language"],
            "price": attrs["price"],
        }
        return item, meta

    def _books(self) -> list[dict]:
        rng = self.rng("books")
        used: dict[str, int] = {}
        rows = []
        for genre, spec in data.BOOK_GENRES.items():
            for title, moods, plot in spec["titles"]:
                mood_list = moods.split()
                attrs = self._book_attrs(rng, genre, spec, mood_list, data.AUTHORS, used)
                author = attrs["author"]
                if spec["fiction"]:
                    template = rng.choice(data.BOOK_FICTION_TEMPLATES)
                    who = self._who(rng, spec, plot)
                    premise = template.format(title=title, who=who, plot=plot, author=author, g=spec["noun"])
                else:
                    template = rng.choice(data.BOOK_NONFICTION_TEMPLATES)
                    premise = template.format(title=title, plot=plot, author=author, g=spec["noun"])
                sentences = [_cap(premise)]
                extras = {
                    "flavour": rng.choice(spec["flavour"]),
                    "detail": rng.choice(data.BOOK_DETAILS).format(**attrs),
                    "audience": rng.choice(spec["audience"]),
                }
                if attrs.get("mood"):
                    sentences.append(rng.choice(data.BOOK_MOOD_PHRASES[attrs["mood"]]).format(g=spec["noun"]))
                else:
                    sentences.append(extras.pop("flavour"))
                chosen = rng.sample(list(extras), rng.choice([0, 1, 1, 2]))
                sentences += [text for key, text in extras.items() if key in chosen]
                rows.append(self._book_row(title, " ".join(sentences), genre, mood_list, attrs))
        for title, genre, moods, premise in data.ZH_BOOKS:
            spec = data.BOOK_GENRES[genre]
            mood_list = moods.split()
            attrs = self._book_attrs(rng, genre, spec, mood_list, data.ZH_AUTHORS, used, language="zh")
            sentences = [premise, data.ZH_BOOK_MOOD_PHRASES[attrs["mood"]]]
            if rng.random() < 0.7:
                sentences.append(rng.choice(data.ZH_BOOK_DETAILS).format(**attrs))
            rows.append(self._book_row(title, "".join(sentences), genre, mood_list, attrs))
        return self._finish("books", rows, rng)

    def _book_attrs(self, rng, genre, spec, moods, authors, used, language="en") -> dict:
        pages = rng.randint(*spec["pages"])
        fmt = rng.choice(data.BOOK_FORMATS)
        price = {
            "paperback": _price(rng, 9, 14),
            "hardback": _price(rng, 17, 29),
            "ebook": _price(rng, 5, 9),
        }[fmt]
        attrs = {
            "department": "books",
            "genre": genre,
            "author": self._pick_person(rng, authors, genre, used),
            "year": rng.randint(1996, 2026),
            "pages": pages,
            "format": fmt,
            "language": language,
            "price": price,
        }
        if moods:
            attrs["mood"] = rng.choice(moods)
        attrs["length"] = next(word for limit, word in data.BOOK_LENGTH_WORDS if pages < limit)
        return attrs

    @staticmethod
    def _book_row(title, description, genre, moods, attrs) -> tuple[dict, dict]:
        attrs = {k: v for k, v in attrs.items() if k != "length"}
        item = {"title": title, "description": description, "category": "books", "attributes": attrs}
        meta = {
            "genre": genre,
            "mood": attrs.get("mood"),
            "moods": moods,
            "type": None,
            "category": "books",
            "brand": None,
            "person": attrs["author"],
            "tier": None,
            "lang": attrs["language"],
            "price": attrs["price"],
        }
        return item, meta

    def _gear(self) -> list[dict]:
        rng = self.rng("gear")
        rows = []
        titles: set[str] = set()
        models = list(data.GEAR_MODELS)
        rng.shuffle(models)
        model_i = 0
        for type_key, spec in data.GEAR_TYPES.items():
            brands = [b for b, (_, types) in data.GEAR_BRANDS.items() if type_key in types]
            rng.shuffle(brands)
            for i in range(spec["count"]):
                brand = brands[i % len(brands)]
                tier = _shift_tier(rng, data.GEAR_BRANDS[brand][0])
                attrs = self._gear_attrs(rng, type_key, spec, brand, tier)
                while True:
                    model = models[model_i % len(models)]
                    model_i += 1
                    suffix = rng.choice(data.GEAR_SUFFIXES)
                    pattern = spec.get("title_pattern", "{brand} {model} {title_noun}")
                    name = f"{model} {suffix}".strip() if "{model}" in pattern else model
                    title = pattern.format(**{**attrs, "model": name, "title_noun": spec["title_noun"]})
                    if title not in titles:
                        titles.add(title)
                        break
                description = self._gear_description(rng, spec, title, attrs)
                rows.append(self._gear_row(title, description, type_key, spec, attrs))
        for type_key, title, brand, tier, premise, overrides in data.ZH_GEAR:
            spec = data.GEAR_TYPES[type_key]
            attrs = self._gear_attrs(rng, type_key, spec, brand, tier, language="zh", overrides=overrides)
            sentences = [premise, data.ZH_TIER_PHRASES[tier].format(price=_money(attrs["price"]))]
            if rng.random() < 0.6:
                sentences.append(data.ZH_WEIGHT_PHRASE.format(**attrs))
            rows.append(self._gear_row(title, "".join(sentences), type_key, spec, attrs))
        return self._finish("outdoor", rows, rng)

    def _gear_attrs(self, rng, type_key, spec, brand, tier, language="en", overrides=None) -> dict:
        extra = {}
        for name, choices in spec.get("extra", {}).items():
            extra[name] = rng.choice(choices[tier] if isinstance(choices, dict) else choices)
        extra.update(overrides or {})
        low, high = spec["weight"]
        if spec.get("weight_by"):
            key = spec["weight_by"]
            scale = spec["extra"][key]
            position = sorted(set(scale)).index(extra[key]) / max(len(set(scale)) - 1, 1)
            fraction = min(max(position * 0.85 + rng.uniform(0, 0.15), 0), 1)
        else:
            fraction = rng.random()
        fraction = min(max(fraction + {"premium": -0.12, "mid-range": 0.0, "budget": 0.12}[tier], 0.0), 1.0)
        weight = int(round((low + (high - low) * fraction) / 5) * 5)
        price = _price(rng, *spec["price"][tier])
        return {
            "department": "outdoor",
            "gear_type": type_key,
            "brand": brand,
            "price": price,
            "price_tier": tier,
            "color": rng.choice(data.GEAR_COLORS),
            "weight_grams": weight,
            "terrain": spec["terrain"],
            "language": language,
            **extra,
            "_lightness": data.LIGHTNESS[min(int(fraction * 3), 2)],
        }

    @staticmethod
    def _gear_description(rng, spec, title, attrs) -> str:
        tier = attrs["price_tier"]
        tier_word = rng.choice(data.TIER_WORDS[tier])
        ctx = {k: _fmt_value(v) for k, v in attrs.items()}
        ctx.update({k.capitalize(): _cap(v) for k, v in attrs.items() if isinstance(v, str)})
        if "terrain_phrases_by" in spec:
            volume = attrs["volume_litres"]
            phrases = next(p for limit, p in spec["terrain_phrases_by"] if volume <= limit)
        else:
            phrases = spec["terrain_phrases"]
        a_tier = f"{_article(tier_word)} {tier_word}"
        ctx.update(title=title, a_tier=a_tier, A_tier=_cap(a_tier), terrain_phrase=rng.choice(phrases))
        ctx.update(price=_money(attrs["price"]), plural=spec["plural"], lightness=attrs["_lightness"])
        flags = [text for name, text in spec.get("flag_features", {}).items() if attrs.get(name)]
        feature = flags[0] if flags and rng.random() < 0.7 else rng.choice(spec["features"])
        sentences = [
            rng.choice(spec["openers"]).format(**ctx),
            feature.format(**ctx),
            _tier_sentence(rng, tier, tier_word).format(**ctx),
        ]
        if rng.random() < 0.6:
            extra = rng.choice(data.WEIGHT_PHRASES) if rng.random() < 0.5 else rng.choice(spec["audience"])
            sentences.append(extra.format(**ctx))
        return " ".join(_cap(s) for s in sentences)

    @staticmethod
    def _gear_row(title, description, type_key, spec, attrs) -> tuple[dict, dict]:
        attrs = {k: v for k, v in attrs.items() if not k.startswith("_")}
        item = {"title": title, "description": description, "category": spec["category"], "attributes": attrs}
        meta = {
            "genre": None,
            "mood": None,
            "moods": [],
            "type": type_key,
            "category": spec["category"],
            "brand": attrs["brand"],
            "person": None,
            "tier": attrs["price_tier"],
            "lang": attrs["language"],
            "price": attrs["price"],
            "noun": spec["noun"],
        }
        return item, meta

    def _home(self) -> list[dict]:
        rng = self.rng("home")
        rows = []
        titles: set[str] = set()
        colors = ["cream", "charcoal", "sage green", "terracotta", "natural", "midnight blue", "speckled white"]
        for category, count in data.HOME_COUNTS.items():
            products = list(data.HOME_PRODUCTS[category])
            rng.shuffle(products)
            brands = [b for b, (_, cats) in data.HOME_BRANDS.items() if category in cats and b != "Qinghe"]
            rng.shuffle(brands)
            for i in range(count):
                noun, materials, variants, uses, features = products[i % len(products)]
                brand = brands[i % len(brands)]
                tier = _shift_tier(rng, data.HOME_BRANDS[brand][0])
                material = rng.choice(materials)
                noun_full = noun if material.split()[-1] in noun else f"{material} {noun}"
                while True:
                    variant = rng.choice(variants)
                    line = rng.choice(data.HOME_LINES)
                    if variant.startswith("set of"):
                        title = f"{brand} {line} {_title_case(noun_full)} ({_cap(variant)})"
                    else:
                        title = f"{brand} {line} {_title_case(variant)} {_title_case(noun_full)}"
                    if title not in titles:
                        titles.add(title)
                        break
                attrs = self._home_attrs(rng, noun, brand, tier, material, variant, colors)
                use1, use2 = rng.sample(uses, 2)
                tier_word = rng.choice(data.TIER_WORDS[tier])
                a_tier = f"{_article(tier_word)} {tier_word}"
                ctx = {
                    "title": title,
                    "noun": noun,
                    "noun_full": noun_full,
                    "material": material,
                    "use1": use1,
                    "use2": use2,
                    "a_tier": a_tier,
                    "A_tier": _cap(a_tier),
                    "price": _money(attrs["price"]),
                    "plural": data.HOME_PLURALS[category],
                }
                opener = rng.choice(data.HOME_OPENERS).replace("{material} {noun}", "{noun_full}")
                material_fits = category != "knives" or material == "Damascus steel"
                use_feature = rng.random() < 0.6 or not material_fits
                feature = rng.choice(features) if use_feature else data.MATERIAL_PHRASES[material]
                price_sentence = _tier_sentence(rng, tier, tier_word).format(**ctx)
                sentences = [opener.format(**ctx), feature, price_sentence]
                if rng.random() < 0.45:
                    sentences.append(rng.choice(data.HOME_GIFT_PHRASES[category]))
                description = " ".join(_cap(s) for s in sentences)
                rows.append(self._home_row(title, description, category, noun, attrs))
        for category, title, brand, material, tier, premise in data.ZH_HOME:
            attrs = self._home_attrs(rng, title, brand, tier, material, "", colors, language="zh")
            sentences = [premise, data.ZH_TIER_PHRASES[tier].format(price=_money(attrs["price"]))]
            if category in ("cookware", "knives", "tea sets") or rng.random() < 0.5:
                sentences.append(data.ZH_GIFT_PHRASE)
            rows.append(self._home_row(title, "".join(sentences), category, category, attrs))
        return self._finish("home", rows, rng)

    @staticmethod
    def _home_attrs(rng, product, brand, tier, material, variant, colors, language="en") -> dict:
        low, high = data.HOME_TIER_FACTORS[tier]
        base = data.HOME_BASE_PRICES[product]
        attrs = {
            "department": "home",
            "brand": brand,
            "price": _price(rng, base * low, base * high),
            "price_tier": tier,
            "material": material,
            "color": rng.choice(colors),
            "language": language,
        }
        if variant:
            attrs["size"] = variant
        return attrs

    @staticmethod
    def _home_row(title, description, category, noun, attrs) -> tuple[dict, dict]:
        item = {"title": title, "description": description, "category": category, "attributes": attrs}
        meta = {
            "genre": None,
            "mood": None,
            "moods": [],
            "type": category,
            "category": category,
            "brand": attrs["brand"],
            "person": None,
            "tier": attrs["price_tier"],
            "lang": attrs["language"],
            "price": attrs["price"],
            "noun": noun,
        }
        return item, meta

    # -- knowledge graph ----------------------------------------------------------------------

    def _relations(self, items: list[dict]) -> list[dict]:
        rng = self.rng("relations")
        edges: dict[tuple, float] = {}

        def add(head_type, head_id, relation, tail_type, tail_id, weight=1.0):
            key = (head_type, head_id, relation, tail_type, tail_id)
            if key not in edges and not (head_type == tail_type and head_id == tail_id):
                edges[key] = round(weight, 2)

        for item in items:
            m = self.meta[item["external_id"]]
            iid = m["id"]
            add("item", iid, "in_category", "category", m["category"])
            if m["genre"]:
                add("item", iid, "has_genre", "genre", m["genre"])
            for mood in m["moods"]:
                add("item", iid, "has_mood", "mood", mood, 1.0 if mood == m["mood"] else 0.7)
            if m["dept"] == "films":
                add("item", iid, "directed_by", "person", m["person"])
            elif m["dept"] == "books":
                add("item", iid, "written_by", "person", m["person"])
            else:
                add("item", iid, "has_brand", "brand", m["brand"])

        # similar_to: same department and genre (or gear type / home category), closest first.
        metas = [self.meta[i["external_id"]] for i in items]
        for m in metas:
            if rng.random() > 0.65:
                continue
            group = "genre" if m["dept"] in ("films", "books") else "type"
            peers = [o for o in metas if o["id"] != m["id"] and o["dept"] == m["dept"] and o[group] == m[group]]
            if not peers:
                continue

            def closeness(o, m=m):
                shared = len(set(o["moods"]) & set(m["moods"])) + (o["brand"] == m["brand"] and o["brand"] is not None)
                return shared + (o["tier"] == m["tier"] and o["tier"] is not None) + (o["lang"] == m["lang"]) * 0.5

            rng.shuffle(peers)
            peers.sort(key=closeness, reverse=True)
            for o in peers[: rng.choice([1, 1, 2, 3])]:
                add("item", m["id"], "similar_to", "item", o["id"], min(1.0, 0.5 + 0.15 * closeness(o)))

        # pairs_with: obvious companions, across categories and departments.
        by_title = {m["title"]: m for m in metas}

        def resolve(ref: str) -> list[dict]:
            if ref in by_title:
                return [by_title[ref]]
            if ":" in ref:
                category, noun = ref.split(":", 1)
                return [m for m in metas if m["category"] == category and m.get("noun") == noun]
            return [m for m in metas if m["type"] == ref]

        for left, right in data.TITLE_PAIRS:
            for head in resolve(left):
                tails = resolve(right)
                rng.shuffle(tails)
                for tail in tails[:2]:
                    add("item", head["id"], "pairs_with", "item", tail["id"], rng.uniform(0.8, 1.0))
        for left, right in data.TYPE_PAIRS:
            tails = [m for m in metas if m["type"] == right]
            for head in (m for m in metas if m["type"] == left):
                if rng.random() < 0.4:
                    continue
                rng.shuffle(tails)
                tails.sort(key=lambda t, h=head: (t["brand"] == h["brand"]) + (t["tier"] == h["tier"]), reverse=True)
                add("item", head["id"], "pairs_with", "item", tails[0]["id"], rng.uniform(0.8, 1.0))

        self.pairs: dict[str, list[str]] = {}
        for (head_type, head_id, relation, _tail_type, tail_id), _w in edges.items():
            if relation == "pairs_with" and head_type == "item":
                self.pairs.setdefault(head_id, []).append(tail_id)
                self.pairs.setdefault(tail_id, []).append(head_id)
        return [dict(zip(RELATION_COLUMNS, (*key, weight), strict=True)) for key, weight in edges.items()]

    # -- users --------------------------------------------------------------------------------

    def _users(self) -> tuple[list[dict], dict[str, dict]]:
        rng = self.rng("users")
        slots = []
        for persona in data.PERSONAS:
            sep = "" if persona["lang"] == "zh" else " "
            combos = list(persona["profiles"]) + [
                f"{p}{sep}{e}" for p in persona["profiles"] for e in persona["extras"]
            ]
            rng.shuffle(combos)  # never the same text twice within a persona
            cold_left = 1 if persona["key"] in data.COLD_PERSONAS else 0
            for n in range(persona["count"]):
                cold = cold_left > 0 and n == persona["count"] - 1
                slots.append((persona, combos[n], cold))
        rng.shuffle(slots)
        users, personas = [], {}
        for n, (persona, profile, cold) in enumerate(slots, start=1):
            uid = f"user-{n:03d}"
            users.append({"external_id": uid, "profile": profile})
            favourites = rng.sample(persona["favourites"], min(len(persona["favourites"]), rng.randint(1, 2)))
            personas[uid] = {
                "key": persona["key"],
                "lang": persona["lang"],
                "departments": dict(persona["departments"]),
                "genres": list(persona["genres"]),
                "moods": list(persona["moods"]),
                "types": list(persona["types"]),
                "favourites": favourites,
                "price_tier": persona["price_tier"],
                "cold": cold,
            }
        return users, personas

    def _follows(self, personas: dict[str, dict]) -> list[dict]:
        rng = self.rng("follows")
        brands = set(data.GEAR_BRANDS) | set(data.HOME_BRANDS)
        rows = []
        for uid, persona in personas.items():
            if not persona["cold"] and rng.random() > 0.55:
                continue
            for name in persona["favourites"]:
                tail_type = "brand" if name in brands else "person"
                rows.append(dict(zip(RELATION_COLUMNS, ("user", uid, "follows", tail_type, name, 1.0), strict=True)))
        return rows

    # -- events -------------------------------------------------------------------------------

    def _affinity(self, persona: dict, m: dict) -> float:
        """How well an item fits a persona, before popularity and personal noise."""
        score = 0.0
        if m["genre"]:
            score += 2.5 if m["genre"] in persona["genres"] else -1.0
            if persona["moods"]:
                score += 1.2 if set(m["moods"]) & set(persona["moods"]) else -0.3
        if m["type"]:
            score += 2.5 if m["type"] in persona["types"] else -0.8
        if m["brand"] in persona["favourites"] or m["person"] in persona["favourites"]:
            score += 1.2
        if persona["price_tier"] and m["tier"]:
            if m["tier"] == persona["price_tier"]:
                score += 1.2
            elif {m["tier"], persona["price_tier"]} == {"budget", "premium"}:
                score -= 1.5
        if persona["lang"] == "zh":
            score += 2.0 if m["lang"] == "zh" else 0.0
        elif m["lang"] == "zh":
            score -= 1.5
        return score

    def _events(self, personas: dict[str, dict]) -> list[dict]:
        rng = self.rng("events")
        window_start = REFERENCE_DATE - timedelta(days=WINDOW_DAYS)
        ids = sorted(self.meta)
        popularity = {i: rng.gauss(0, 0.6) for i in ids}
        by_dept = {d: [i for i in ids if self.meta[i]["dept"] == d] for d in DEPARTMENTS}
        raw: list[tuple[datetime, str, int, dict]] = []

        for uid, persona in personas.items():
            if persona["cold"]:
                continue
            base = {i: self._affinity(persona, self.meta[i]) for i in ids}
            weights = {i: math.exp(base[i] + popularity[i] + rng.gauss(0, 0.5)) for i in ids}
            dept_names = list(persona["departments"])
            dept_weights = [persona["departments"][d] for d in dept_names]
            home_city = rng.choice(data.ZH_CITIES if persona["lang"] == "zh" else data.CITIES)
            device = rng.choices(data.DEVICES, data.DEVICE_WEIGHTS)[0]
            first_day = rng.uniform(0, 45)
            last_day = WINDOW_DAYS - rng.uniform(0.5, 12)
            remaining = rng.randint(22, 66)
            pending: list[tuple[datetime, str]] = []  # (due, item) follow-ups after a purchase
            seen: list[str] = []
            sessions = []
            while remaining > 0:
                size = min(remaining, rng.choice([1, 1, 2, 2, 3, 3, 4, 5]))
                remaining -= size
                day = int(rng.uniform(first_day, last_day))
                hour = rng.choices(range(24), data.HOUR_WEIGHTS)[0]
                start = window_start + timedelta(days=day, hours=hour, minutes=rng.randint(0, 59))
                sessions.append((start, size))
            sessions.sort()
            for start, size in sessions:
                s_device = device if rng.random() < 0.8 else rng.choice(data.DEVICES)
                s_city = home_city if rng.random() < 0.92 else rng.choice(data.CITIES + data.ZH_CITIES)
                dept = rng.choices(dept_names, dept_weights)[0]
                t = start
                for _ in range(size):
                    pending.sort()
                    if pending and pending[0][0] <= t:
                        item = pending.pop(0)[1]
                    elif seen and rng.random() < 0.12:
                        item = rng.choice(seen)
                    elif rng.random() < _NOISE:
                        item = rng.choice(ids)
                    else:
                        pool = by_dept[dept]
                        item = rng.choices(pool, [weights[i] for i in pool])[0]
                    level = "match" if base[item] >= 2.0 else "mismatch" if base[item] <= 0.0 else "partial"
                    bought = self._engagement(rng, raw, uid, item, level, t, s_device, s_city)
                    if level != "mismatch":
                        seen.append(item)
                    if bought and self.pairs.get(item) and rng.random() < 0.6:
                        due = bought + timedelta(hours=rng.uniform(2, 240))
                        pending.append((due, rng.choice(self.pairs[item])))
                    t += timedelta(seconds=rng.randint(60, 600))

        raw = [r for r in raw if window_start <= r[0] < REFERENCE_DATE]
        raw.sort(key=lambda r: (r[0], r[1], r[2]))
        events = []
        for n, (ts, _uid, _seq, row) in enumerate(raw, start=1):
            row = {**row, "event_id": f"demo-{n:06d}", "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%SZ")}
            events.append({column: row[column] for column in EVENT_COLUMNS})
        return events

    def _engagement(self, rng, raw, uid, item, level, t, device, city) -> datetime | None:
        """One look at an item and what follows from it; returns the purchase time, if any."""
        m = self.meta[item]
        media = m["dept"] in ("films", "books")

        def emit(event_type: str, when: datetime, value: float = 1.0) -> None:
            row = {
                "user_id": uid,
                "item_id": item,
                "event_type": event_type,
                "value": value,
                "device": device,
                "location": city,
            }
            raw.append((when, uid, len(raw), row))

        emit("view", t)
        if level == "mismatch":
            if rng.random() < 0.3:
                emit("dislike", t + timedelta(seconds=rng.randint(5, 90)))
            if rng.random() < 0.2:
                emit("click", t + timedelta(seconds=rng.randint(5, 120)))
            if media and rng.random() < 0.25:  # watched or read it anyway, and didn't like it
                emit("rating", t + timedelta(hours=rng.uniform(2, 72)), float(rng.choice([1, 1, 2, 2, 3])))
            return None
        if rng.random() < 0.2:
            emit("view", t + timedelta(hours=rng.uniform(1, 48)))
        p_click = 0.7 if level == "match" else 0.4
        if rng.random() >= p_click:
            return None
        clicked = t + timedelta(seconds=rng.randint(5, 180))
        emit("click", clicked)
        bought = None
        if rng.random() < (0.45 if level == "match" else 0.18):  # films: rentals go through the cart too
            carted = clicked + timedelta(minutes=rng.uniform(0.5, 15))
            emit("add_to_cart", carted)
            if rng.random() < 0.65:
                bought = carted + timedelta(minutes=rng.uniform(2, 90))
                emit("purchase", bought, m["price"])
        if media and (bought or rng.random() < 0.12) and rng.random() < 0.7:
            stars = [4, 5, 5, 5, 4, 3] if level == "match" else [2, 3, 3, 4, 4]
            emit("rating", (bought or clicked) + timedelta(hours=rng.uniform(2, 120)), float(rng.choice(stars)))
        if rng.random() < (0.2 if level == "match" else 0.05):
            emit("like", clicked + timedelta(minutes=rng.uniform(0.2, 30)))
        if level == "match" and rng.random() < 0.05:
            emit("share", clicked + timedelta(minutes=rng.uniform(0.5, 60)))
        return bought


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the demo catalogue files for the importer.")
    parser.add_argument("directory", help="folder to write items.jsonl, users.jsonl, relations.jsonl, events.csv")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    paths = write_sample_catalogue(args.directory, seed=args.seed)
    counts = generate_sample_catalogue(args.seed).counts()
    for name, path in paths.items():
        print(f"{counts[name]:>6} {name:<9} -> {path}")


if __name__ == "__main__":
    main()
