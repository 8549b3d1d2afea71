"""The admin's own pages: the recommendation preview and evaluation reports (with SVG charts),
the preview links, and the version list's roll back action."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from llmrec_django.admin.charts import bar_chart, nice_ceiling
from llmrec_django.database import vectorstore
from llmrec_django.models import EmbeddingVersion, EvaluationReport, Interaction, Item, UserProfile
from tests.api_helpers import account, keyword_encoder_settings
from tests.recommend_helpers import activate, make_item

pytestmark = pytest.mark.django_db

PREVIEW = "admin:llmrec_django_recommendationpreview_changelist"


@pytest.fixture
def shop(tenant, settings):
    keyword_encoder_settings(settings)
    items = [
        make_item(tenant, "ship", "Lantern Ship", vector=[1, 0, 0, 0]),
        make_item(tenant, "harbour", "Star Harbour", vector=[0.95, 0.3, 0, 0]),
        make_item(tenant, "field", "Quiet <Field>", vector=[0.2, 1, 0, 0]),
        make_item(tenant, "shoe", "Mud Runner", category="running shoes", vector=[0, 0, 0, 1], price=40),
    ]
    alice = UserProfile.objects.create(tenant=tenant, external_id="alice", profile_text="space operas")
    Interaction.objects.create(tenant=tenant, event_id="a1", user=alice, item=items[0], event_type="purchase")
    version = activate(tenant, items, users=[(alice, [1, 0, 0, 0])])
    return items, alice, version


def test_the_preview_shows_a_users_list_with_scores_sources_and_explanations(admin_client, shop):
    _, alice, version = shop
    url = reverse(PREVIEW)
    assert admin_client.get(url).status_code == 200  # the empty form
    page = admin_client.get(url, {"mode": "user", "user": "alice", "k": 3, "device": "mobile"}).content.decode()
    rows = page.split('id="preview-results"')[1].split("</table>")[0]
    assert rows.index("Star Harbour") < rows.index("Mud Runner") and "<small>ship</small>" not in rows
    assert "<span>vector</span>" in rows and "Similar to &quot;Lantern Ship&quot; you bought" in rows
    assert re.search(r"<td>0\.\d{4}</td>", rows)  # scores
    assert "<strong>hybrid</strong>" in page and "device=mobile" in page and "has an interest vector" in page
    assert "purchase" in page.split("Latest events")[1]
    assert "Quiet &lt;Field&gt;" in rows  # escaped


def test_the_preview_of_similar_items_search_popular_and_errors(admin_client, shop):
    url = reverse(PREVIEW)
    similar = admin_client.get(url, {"mode": "similar", "item": "ship", "k": 2}).content.decode()
    assert "<strong>similar</strong>" in similar and "Star Harbour" in similar
    found = admin_client.get(url, {"mode": "search", "query": "running shoe", "k": 2}).content.decode()
    assert "<strong>search</strong>" in found and "Mud Runner" in found.split('id="preview-results"')[1]
    popular = admin_client.get(url, {"mode": "popular", "k": 2}).content.decode()
    assert "fallback:popularity" in popular
    missing = admin_client.get(url, {"mode": "user", "user": "nobody", "k": 3}).content.decode()
    assert "No user &#x27;nobody&#x27;" in missing
    incomplete = admin_client.get(url, {"mode": "search", "k": 3}).content.decode()
    assert "Needed for this kind of preview." in incomplete


def test_the_preview_writes_copy_when_asked(admin_client, shop):
    page = admin_client.get(reverse(PREVIEW), {"mode": "user", "user": "alice", "k": 2, "with_copy": "on"})
    assert 'class="llmrec-copy"' in page.content.decode()


def test_admin_pages_are_for_staff_only(client, shop):
    member = account("member")
    client.force_login(member)
    for url in [reverse(PREVIEW), reverse("admin:llmrec_django_evaluationreport_changelist")]:
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url
    staff_without_permission = account("clerk", staff=True, permissions=False)
    client.force_login(staff_without_permission)
    assert client.get(reverse(PREVIEW)).status_code == 403


def test_the_index_and_the_profiles_link_to_the_preview(admin_client, shop):
    index = admin_client.get(reverse("admin:index")).content.decode()
    assert reverse(PREVIEW) in index and "Evaluation reports" in index
    profiles = admin_client.get(reverse("admin:llmrec_django_userprofile_changelist")).content.decode()
    assert f"{reverse(PREVIEW)}?mode=user&amp;user=alice&amp;tenant=" in profiles
    _, alice, _ = shop
    change = admin_client.get(reverse("admin:llmrec_django_userprofile_change", args=[alice.pk])).content.decode()
    assert "mode=user&amp;user=alice" in change
    item = Item.objects.get(external_id="ship")
    change = admin_client.get(reverse("admin:llmrec_django_item_change", args=[item.pk])).content.decode()
    assert "mode=similar&amp;item=ship" in change


def test_the_preview_links_open_on_a_list_not_a_form_error(admin_client, shop):
    """The links name the user or item only: the preview fills in the rest (k = 10)."""
    import html

    _, alice, _ = shop
    item = Item.objects.get(external_id="ship")
    pages = [
        reverse("admin:llmrec_django_userprofile_changelist"),
        reverse("admin:llmrec_django_userprofile_change", args=[alice.pk]),
        reverse("admin:llmrec_django_item_change", args=[item.pk]),
    ]
    for page in pages:
        content = admin_client.get(page).content.decode()
        [link] = {
            html.unescape(href) for href in re.findall(r'href="([^"]*recommendationpreview[^"]*mode=[^"]*)"', content)
        }
        shown = admin_client.get(link).content.decode()
        assert "This field is required" not in shown and "errorlist" not in shown, link
        assert "Star Harbour" in shown.split('id="preview-results"')[1], link


def test_profiles_are_found_by_their_accounts_username(admin_client, shop, tenant):
    zoe = account("zoe-account")
    UserProfile.objects.create(tenant=tenant, external_id=f"account-{zoe.pk}", user=zoe)
    found = admin_client.get(reverse("admin:llmrec_django_userprofile_changelist"), {"q": "zoe-acc"}).content.decode()
    assert f"account-{zoe.pk}" in found and "alice" not in found.split('id="result_list"')[1]


def test_items_filter_by_having_a_vector_in_the_active_version(admin_client, shop, tenant):
    make_item(tenant, "new", "Brand new", vector=None)
    url = reverse("admin:llmrec_django_item_changelist")
    without = admin_client.get(url, {"embedded": "no"}).content.decode()
    assert "Brand new" in without and "Lantern Ship" not in without
    embedded = admin_client.get(url, {"embedded": "yes"}).content.decode()
    assert "Lantern Ship" in embedded and "Brand new" not in embedded


def test_the_version_list_rolls_back(admin_client, shop, tenant):
    items, _, first = shop
    second = activate(tenant, items)
    assert vectorstore.active_version(tenant) == second
    versions = reverse("admin:llmrec_django_embeddingversion_changelist")
    response = admin_client.post(versions, {"action": "roll_back", "_selected_action": [second.pk]}, follow=True)
    assert vectorstore.active_version(tenant) == first
    assert f"version {first.pk} is active again" in response.content.decode()
    admin_client.post(versions, {"action": "activate", "_selected_action": [second.pk]})
    assert vectorstore.active_version(tenant) == second
    EmbeddingVersion.objects.filter(pk=first.pk).update(status="retired")
    response = admin_client.post(versions, {"action": "roll_back", "_selected_action": [second.pk]}, follow=True)
    assert vectorstore.active_version(tenant) == second and 'class="error"' in response.content.decode()


# --- evaluation reports ---------------------------------------------------------------------------


@pytest.fixture
def evaluable(tenant, tiny_encoder):
    """Six users who all like a, b and c, each then something else (as in test_evaluation)."""
    start = timezone.now() - timedelta(days=30)
    items = {
        n: Item.objects.create(tenant=tenant, external_id=n, title=f"Film {n}", category="film") for n in "abcdefg"
    }
    for uid, names in {"u1": "abcd", "u2": "abce", "u3": "abcd", "u4": "abcf", "u5": "abdg", "u6": "ab"}.items():
        user = UserProfile.objects.create(tenant=tenant, external_id=uid)
        for day, name in enumerate(names):
            Interaction.objects.create(tenant=tenant, event_id=f"{uid}-{name}", user=user, item=items[name],
                                       event_type="purchase", timestamp=start + timedelta(days=day))  # fmt: skip
    return items


def test_starting_an_evaluation_from_the_admin_stores_and_charts_it(
    admin_client, evaluable, tenant, django_capture_on_commit_callbacks
):
    add = reverse("admin:llmrec_django_evaluationreport_add")
    assert "Start the evaluation" in admin_client.get(add).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(add, {"k": 3, "split": "temporal", "test_events": 1, "seed": 0})
    record = EvaluationReport.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/{record.pk}/change/")
    assert record.status == "done" and record.tenant == tenant and record.started_by.username == "admin"
    assert set(record.report["methods"]) == {"hybrid", "most_popular", "item_knn", "als"}
    page = admin_client.get(response["Location"]).content.decode()
    assert page.count('<svg class="llmrec-chart"') == 4 and "Ranking quality at k=3" in page and "Cold start" in page
    assert "<title>most_popular · ndcg@3: " in page  # one bar's tooltip
    figures = page.split('id="evaluation-figures"')[1]
    assert f"{record.metric('most_popular', 'ndcg@3'):.4f}" in figures
    listing = admin_client.get(reverse("admin:llmrec_django_evaluationreport_changelist")).content.decode()
    assert "NDCG@k of the latest runs" in listing and f"{record.metric('hybrid', 'ndcg@3'):.4f}" in listing


def test_a_failed_evaluation_says_why(admin_client, tenant, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("admin:llmrec_django_evaluationreport_add"), {"k": 3, "split": "temporal",
                                                                               "test_events": 1, "seed": 0})  # fmt: skip
    record = EvaluationReport.objects.get()
    assert record.status == "failed" and "no user with a held-out interaction" in record.error
    page = admin_client.get(reverse("admin:llmrec_django_evaluationreport_change", args=[record.pk])).content.decode()
    assert "no user with a held-out interaction" in page and '<svg class="llmrec-chart"' not in page
    bad = admin_client.post(reverse("admin:llmrec_django_evaluationreport_add"), {"k": 0, "split": "sideways"})
    assert bad.status_code == 200 and EvaluationReport.objects.count() == 1


def test_the_command_saves_a_report(evaluable, tenant):
    from django.core.management import call_command

    call_command("llmrec_evaluate", k=3, save=True, verbosity=0)
    record = EvaluationReport.objects.get()
    assert record.status == "done" and record.options["k"] == 3 and record.metric("hybrid", "ndcg@3") is not None


def test_bar_charts_escape_labels_and_scale():
    svg = bar_chart(["a<b", "c"], {"x & y": [0.5, None], "z": [1.2, 0.3]}, title="T <1>")
    assert "a&lt;b" in svg and "x &amp; y" in svg and "T &lt;1&gt;" in svg and "<b" not in svg.replace("<svg", "")
    assert svg.count("<rect") == 3 + 2  # three bars (one value missing) and two legend keys
    assert nice_ceiling(1.2) == 2 and nice_ceiling(0.31) == 0.5 and nice_ceiling(0) == 1 and nice_ceiling(7) == 10
    with pytest.raises(ValueError, match="has 1 values for 2 categories"):
        bar_chart(["a", "b"], {"x": [1]})
