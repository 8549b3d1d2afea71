"""The item listings of the demo catalogue (see ``sample_catalogue.py``, which builds the rest).

``ItemBuilder`` writes the four departments' items from the phrase banks in ``sample_data/``
(loaded by ``sample_catalogue_data``) and keeps, per item id, the facts the tables don't show
in ``meta``. The module does not import Django.
"""

from __future__ import annotations

import random
import re
from typing import Any

from example_site.shop import sample_catalogue_data as data

_ID_PREFIX = {"films": "film", "books": "book", "outdoor": "gear", "home": "home"}
_SMALL_WORDS = {"and", "with", "for", "of", "the", "a"}


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


class ItemBuilder:
    """The items of one generation run. ``self.meta`` keeps, per item id, facts the tables don't
    show (department, genre, gear type, brand, tier ...) that the event simulation needs."""

    def __init__(self, seed: int):
        self.seed = seed
        self.meta: dict[str, dict[str, Any]] = {}

    def rng(self, part: str) -> random.Random:
        """An independent stream per part, so that one part's changes don't reshuffle the others."""
        return random.Random(f"llmrec-sample:{self.seed}:{part}")

    def items(self) -> list[dict]:
        """Every department's items, in ``DEPARTMENTS`` order."""
        return self._films() + self._books() + self._gear() + self._home()

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
