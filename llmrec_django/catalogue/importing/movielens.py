"""The MovieLens data sets (GroupLens) as rows for the import services.

Three layouts are recognised in a directory:

- ml-100k: ``u.data`` (tab-separated ``user item rating timestamp``), ``u.item`` (``|``-separated,
  Latin-1, 19 genre flags named by ``u.genre``), optional ``u.user``;
- ml-latest-small / ml-latest / ml-20m / ml-25m: ``movies.csv`` (movieId,title,genres with ``|``
  between genres), ``ratings.csv`` (userId,movieId,rating,timestamp), optional ``tags.csv``
  (userId,movieId,tag,timestamp); CRLF line ends and quoted titles with commas are fine;
- ml-1m / ml-10m: ``movies.dat``, ``ratings.dat``, optional ``users.dat`` and ``tags.dat``,
  fields separated by ``::``.

What becomes of them:

- each movie is an item: external_id = movie id, title as given, category "movie", attributes
  ``{"year": 1995}`` (from "(1995)" at the end of the title), and, where the set has tags, a
  description of the most used ones ("Tags: pixar, fun.");
- each genre is a knowledge-graph edge ``movie -has_genre-> genre entity`` (the item text lists
  it once, under "Related: genre: ...");
  "(no genres listed)" and ml-100k's "unknown" are not genres;
- each rating is an event: event_type "rating", value = the rating, event_id
  ``ml:<user>:<movie>:<timestamp>`` (so re-imports are idempotent), timestamp from Unix seconds;
- users come from the ratings; where the set describes them (``u.user``, ``users.dat``) their
  age, gender and occupation become the profile text.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from llmrec_django.catalogue.importing.loaders import (
    ProgressFactory,
    TenantRef,
    import_events,
    import_items,
    import_relations,
    import_users,
    open_progress,
)
from llmrec_django.catalogue.importing.readers import (
    ImportFileError,
    InvalidRecord,
    Row,
    check_columns,
    open_text,
    read_csv,
    read_delimited,
)
from llmrec_django.catalogue.importing.report import ImportReport
from llmrec_django.database.tenancy import resolve_tenant

ML_100K = "ml-100k"
ML_CSV = "ml-latest"  # ml-latest-small, ml-latest, ml-20m, ml-25m
ML_DAT = "ml-1m"  # ml-1m, ml-10m

MOVIE_CATEGORY = "movie"
GENRE_RELATION = "has_genre"
GENRE_ENTITY_TYPE = "genre"
RATING_EVENT = "rating"
NOT_GENRES = frozenset({"(no genres listed)", "unknown"})

# Tags shown in a movie's description: the most used ones carry the signal (popular films have
# hundreds of tags, mostly repeats), and the encoder truncates long texts anyway.
MAX_TAGS_PER_MOVIE = 20

_YEAR_AT_END = re.compile(r"\((\d{4})(?:[-–]\d{0,4})?\)\s*$")

# ml-1m users.dat codes (see its README).
ML1M_AGE_GROUPS = {
    "1": "under 18",
    "18": "18-24",
    "25": "25-34",
    "35": "35-44",
    "45": "45-49",
    "50": "50-55",
    "56": "56+",
}
ML1M_OCCUPATIONS = [
    "other",
    "academic/educator",
    "artist",
    "clerical/admin",
    "college/grad student",
    "customer service",
    "doctor/health care",
    "executive/managerial",
    "farmer",
    "homemaker",
    "K-12 student",
    "lawyer",
    "programmer",
    "retired",
    "sales/marketing",
    "scientist",
    "self-employed",
    "technician/engineer",
    "tradesman/craftsman",
    "unemployed",
    "writer",
]
GENDERS = {"M": "male", "F": "female"}


@dataclass(frozen=True)
class MovieLensFiles:
    """The files of one MovieLens directory; optional ones are None when absent."""

    layout: str
    movies: Path
    ratings: Path
    tags: Path | None = None
    users: Path | None = None
    genre_names: Path | None = None  # ml-100k's u.genre


@dataclass(frozen=True)
class Movie:
    line_no: int
    movie_id: str
    title: str
    genres: list[str]  # real genres only (see NOT_GENRES)
    year: int | None


def detect(directory: str | Path) -> MovieLensFiles:
    """Which MovieLens layout ``directory`` holds; ``ImportFileError`` when none."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ImportFileError(f"{directory}: not a directory.")

    def optional(name: str) -> Path | None:
        path = directory / name
        return path if path.is_file() else None

    if (directory / "u.data").is_file() and (directory / "u.item").is_file():
        return MovieLensFiles(
            ML_100K,
            directory / "u.item",
            directory / "u.data",
            users=optional("u.user"),
            genre_names=optional("u.genre"),
        )
    if (directory / "movies.csv").is_file() and (directory / "ratings.csv").is_file():
        return MovieLensFiles(ML_CSV, directory / "movies.csv", directory / "ratings.csv", tags=optional("tags.csv"))
    if (directory / "movies.dat").is_file() and (directory / "ratings.dat").is_file():
        return MovieLensFiles(
            ML_DAT,
            directory / "movies.dat",
            directory / "ratings.dat",
            tags=optional("tags.dat"),
            users=optional("users.dat"),
        )
    raise ImportFileError(
        f"{directory}: no MovieLens data found (expected u.data + u.item, movies.csv + ratings.csv, "
        "or movies.dat + ratings.dat)."
    )


def check(files: MovieLensFiles) -> None:
    """Check the CSV headers before anything is written (``ImportFileError`` if wrong)."""
    if files.layout == ML_100K and files.genre_names is None:
        raise ImportFileError(f"{files.movies.parent}: u.genre is missing (it names the genre flags of u.item).")
    if files.layout == ML_CSV:
        check_columns(files.movies, ["movieId", "title", "genres"])
        check_columns(files.ratings, ["userId", "movieId", "rating", "timestamp"])
        if files.tags:
            check_columns(files.tags, ["movieId", "tag"])


# --- reading ---------------------------------------------------------------------------------


def text_encoding(path: Path) -> str:
    """UTF-8 when the whole file decodes as UTF-8, else Latin-1 (ml-100k and ml-1m are Latin-1)."""
    try:
        path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return "latin-1"
    return "utf-8"


def read_movies(files: MovieLensFiles) -> Iterator[Movie | tuple[int, InvalidRecord]]:
    """The movies with their genres, or (line, InvalidRecord) for unreadable lines."""
    encoding = text_encoding(files.movies)
    if files.layout == ML_100K:
        genre_names = _ml100k_genre_names(files.genre_names)
        fields = ["movie_id", "title", "release_date", "video_release_date", "imdb_url"]
        flag_fields = [f"genre_{index}" for index in range(len(genre_names))]
        for line_no, row in read_delimited(files.movies, "|", fields + flag_fields, encoding=encoding):
            if isinstance(row, InvalidRecord):
                yield line_no, row
                continue
            flagged = [name for name, flag in zip(genre_names, flag_fields, strict=True) if row[flag].strip() == "1"]
            title = row["title"].strip()
            release = row["release_date"].strip()  # e.g. 01-Jan-1995; the year when the title has none
            year = movie_year(title) or (int(release[-4:]) if release[-4:].isdigit() else None)
            yield Movie(line_no, row["movie_id"].strip(), title, _real_genres(flagged), year)
        return
    if files.layout == ML_CSV:
        rows: Iterator[Row] = read_csv(files.movies, encoding=encoding)
    else:
        rows = read_delimited(files.movies, "::", ["movieId", "title", "genres"], encoding=encoding)
    for line_no, row in rows:
        if isinstance(row, InvalidRecord):
            yield line_no, row
            continue
        title = row["title"].strip()
        yield Movie(line_no, row["movieId"].strip(), title, _real_genres(row["genres"].split("|")), movie_year(title))


def _real_genres(names: list[str]) -> list[str]:
    return [name.strip() for name in names if name.strip() and name.strip() not in NOT_GENRES]


def _ml100k_genre_names(path: Path | None) -> list[str]:
    """Genre names in flag order from ``u.genre`` ("Action|1" lines)."""
    if path is None:
        raise ImportFileError("ml-100k: u.genre is missing (it names the genre flags of u.item).")
    by_index: dict[int, str] = {}
    with open_text(path, text_encoding(path)) as stream:
        for line in stream:
            name, _, index = line.strip().rpartition("|")
            if name and index.isdigit():
                by_index[int(index)] = name
    return [by_index[index] for index in sorted(by_index)]


def read_tags(files: MovieLensFiles) -> dict[str, list[str]]:
    """movie id -> its most used tags (most used first, then first seen), case-insensitively merged."""
    if files.tags is None:
        return {}
    counts: dict[str, Counter[str]] = {}
    spelling: dict[str, dict[str, str]] = {}  # movie -> lower-case tag -> first spelling seen
    for movie_id, tag in _tag_pairs(files.tags, files.layout):
        tag = " ".join(tag.split())
        if not tag:
            continue
        key = tag.lower()
        counts.setdefault(movie_id, Counter())[key] += 1
        spelling.setdefault(movie_id, {}).setdefault(key, tag)
    tags = {}
    for movie_id, counter in counts.items():
        # Counters keep first-seen order and sorted() is stable: ties stay in first-seen order.
        ranked = sorted(counter, key=lambda key, counter=counter: -counter[key])
        tags[movie_id] = [spelling[movie_id][key] for key in ranked[:MAX_TAGS_PER_MOVIE]]
    return tags


def _tag_pairs(path: Path, layout: str) -> Iterator[tuple[str, str]]:
    if layout == ML_CSV:
        for _, row in read_csv(path, encoding=text_encoding(path)):
            if not isinstance(row, InvalidRecord):
                yield row["movieId"].strip(), row["tag"]
        return
    with open_text(path, text_encoding(path)) as stream:  # UserID::MovieID::Tag::Timestamp
        for line in stream:
            parts = line.rstrip("\r\n").split("::")
            if len(parts) >= 4:
                yield parts[1].strip(), "::".join(parts[2:-1])


# --- rows for the services -------------------------------------------------------------------


def movie_year(title: str) -> int | None:
    match = _YEAR_AT_END.search(title)
    return int(match.group(1)) if match else None


def movie_description(tags: list[str]) -> str:
    # Genres are not repeated here: they reach the item text once, as knowledge-graph edges.
    return f"Tags: {', '.join(tags)}." if tags else ""


def item_rows(files: MovieLensFiles, tags: Mapping[str, list[str]] | None = None) -> Iterator[Row]:
    tags = tags if tags is not None else read_tags(files)
    for movie in read_movies(files):
        if not isinstance(movie, Movie):
            yield movie
            continue
        attributes: dict[str, Any] = {}
        if movie.year is not None:
            attributes["year"] = movie.year
        yield (
            movie.line_no,
            {
                "external_id": movie.movie_id,
                "title": movie.title,
                "description": movie_description(tags.get(movie.movie_id, [])),
                "category": MOVIE_CATEGORY,
                "attributes": attributes,
            },
        )


def genre_relation_rows(files: MovieLensFiles) -> Iterator[Row]:
    for movie in read_movies(files):
        if not isinstance(movie, Movie):
            continue  # already reported by the items
        for genre in movie.genres:
            yield (
                movie.line_no,
                {
                    "head_type": "item",
                    "head_id": movie.movie_id,
                    "relation": GENRE_RELATION,
                    "tail_type": GENRE_ENTITY_TYPE,
                    "tail_id": genre,
                },
            )


def user_rows(files: MovieLensFiles) -> Iterator[Row]:
    """Users with a profile text from the demographics, where the set has them."""
    if files.users is None:
        return
    encoding = text_encoding(files.users)
    if files.layout == ML_100K:
        rows = read_delimited(files.users, "|", ["user_id", "age", "gender", "occupation", "zip"], encoding=encoding)
    else:
        rows = read_delimited(files.users, "::", ["user_id", "gender", "age", "occupation", "zip"], encoding=encoding)
    for line_no, row in rows:
        if isinstance(row, InvalidRecord):
            yield line_no, row
            continue
        gender = GENDERS.get(row["gender"].strip(), row["gender"].strip())
        if files.layout == ML_100K:
            age, occupation = row["age"].strip(), row["occupation"].strip()
        else:
            age = ML1M_AGE_GROUPS.get(row["age"].strip(), row["age"].strip())
            code = row["occupation"].strip()
            occupation = ML1M_OCCUPATIONS[int(code)] if code.isdigit() and int(code) < len(ML1M_OCCUPATIONS) else code
        yield (
            line_no,
            {
                "external_id": row["user_id"].strip(),
                "profile": f"Age {age}, {gender}, occupation: {occupation}.",
            },
        )


def event_rows(files: MovieLensFiles, limit: int | None = None) -> Iterator[Row]:
    """The ratings as events; ``limit``: only the first N ratings."""
    if files.layout == ML_CSV:
        rows: Iterator[Row] = read_csv(files.ratings, encoding="utf-8")
        names = ("userId", "movieId", "rating", "timestamp")
    else:
        names = ("user", "movie", "rating", "timestamp")
        separator = "\t" if files.layout == ML_100K else "::"
        rows = read_delimited(files.ratings, separator, list(names), encoding="latin-1")
    user_key, movie_key, rating_key, time_key = names
    for line_no, row in islice(rows, limit):
        if isinstance(row, InvalidRecord):
            yield line_no, row
            continue
        user, movie, timestamp = row[user_key].strip(), row[movie_key].strip(), row[time_key].strip()
        yield (
            line_no,
            {
                "event_id": f"ml:{user}:{movie}:{timestamp}",
                "user_id": user,
                "item_id": movie,
                "event_type": RATING_EVENT,
                "value": row[rating_key],
                "timestamp": timestamp,
            },
        )


# --- the import ------------------------------------------------------------------------------


def import_movielens(
    directory: str | Path,
    tenant: TenantRef = None,
    *,
    limit_events: int | None = None,
    batch_size: int | None = None,
    progress_factory: ProgressFactory | None = None,
) -> list[ImportReport]:
    """Import a MovieLens directory (see the module docstring): items, users, genres, ratings.

    Uses the same services as ``llmrec_import``; returns one report per step. Idempotent.
    """
    files = detect(directory)
    check(files)
    tenant = resolve_tenant(tenant)
    options: dict[str, Any] = {"batch_size": batch_size}
    reports = []

    def run(importer: Any, label: str, source: Path, rows: Iterator[Row]) -> None:
        with open_progress(progress_factory, label) as progress:
            reports.append(importer(rows, tenant, source=str(source), progress=progress, **options))

    run(import_items, f"movies: {files.movies.name}", files.movies, item_rows(files))
    if files.users is not None:
        run(import_users, f"users: {files.users.name}", files.users, user_rows(files))
    run(import_relations, f"genres: {files.movies.name}", files.movies, genre_relation_rows(files))
    run(import_events, f"ratings: {files.ratings.name}", files.ratings, event_rows(files, limit_events))
    return reports
