"""Property-based: the template tags themselves (not only the pages around them) take whatever a
template hands them (text with NULs, lone surrogates, markup and template syntax, odd numbers,
unknown users, items and tenants) and render without an error, with nothing of it unescaped,
while the served-list log keeps writing (nothing waits, nothing is set aside)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template import Context, Template
from django.test import RequestFactory
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from llmrec_django.models import QuarantinedWrite, ServedList
from llmrec_django.recommend import served_log
from tests.api_helpers import ann_catalogue
from tests.recommend_helpers import activate

pytestmark = pytest.mark.django_db

MARKER = '<x-planted a="1">'
TRICKS = [
    MARKER,
    f"ship {MARKER}",
    "\x00",
    "sp\x00ace",
    "\ud800",  # a lone surrogate: not UTF-8, not storable
    "x" * 5000,
    "{{ request.user }}{% now 'Y' %}",
    "' onmouseover='alert(1)",
    "</script><script>alert(1)</script>",
    "ship",
    "running shoes",
    "",
]
TEXT = st.one_of(
    st.sampled_from(TRICKS),
    st.text(max_size=40),
    st.text(alphabet=st.characters(blacklist_categories=()), max_size=12),  # surrogates and controls
)
NUMBER = st.one_of(
    st.none(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    TEXT,
)
TENANT = st.one_of(st.none(), st.integers(min_value=-5, max_value=10**12), TEXT)
EXAMPLES = hypothesis_settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@pytest.fixture
def shop(tenant, settings):
    items, ann, profile = ann_catalogue(tenant, settings)
    activate(tenant, list(items.values()), users=[(profile, [1, 0, 0, 0])])
    settings.LLMREC = {**settings.LLMREC, "ONLINE": {"LOG_WRITES": "background", "LOG_FLUSH_SECONDS": 3600}}
    served_log.flush()
    yield items, ann, profile
    served_log.flush()


def render(tag: str, visitor=None, **values) -> str:
    request = RequestFactory().get("/", HTTP_USER_AGENT="Mozilla/5.0")
    request.user = visitor or AnonymousUser()
    arguments = " ".join(f"{name}={name}" for name in values)
    return Template("{% load llmrec %}{% " + tag + " " + arguments + " %}").render(
        Context({"request": request, **values})
    )


def assert_safe(html: str) -> None:
    assert MARKER not in html and "<script>alert" not in html and "onmouseover='" not in html
    assert "\x00" not in html


def assert_log_keeps_writing() -> None:
    before = ServedList.objects.count()
    served_log.flush()
    assert served_log.writer.pending == 0
    assert not QuarantinedWrite.objects.exists()
    assert ServedList.objects.count() >= before


@EXAMPLES
@given(user=st.one_of(st.none(), TEXT), k=NUMBER, category=st.one_of(st.none(), TEXT), title=TEXT, tenant=TENANT,
       with_copy=st.booleans(), signed_in=st.booleans())  # fmt: skip
def test_recommendations_render_whatever_they_are_given(shop, user, k, category, title, tenant, with_copy, signed_in):
    _, ann, _ = shop
    html = render(
        "llmrec_recommendations",
        visitor=ann if signed_in else None,
        user=user,
        k=k,
        category=category,
        title=title,
        tenant=tenant,
        with_copy=with_copy,
    )
    assert_safe(html)
    assert_log_keeps_writing()


@EXAMPLES
@given(item=TEXT, k=NUMBER, title=TEXT, tenant=TENANT)
def test_similar_items_render_whatever_they_are_given(shop, item, k, title, tenant):
    assert_safe(render("llmrec_similar_items", item=item, k=k, title=title, tenant=tenant))
    assert_log_keeps_writing()


@EXAMPLES
@given(query=st.one_of(st.none(), TEXT), k=NUMBER, title=TEXT, tenant=TENANT, signed_in=st.booleans())
def test_search_results_render_whatever_they_are_given(shop, query, k, title, tenant, signed_in):
    _, ann, _ = shop
    html = render(
        "llmrec_search_results", visitor=ann if signed_in else None, query=query, k=k, title=title, tenant=tenant
    )
    assert_safe(html)
    assert_log_keeps_writing()


@EXAMPLES
@given(action=TEXT, placeholder=TEXT, name=TEXT)
def test_the_search_box_escapes_whatever_it_is_given(action, placeholder, name):
    assert_safe(render("llmrec_search_box", action=action, placeholder=placeholder, name=name))


def test_a_good_list_after_hostile_ones_is_served_and_logged(shop, tenant):
    """The tags above ran against the same log: a plain list afterwards is still written."""
    _, ann, _ = shop
    assert render("llmrec_recommendations", visitor=None, user="\x00\ud800", k="-1", tenant="nowhere").strip() == ""
    served_log.flush()
    before = ServedList.objects.count()
    html = render("llmrec_recommendations", visitor=ann, k=3)
    assert 'data-llmrec-item="harbour"' in html
    served_log.flush()
    assert ServedList.objects.count() == before + 1 and served_log.writer.pending == 0
