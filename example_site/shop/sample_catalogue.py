"""A deterministic sample catalogue for the example site's demo.

``generate_sample_catalogue(seed)`` builds about 320 items in four departments (films, books,
outdoor & running gear, home & kitchen; about a tenth of them listed in Chinese), 80 users with
personas, a knowledge graph and about 8,000 behaviour events drawn from each persona's tastes.
Everything is composed from hand-written phrase banks with a seeded ``random.Random``;
timestamps are counted back from a fixed reference date, so the same seed always gives the same
catalogue. The items are written by ``sample_catalogue_items``; this module adds the graph,
users and events. Neither imports Django.

The phrase banks are data: JSON files in ``sample_data/`` next to this module (one per
department, plus shared pieces, cross-department pairs and personas), read on import by
``sample_catalogue_data``, which exposes each bank as a constant (``data.FILM_GENRES`` ...). To
change the catalogue's wording, edit the JSON by hand; ``sample_data/README.md`` explains the
record layouts and conventions, and keys starting with ``_`` are comments.

``write_sample_catalogue(directory, seed)`` writes the files the importer reads: ``items.jsonl``,
``users.jsonl``, ``relations.jsonl`` (JSON Lines) and ``events.csv`` (CSV with a header).

Run ``python -m example_site.shop.sample_catalogue OUT_DIR [--seed N]`` to write them by hand.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from example_site.shop import sample_catalogue_data as data
from example_site.shop.sample_catalogue_items import ItemBuilder

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

_NOISE = 0.10  # share of engagements on a random item, whatever the persona


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


def write_sample_catalogue(directory: str | Path, seed: int = 7, *, ending: datetime | None = None) -> dict[str, Path]:
    """Write items.jsonl, users.jsonl, relations.jsonl and events.csv into ``directory``.

    With ``ending`` (the demo passes now), the events are moved in time to end there instead of
    at ``REFERENCE_DATE``, so that the shop looks alive on the day it runs ("popular this week"
    is this week). Returns the paths by table name (``items``, ``users``, ``relations``, ``events``).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    catalogue = generate_sample_catalogue(seed)
    if ending is not None:
        shift = ending.astimezone(UTC).replace(minute=0, second=0, microsecond=0) - REFERENCE_DATE
        for event in catalogue.events:
            moved = datetime.strptime(event["timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) + shift
            event["timestamp"] = moved.strftime("%Y-%m-%dT%H:%M:%SZ")
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
# The builder
# ---------------------------------------------------------------------------------------------


class _Builder(ItemBuilder):
    """One generation run: the items (``ItemBuilder``), then the graph, users and events."""

    def build(self) -> tuple[SampleCatalogue, dict[str, dict[str, Any]]]:
        items = self.items()
        relations = self._relations(items)
        users, personas = self._users()
        relations += self._follows(personas)
        events = self._events(personas)
        return SampleCatalogue(items=items, users=users, relations=relations, events=events), personas

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
