"""Online measurement: served-list ids and logging, attribution windows, experiments (assignment,
arms, shadow arms), exploration, report maths, and a simulated A/B run."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

import numpy as np
import pytest
from django.core.management import call_command
from django.utils import timezone

from llmrec_django.core.strategy import Strategy
from llmrec_django.database import caches
from llmrec_django.learning import attribution
from llmrec_django.learning.online_report import online_report
from llmrec_django.models import (
    Attribution,
    Experiment,
    ExperimentArm,
    ExperimentAssignment,
    Interaction,
    ServedList,
    UserProfile,
)
from llmrec_django.recommend import recommend_for_user, serving
from llmrec_django.recommend import served_log as log
from tests.recommend_helpers import activate, make_item

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def online_settings(settings):
    settings.LLMREC = {
        **getattr(settings, "LLMREC", {}),
        "ONLINE": {"LOG_WRITES": "inline", "ATTRIBUTION_DELAY_SECONDS": 0},
    }


@pytest.fixture
def shop(tenant):
    """30 items on random 4-d directions, 60 users with their own interest vectors, active."""
    rng = np.random.default_rng(3)
    items = [
        make_item(
            tenant,
            f"item-{i:02d}",
            f"Item {i}",
            category="films" if i % 2 else "books",
            vector=rng.normal(size=4),
            price=10 + i,
        )
        for i in range(30)
    ]
    users = [UserProfile.objects.create(tenant=tenant, external_id=f"user-{u:03d}") for u in range(60)]
    version = activate(tenant, items, users=[(u, rng.normal(size=4)) for u in users])
    return items, users, version


def event(tenant, user, item, event_type, at, value=None, **context):
    return Interaction.objects.create(
        tenant=tenant,
        event_id=str(uuid.uuid4()),
        user=user,
        item=item,
        event_type=event_type,
        timestamp=at,
        value=value,
        context=context,
    )


def served(tenant, user, items, at, **fields):
    return ServedList.objects.create(
        id=uuid.uuid4(),
        tenant=tenant,
        user=user,
        surface="for_you",
        source="hybrid",
        item_ids=[i.pk for i in items],
        served_at=at,
        **fields,
    )


# --- served lists ----------------------------------------------------------------------------


def test_every_served_list_has_an_id_and_is_logged_with_its_items_in_order(shop, tenant):
    items, users, version = shop
    result = serving.for_user(users[0], k=5, context={"device": "mobile"})
    row = ServedList.objects.get(pk=result.list_id)
    assert row.item_ids == result.item_ids and len(row.item_ids) == 5
    assert row.user == users[0] and row.surface == "for_you" and row.source == "hybrid"
    assert row.version_id == version.pk and row.strategy == "default" and not row.shadow
    assert row.context["device"] == "mobile" and row.context["time_of_day"]
    similar = serving.similar(items[0], k=3)
    assert ServedList.objects.get(pk=similar.list_id).context["anchor"] == "item-00"
    found = serving.search("anything", user=users[1], k=3)
    assert ServedList.objects.get(pk=found.list_id).context["query"] == "anything"
    popular = serving.popular(k=4)
    assert ServedList.objects.get(pk=popular.list_id).user is None
    # The admin preview and the offline evaluation call the service itself: nothing is logged.
    before = ServedList.objects.count()
    recommend_for_user(users[0], k=5)
    assert ServedList.objects.count() == before


def test_the_background_writer_batches_and_bounds_its_queue(shop, tenant, settings):
    items, users, _ = shop
    settings.LLMREC = {
        **settings.LLMREC,
        "ONLINE": {"LOG_WRITES": "background", "LOG_FLUSH_SECONDS": 3600, "LOG_BATCH_SIZE": 1000, "LOG_MAX_PENDING": 3},
    }
    writer = log.ServedListWriter()
    result = recommend_for_user(users[0], k=3)
    ids = []
    for _ in range(5):
        entry = log.ServedEntry(
            id=uuid.uuid4(), tenant_id=tenant.pk, user_id=users[0].pk, surface="for_you", source="hybrid",
            item_ids=result.item_ids,
        )  # fmt: skip
        writer.submit(entry)
        ids.append(entry.id)
    assert ServedList.objects.filter(pk__in=ids).count() == 0  # nothing written on the request path
    assert writer.pending == 3 and writer.dropped == 2  # the oldest were dropped, counted
    assert writer.flush() == 3
    assert set(ServedList.objects.filter(pk__in=ids).values_list("pk", flat=True)) == set(ids[2:])
    # An erased user's pending list is dropped, the rest written.
    gone = UserProfile.objects.create(tenant=tenant, external_id="gone")
    for user in (gone, users[1]):
        writer.submit(log.ServedEntry(uuid.uuid4(), tenant.pk, user.pk, "for_you", "hybrid", result.item_ids))
    gone.delete()
    assert writer.flush() == 1


# --- attribution -----------------------------------------------------------------------------


def test_attribution_credits_the_latest_list_within_each_event_types_window(shop, tenant):
    items, users, _ = shop
    ann, bob = users[0], users[1]
    now = timezone.now()
    older = served(tenant, ann, items[:5], now - timedelta(hours=3))
    newer = served(tenant, ann, items[3:8], now - timedelta(minutes=30), arm=None)
    served(tenant, ann, items[:8], now - timedelta(minutes=20), shadow=True)  # never credited
    click = event(tenant, ann, items[4], "click", now - timedelta(minutes=10))  # in both: the newer
    late_click = event(tenant, ann, items[0], "click", now)  # only in the older, 3 h ago > 1 h window
    purchase = event(tenant, ann, items[1], "purchase", now, value=25.0)  # 7-day window: the older
    view = event(tenant, ann, items[4], "view", now)  # not an attributed type
    other = event(tenant, bob, items[4], "click", now)  # bob was never shown it
    passes = attribution.attribute(tenant)
    assert passes[0].attributed == 2
    credited = {a.interaction_id: a for a in Attribution.objects.all()}
    assert set(credited) == {click.pk, purchase.pk}
    assert credited[click.pk].served_list_id == newer.pk and credited[click.pk].position == 2
    assert credited[click.pk].seconds_after == pytest.approx(1200, abs=1)
    assert credited[purchase.pk].served_list_id == older.pk and credited[purchase.pk].position == 2
    assert credited[purchase.pk].value == 25.0
    assert late_click.pk not in credited and view.pk not in credited and other.pk not in credited
    # A second pass reads only new events and never credits one twice.
    assert attribution.attribute(tenant)[0].attributed == 0
    again = event(tenant, ann, items[5], "click", now)
    assert attribution.attribute(tenant)[0].attributed == 1
    assert Attribution.objects.get(pk=again.pk).served_list_id == newer.pk


def test_an_event_naming_its_list_is_credited_to_that_list(shop, tenant):
    items, users, _ = shop
    now = timezone.now()
    named = served(tenant, users[0], items[:5], now - timedelta(minutes=40))
    served(tenant, users[0], items[:5], now - timedelta(minutes=5))  # the latest, but not the named one
    click = event(tenant, users[0], items[2], "click", now, list_id=str(named.pk), position=3)
    bogus = event(tenant, users[0], items[3], "click", now, list_id="not-a-uuid")
    attribution.attribute(tenant)
    assert Attribution.objects.get(pk=click.pk).served_list_id == named.pk
    assert Attribution.objects.get(pk=bogus.pk).served_list_id != named.pk  # the latest instead


def test_young_events_wait_for_the_next_pass(shop, tenant, settings):
    items, users, _ = shop
    settings.LLMREC = {**settings.LLMREC, "ONLINE": {"LOG_WRITES": "inline", "ATTRIBUTION_DELAY_SECONDS": 60}}
    served(tenant, users[0], items[:3], timezone.now() - timedelta(minutes=1))
    click = event(tenant, users[0], items[0], "click", timezone.now())
    assert attribution.attribute(tenant)[0].attributed == 0
    Interaction.objects.filter(pk=click.pk).update(created_at=timezone.now() - timedelta(minutes=2))
    assert attribution.attribute(tenant)[0].attributed == 1


# --- experiments -----------------------------------------------------------------------------


def make_experiment(tenant, *arms, name="blend-test", **fields):
    experiment = Experiment.objects.create(tenant=tenant, name=name, **fields)
    for arm in arms:
        ExperimentArm.objects.create(experiment=experiment, **arm)
    caches.clear_all()
    return experiment


def test_users_keep_their_arm_and_responses_say_which_arm_served_them(shop, tenant):
    items, users, _ = shop
    experiment = make_experiment(
        tenant,
        {"name": "control", "traffic": 50, "is_control": True},
        {"name": "diverse", "traffic": 50, "strategy": {"mmr_lambda": 0.3}},
    )
    first = {u.external_id: serving.for_user(u, k=4).arm for u in users}
    assert set(first.values()) == {"control", "diverse"}
    assert ExperimentAssignment.objects.filter(experiment=experiment).count() == len(users)
    # Traffic moves all to "diverse" for new users; existing ones keep their arm.
    ExperimentArm.objects.filter(experiment=experiment, name="control").update(traffic=0)
    caches.clear_all()
    again = {u.external_id: serving.for_user(u, k=4).arm for u in users}
    assert again == first
    newcomer = UserProfile.objects.create(tenant=tenant, external_id="newcomer")
    assert serving.for_user(newcomer, k=4).arm == "diverse"
    row = ServedList.objects.filter(user=users[0]).latest("served_at")
    assert row.experiment == experiment and row.arm.name == first["user-000"] and row.strategy == first["user-000"]
    # Stopped: no arm, default strategy.
    Experiment.objects.filter(pk=experiment.pk).update(ends_at=timezone.now())
    caches.clear_all()
    result = serving.for_user(users[0], k=4)
    assert result.arm is None and result.experiment is None and result.strategy == "default"


def test_a_shadow_arm_scores_every_user_but_is_never_shown(shop, tenant):
    items, users, _ = shop
    make_experiment(
        tenant,
        {"name": "control", "traffic": 100, "is_control": True},
        {"name": "popular-only", "traffic": 100, "is_shadow": True, "strategy": {"sources": ["popularity"]}},
    )
    shown = [serving.for_user(u, k=4) for u in users[:10]]
    assert {r.arm for r in shown} == {"control"}
    shadows = ServedList.objects.filter(shadow=True)
    assert shadows.count() == 10 and {s.arm.name for s in shadows} == {"popular-only"}
    assert ServedList.objects.filter(shadow=False, experiment__isnull=False).count() == 10


def test_arm_strategies_change_the_list(shop, tenant):
    items, users, version = shop
    user = users[4]
    plain = recommend_for_user(user, k=6)
    assert plain.strategy == "default"
    only_vector = recommend_for_user(user, k=6, strategy=Strategy.from_dict({"sources": ["vector"]}, name="v"))
    assert all(r.sources == ("vector",) for r in only_vector.items) and only_vector.strategy == "v"
    weights = recommend_for_user(
        user, k=6, strategy=Strategy.from_dict({"blend_weights": {"popularity": 1.0}, "mmr_lambda": 1.0})
    )
    assert weights.ranking_model_id is None
    missing_version = recommend_for_user(user, k=6, strategy=Strategy.from_dict({"version_id": version.pk + 999}))
    assert missing_version.version_id == version.pk  # not a version of this tenant: the active one


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"colour": "red"}, "Unknown strategy key"),
        ({"sources": ["vector", "magic"]}, "Unknown candidate source"),
        ({"sources": "vector"}, "non-empty list"),
        ({"mmr_lambda": 1.5}, "[0, 1]"),
        ({"mmr_lambda": float("nan")}, "finite"),
        ({"blend_weights": {"relevance": 1, "luck": 2}}, "Unknown blend feature"),
        ({"blend_weights": {"relevance": 1}, "ranking_model_id": 3}, "not both"),
        ({"exploration_slots": 99}, "exploration_slots"),
        ({"reranker": "yes"}, "true or false"),
        ({"copy_generator": "nodots"}, "dotted path"),
        ({"version_id": "7"}, "whole number"),
    ],
)
def test_bad_strategies_are_refused_with_a_clear_message(raw, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Strategy.from_dict(raw)


def test_an_arm_with_a_bad_strategy_fails_validation(tenant):
    from django.core.exceptions import ValidationError

    experiment = Experiment.objects.create(tenant=tenant, name="x")
    arm = ExperimentArm(experiment=experiment, name="bad", strategy={"sources": ["nope"]})
    with pytest.raises(ValidationError, match="Unknown candidate source"):
        arm.full_clean()


# --- exploration -----------------------------------------------------------------------------


def test_exploration_gives_the_last_place_to_an_under_exposed_candidate(shop, tenant, settings):
    items, users, _ = shop
    settings.LLMREC = {
        **settings.LLMREC,
        "ONLINE": {
            "LOG_WRITES": "inline",
            "ATTRIBUTION_DELAY_SECONDS": 0,
            "EXPLORATION": {"SLOTS": 1, "MAX_IMPRESSIONS": 1},
        },
    }
    # Every item but three was shown once already: only those three are under-exposed.
    fresh = {items[7].pk, items[13].pk, items[21].pk}
    served(tenant, users[-1], [i for i in items if i.pk not in fresh], timezone.now() - timedelta(hours=1))
    caches.clear_all()
    result = serving.for_user(users[0], k=6)
    assert result.explored_positions == [6]
    assert result.items[-1].item_id in fresh and "explore" in result.items[-1].sources
    row = ServedList.objects.get(pk=result.list_id)
    assert row.explored == [6]
    click = event(
        tenant, users[0], items[[i.pk for i in items].index(result.items[-1].item_id)], "click", timezone.now()
    )
    attribution.attribute(tenant)
    assert Attribution.objects.get(pk=click.pk).explored is True
    report = online_report(tenant=tenant, days=1)
    for_you = next(g for g in report["groups"] if g["name"] == "for_you")
    assert for_you["exploration"]["impressions"] == 1 and for_you["exploration"]["clicks"] == 1


def test_exploration_is_off_by_default(shop):
    items, users, _ = shop
    assert serving.for_user(users[0], k=6).explored_positions == []


# --- report ----------------------------------------------------------------------------------


def test_report_figures_match_a_hand_count(shop, tenant):
    items, users, _ = shop
    experiment = make_experiment(tenant, {"name": "a", "traffic": 50, "is_control": True}, {"name": "b", "traffic": 50})
    arm_a, arm_b = experiment.arms.order_by("pk")
    now = timezone.now() - timedelta(hours=2)
    # Arm a: 2 lists x 4 items = 8 impressions; 2 clicked impressions (one clicked twice), 1 bought for 30.
    served(tenant, users[0], items[0:4], now, experiment=experiment, arm=arm_a, strategy="a")
    served(tenant, users[1], items[0:4], now, experiment=experiment, arm=arm_a, strategy="a")
    event(tenant, users[0], items[0], "click", now + timedelta(minutes=1))
    event(tenant, users[0], items[0], "click", now + timedelta(minutes=2))
    event(tenant, users[0], items[1], "click", now + timedelta(minutes=3))
    event(tenant, users[0], items[1], "purchase", now + timedelta(minutes=4), value=30.0)
    # Arm b: 1 list x 5 items = 5 impressions; 1 click; items 4..8 (5 distinct items, 2 new).
    served(tenant, users[2], items[2:7], now, experiment=experiment, arm=arm_b, strategy="b")
    event(tenant, users[2], items[6], "click", now + timedelta(minutes=1))
    report = online_report(experiment.name, tenant=tenant)
    a, b = report["groups"]
    assert (a["name"], a["is_control"], b["name"]) == ("a", True, "b")
    assert (a["lists"], a["impressions"], a["clicks"], a["conversions"]) == (2, 8, 2, 1)
    assert a["ctr"]["value"] == pytest.approx(2 / 8)
    assert a["conversion_rate"]["value"] == pytest.approx(1 / 8)
    assert a["revenue"] == 30.0 and a["revenue_per_impression"]["value"] == pytest.approx(30 / 8)
    assert (b["lists"], b["impressions"], b["clicks"]) == (1, 5, 1)
    catalogue = len(items)
    assert a["coverage"] == pytest.approx(4 / catalogue) and b["coverage"] == pytest.approx(5 / catalogue)
    # Novelty by hand: users who interacted with each item; 60 users in the tenant.
    interacted = {items[0].pk: 1, items[1].pk: 1, items[6].pk: 1}
    shown_a = [i.pk for i in items[0:4]] * 2
    expected = np.mean([-np.log2((interacted.get(i, 0) + 1) / 61) for i in shown_a])
    assert a["novelty"] == pytest.approx(expected)
    assert a["hit_rate"]["value"] == pytest.approx(1 / 2)  # users[1] engaged with nothing
    assert b["vs_control"]["ctr"]["difference"] == pytest.approx(1 / 5 - 2 / 8)
    assert report["days"] and {d["group"] for d in report["days"]} == {"a", "b"}
    assert sum(d["impressions"] for d in report["days"]) == 13


# --- a simulated A/B run ---------------------------------------------------------------------


def test_a_simulated_ab_run_finds_the_better_arm(shop, tenant, capsys, tmp_path):
    """Synthetic users click each impression with a probability set by their arm (5% vs 10%);
    the report must call the 10% arm the better one, significantly."""
    items, users, _ = shop
    experiment = make_experiment(
        tenant,
        {"name": "control", "traffic": 50, "is_control": True},
        {"name": "kg-heavy", "traffic": 50, "strategy": {"mmr_lambda": 0.5}},
    )
    click_probability = {"control": 0.05, "kg-heavy": 0.10}
    rng = random.Random(11)
    by_id = {i.pk: i for i in items}
    start = timezone.now() - timedelta(hours=1)
    for round_ in range(4):
        for user in users:
            result = serving.for_user(user, k=8)
            ServedList.objects.filter(pk=result.list_id).update(served_at=start + timedelta(minutes=round_))
            for position, item_id in enumerate(result.item_ids, start=1):
                if rng.random() < click_probability[result.arm]:
                    event(
                        tenant, user, by_id[item_id], "click", start + timedelta(minutes=round_, seconds=30),
                        list_id=result.list_id, position=position,
                    )  # fmt: skip
    report = online_report(experiment.name, tenant=tenant)
    control, treatment = report["groups"]
    assert control["impressions"] + treatment["impressions"] == 4 * len(users) * 8
    assert treatment["ctr"]["value"] > control["ctr"]["value"]
    assert treatment["vs_control"]["ctr"]["significant"]
    assert report["winner"]["group"] == "kg-heavy"
    call_command("llmrec_report", experiment=experiment.name, json_path=str(tmp_path / "r.json"))
    out = capsys.readouterr().out
    assert "Better arm: kg-heavy (ctr)" in out and (tmp_path / "r.json").exists()


def test_report_of_an_unknown_experiment_is_a_clear_error(tenant):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No experiment 'nope'"):
        call_command("llmrec_report", experiment="nope")


# --- the dashboard, the API and erasure ------------------------------------------------------


def _simulated_experiment(tenant, users, items):
    experiment = make_experiment(
        tenant, {"name": "control", "traffic": 50, "is_control": True}, {"name": "b", "traffic": 50}
    )
    by_id = {i.pk: i for i in items}
    for user in users[:20]:
        result = serving.for_user(user, k=4)
        event(tenant, user, by_id[result.item_ids[0]], "click", timezone.now(), list_id=result.list_id)
    return experiment


def test_the_admin_dashboard_shows_arms_figures_and_charts(shop, tenant, client):
    from django.contrib.auth import get_user_model

    items, users, _ = shop
    experiment = _simulated_experiment(tenant, users, items)
    staff = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(staff)
    listing = client.get("/admin/llmrec_django/experiment/")
    assert listing.status_code == 200 and b"Online metrics" in listing.content
    page = client.get(f"/admin/llmrec_django/experiment/{experiment.pk}/dashboard/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="experiment-arms"' in html and "control" in html and "<svg" in html
    assert "Click-through rate" in html and "vs control, ctr" in html


def test_the_admin_refuses_overlapping_experiments_and_arms_without_traffic(tenant):
    from django.core.exceptions import ValidationError

    Experiment.objects.create(tenant=tenant, name="first")
    second = Experiment(tenant=tenant, name="second")
    with pytest.raises(ValidationError, match="'first' is active over the same time"):
        second.full_clean()
    later = Experiment(tenant=tenant, name="later", is_active=False)
    later.full_clean()  # an inactive one may wait
    backwards = Experiment(
        tenant=tenant,
        name="backwards",
        is_active=False,
        starts_at=timezone.now(),
        ends_at=timezone.now() - timedelta(days=1),
    )
    with pytest.raises(ValidationError, match="after the start"):
        backwards.full_clean()


def test_experiment_report_api_is_for_staff_and_api_keys_only(shop, tenant):
    from tests.api_helpers import API, account, api_key_client, logged_in

    items, users, _ = shop
    experiment = _simulated_experiment(tenant, users, items)
    url = f"{API}experiments/{experiment.name}/report/"
    assert logged_in(account("nobody")).get(url).status_code == 403
    client, _ = api_key_client(tenant)
    body = client.get(url).json()
    assert [g["name"] for g in body["groups"]] == ["control", "b"]
    assert sum(g["clicks"] for g in body["groups"]) == 20
    assert client.get(f"{API}experiments/nope/report/").status_code == 404
    listed = client.get(f"{API}experiments/").json()
    assert listed[0]["name"] == experiment.name and {a["name"] for a in listed[0]["arms"]} == {"control", "b"}
    online = client.get(f"{API}reports/online/", {"days": 2}).json()
    assert [g["name"] for g in online["groups"]] == ["for_you"]
    assert client.get(f"{API}reports/online/", {"days": 0}).status_code == 400


def test_api_lists_carry_their_id_arm_and_positions(shop, tenant):
    from tests.api_helpers import API, api_key_client

    items, users, _ = shop
    make_experiment(tenant, {"name": "only", "traffic": 1, "is_control": True})
    body = api_key_client(tenant)[0].get(f"{API}users/{users[0].external_id}/recommendations/", {"k": 3}).json()
    assert uuid.UUID(body["list_id"]) and body["experiment"] == "blend-test" and body["arm"] == "only"
    assert [i["position"] for i in body["items"]] == [1, 2, 3]
    assert ServedList.objects.get(pk=body["list_id"]).arm.name == "only"


def test_erasing_a_user_removes_their_served_lists_assignments_and_attributions(shop, tenant):
    from llmrec_django.recommend import privacy

    items, users, _ = shop
    _simulated_experiment(tenant, users, items)
    attribution.attribute(tenant)
    user = users[0]
    assert ServedList.objects.filter(user=user).exists() and ExperimentAssignment.objects.filter(user=user).exists()
    privacy.erase_user(user)
    assert not ServedList.objects.filter(user_id=user.pk).exists()
    assert not ExperimentAssignment.objects.filter(user_id=user.pk).exists()
    assert not Attribution.objects.filter(served_list__user_id=user.pk).exists()


def test_the_admin_form_checks_the_arms(shop, tenant, client):
    from django.contrib.auth import get_user_model

    staff = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(staff)

    def post(*arms):
        data = {
            "tenant": tenant.pk, "name": "exp", "description": "", "is_active": "on",
            "arms-TOTAL_FORMS": str(len(arms)), "arms-INITIAL_FORMS": "0",
            "arms-MIN_NUM_FORMS": "0", "arms-MAX_NUM_FORMS": "1000",
        }  # fmt: skip
        for n, arm in enumerate(arms):
            for key, value in arm.items():
                data[f"arms-{n}-{key}"] = value
        return client.post("/admin/llmrec_django/experiment/add/", data)

    one = post({"name": "a", "traffic": "100", "strategy": "{}"})
    assert b"two or more arms" in one.content and not Experiment.objects.exists()
    bad = post(
        {"name": "a", "traffic": "50", "strategy": "{}"},
        {"name": "b", "traffic": "50", "strategy": '{"mmr_lambda": 3}'},
    )
    assert b"mmr_lambda must lie in [0, 1]" in bad.content and not Experiment.objects.exists()
    shadows = post(
        {"name": "a", "traffic": "50", "is_shadow": "on", "strategy": "{}"},
        {"name": "b", "traffic": "0", "strategy": "{}"},
    )
    assert b"At least one arm must be shown" in shadows.content
    good = post(
        {"name": "a", "traffic": "50", "is_control": "on", "strategy": "{}"},
        {"name": "b", "traffic": "50", "strategy": '{"sources": ["vector", "kg"]}'},
    )
    assert good.status_code == 302
    assert [a.name for a in Experiment.objects.get(name="exp").arms.all()] == ["a", "b"]
    assert serving.for_user(users_of(tenant)[0], k=3).experiment == "exp"  # served at once


def users_of(tenant):
    return list(UserProfile.objects.filter(tenant=tenant).order_by("pk"))


def test_a_ready_version_served_by_an_arm_keeps_following_changes(shop, tenant):
    from llmrec_django.catalogue import embedding
    from llmrec_django.database import vectorstore
    from llmrec_django.models import EmbeddingVersion

    items, users, active = shop
    spare = vectorstore.create_version(tenant, model_name="spare", model_path="/spare", dimension=4)
    EmbeddingVersion.objects.filter(pk=spare.pk).update(status=EmbeddingVersion.Status.READY)
    assert [v.pk for v in embedding.versions_to_maintain(tenant.pk)] == [active.pk]
    make_experiment(
        tenant, {"name": "a", "traffic": 1}, {"name": "b", "traffic": 1, "strategy": {"version_id": spare.pk}}
    )
    assert {v.pk for v in embedding.versions_to_maintain(tenant.pk)} == {active.pk, spare.pk}
    Experiment.objects.update(is_active=False)
    assert [v.pk for v in embedding.versions_to_maintain(tenant.pk)] == [active.pk]


def test_a_user_who_turned_personalisation_off_takes_part_in_no_experiment(shop, tenant):
    items, users, _ = shop
    make_experiment(tenant, {"name": "a", "traffic": 1, "is_control": True}, {"name": "b", "traffic": 1})
    UserProfile.objects.filter(pk=users[0].pk).update(personalisation_enabled=False)
    result = serving.for_user(UserProfile.objects.get(pk=users[0].pk), k=4)
    assert result.experiment is None and result.source == "fallback:popularity"
    assert not ExperimentAssignment.objects.filter(user=users[0]).exists()
    assert ServedList.objects.get(pk=result.list_id).experiment is None
