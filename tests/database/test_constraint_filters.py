"""A request's hard constraints as filters of the vector search: each kind in SQL (values as
variables, never spliced in), lists kept full by pgvector's iterative scans."""

import numpy as np
import pytest

from llmrec_django.core.intent import Constraint
from llmrec_django.database import vectorstore
from tests.recommend_helpers import activate, make_item

pytestmark = pytest.mark.django_db

ATTRIBUTES = [
    {"genre": "comedy", "year": 2022, "rating": "PG", "waterproof": False},
    {"genre": "horror", "year": 2019, "rating": "18"},
    {"genre": ["animation", "comedy"], "year": 2024, "rating": "U", "waterproof": True},
    {"genre": "thriller", "year": "1998", "rating": "15"},  # a year stored as text
    {"genre": "drama", "rating": "12"},
    {"genre": 'it\'s "quoted"', "year": 2001, 'odd key "$.x': 5},
]


@pytest.fixture
def version(tenant):
    items = []
    for n, attributes in enumerate(ATTRIBUTES * 40):  # 240 items, all near the query
        vector = [1, 0.01 * (n % 17), 0.001 * n, 0]
        items.append(make_item(tenant, f"i{n}", f"Item {n}", category="films" if n % 3 else "books", vector=vector,
                               **attributes))  # fmt: skip
    return activate(tenant, items)


def search(version, *constraints, k=30):
    found = vectorstore.nearest_items(version, np.array([1, 0, 0, 0], dtype=np.float32), k, constraints=constraints)
    from llmrec_django.models import Item

    rows = {i.pk: i for i in Item.objects.filter(pk__in=[nb.item_id for nb in found])}
    return [rows[nb.item_id] for nb in found]


@pytest.mark.parametrize(
    "constraint",
    [
        Constraint("genre", "in", ["comedy"]),
        Constraint("genre", "not_in", ["horror", "thriller"]),
        Constraint("year", ">=", 2019),
        Constraint("year", "<", 2020),
        Constraint("rating", "in", ["U", "PG"]),
        Constraint("waterproof", "is", True),
        Constraint("waterproof", "is", False),
        Constraint("category", "in", ["Films"]),
        Constraint("category", "not_in", ["films"]),
        Constraint("genre", "in", ['it\'s "quoted"']),
        Constraint('odd key "$.x', ">", 1),
    ],
)
def test_each_kind_of_constraint_filters_in_sql_and_keeps_the_list_full(version, constraint):
    found = search(version, constraint)
    assert len(found) == 30, "iterative scans fill the list"
    assert all(constraint.holds(item.attributes, item.category) for item in found)


def test_constraints_combine_and_a_text_number_never_satisfies_a_comparison(version):
    found = search(version, Constraint("year", "<", 2100), Constraint("genre", "in", ["thriller", "drama"]), k=50)
    assert found == []  # the thriller's year is text, the drama has none
    both = search(version, Constraint("genre", "in", ["comedy"]), Constraint("year", ">", 2023))
    assert both and all(item.attributes["rating"] == "U" for item in both)  # the list-valued genre
