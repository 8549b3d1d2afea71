"""Offline evaluation: the split, the scratch tenant, the metrics, the command."""

import json
from datetime import timedelta

import numpy as np
import pytest
from django.core.management import call_command
from django.utils import timezone

from llmrec_django.core.metrics import ndcg_at_k
from llmrec_django.database import vectorstore
from llmrec_django.learning.evaluation import (
    BASELINES,
    HYBRID,
    EvaluationOptions,
    EventLog,
    drop_scratch_tenant,
    evaluate_tenant,
    load_log,
    split_log,
)
from llmrec_django.models import EmbeddingVersion, Entity, Interaction, Item, Relation, Tenant, UserProfile

START = timezone.now() - timedelta(days=30)
METRIC_KEYS = ("precision@3", "recall@3", "f1@3", "ndcg@3", "hit_rate@3", "mrr@3", "coverage@3", "diversity@3")


def make_log(events):
    """An EventLog from (user, item, weight, day) tuples, in the given (time) order."""
    users, items, weights, days = (np.array(column) for column in zip(*events, strict=True))
    stamps = [START + timedelta(days=float(d)) for d in days]
    return EventLog(
        ids=np.arange(len(events)) + 100,
        users=users.astype(np.int64),
        items=items.astype(np.int64),
        weights=weights.astype(np.float64),
        times=np.array([s.timestamp() for s in stamps]),
        stamps=stamps,
        devices=[""] * len(events),
        locations=[""] * len(events),
    )


def test_the_temporal_split_holds_out_each_users_last_new_item_with_all_its_events():
    log = make_log(
        [
            (1, 10, 1.0, 0),
            (1, 11, 0.5, 1),  # viewed ...
            (1, 12, 1.0, 2),
            (1, 11, 3.0, 3),  # ... then bought: the pair (1, 11) dates from day 1, it is not the last
            (1, 13, 0.5, 4),  # the last new item: held out
            (1, 13, 3.0, 5),  # with its purchase
            (1, 10, -2.0, 6),  # after the held-out item: the future, dropped
            (2, 10, 1.0, 0),
            (2, 12, 1.0, 1),
            (3, 12, 1.0, 0),  # one item only: stays in training
        ]
    )
    split = split_log(log, EvaluationOptions(split="temporal", test_events=1))
    assert split.relevant == {1: {13}, 2: {12}}
    assert log.ids[split.test].tolist() == [104, 105, 108]
    assert 106 not in log.ids[split.train]  # the later dislike
    assert set(log.ids[split.train].tolist()) == {100, 101, 102, 103, 107, 109}
    assert len(split.valid) == 0


def test_the_random_split_keeps_validation_pairs_out_of_training_and_test():
    log = make_log([(u, i, 1.0, i) for u in range(1, 4) for i in range(20)])
    split = split_log(log, EvaluationOptions(split="random", seed=3))
    parts = [set(log.ids[rows].tolist()) for rows in (split.train, split.valid, split.test)]
    assert all(not (a & b) for j, a in enumerate(parts) for b in parts[j + 1 :])
    assert sum(len(p) for p in parts) == 60
    assert len(parts[1]) == len(parts[2]) == 6  # floor(0.1 * 20) per user


# ---------------------------------------------------------------------------------------------
# A small shop evaluated end to end (tiny encoder)


@pytest.fixture
def shop(tenant, tiny_encoder):
    """Eight items (a-h); six users who all like a, b and c, each then something else; a KG genre."""
    items = {}
    for name in "abcdefgh":
        items[name] = Item.objects.create(
            tenant=tenant, external_id=name, title=f"Film {name}", description=f"A film called {name}", category="film"
        )
    genre = Entity.objects.create(tenant=tenant, entity_type="genre", name="drama")
    for name in "abcg":
        Relation.objects.create(tenant=tenant, head_item=items[name], relation="has_genre", tail_entity=genre)
    histories = {
        "u1": "abcd",
        "u2": "abce",
        "u3": "abcd",
        "u4": "abcf",
        "u5": "abdg",  # g: nobody else has it, so it is a cold item once held out
        "u6": "ab",
    }
    users = {}
    for uid, names in histories.items():
        users[uid] = UserProfile.objects.create(tenant=tenant, external_id=uid, profile_text="likes drama")
        for day, name in enumerate(names):
            Interaction.objects.create(
                tenant=tenant,
                event_id=f"{uid}-{name}",
                user=users[uid],
                item=items[name],
                event_type="purchase",
                timestamp=START + timedelta(days=day),
            )
    # A behaviour edge user -> item, which must not reach the scratch tenant.
    Relation.objects.create(tenant=tenant, head_user=users["u1"], relation="bought", tail_item=items["d"])
    return items, users


def test_the_scratch_tenant_gets_the_catalogue_and_only_the_training_events(tenant, shop):
    items, users = shop
    report = evaluate_tenant(tenant, EvaluationOptions(k=3, keep_scratch=True))
    scratch = Tenant.objects.get(slug=report.scratch_tenant)
    assert scratch.slug == f"{tenant.slug}-eval"
    held_out = {"u1-d", "u2-e", "u3-d", "u4-f", "u5-g", "u6-b"}  # each user's last new item
    copied = set(Interaction.objects.for_tenant(scratch).values_list("event_id", flat=True))
    source = set(Interaction.objects.for_tenant(tenant).values_list("event_id", flat=True))
    assert copied == source - held_out
    assert report.split["test_events"] == len(held_out)
    assert set(Item.objects.for_tenant(scratch).values_list("external_id", flat=True)) == set("abcdefgh")
    assert set(UserProfile.objects.for_tenant(scratch).values_list("external_id", flat=True)) == set(users)
    edges = Relation.objects.for_tenant(scratch)
    assert edges.count() == 4 and not edges.filter(head_user__isnull=False).exists()
    assert Entity.objects.for_tenant(scratch).filter(name="drama").exists()
    version = vectorstore.active_version(scratch)
    assert version is not None and version.item_vectors.count() == 8
    # The source tenant is untouched.
    assert Interaction.objects.for_tenant(tenant).count() == len(source)
    drop_scratch_tenant(scratch.slug)


def test_metrics_match_a_hand_computation(tenant, shop):
    report = evaluate_tenant(tenant, EvaluationOptions(k=3))
    by_name = {i.pk: i.external_id for i in Item.objects.for_tenant(tenant)}
    relevant = {u: {by_name[i] for i in items} for u, items in report.relevant.items()}
    lists = {u: [by_name[i] for i in items] for u, items in report.lists["most_popular"].items()}
    # Held out: u1 d, u2 e, u3 d, u4 f, u5 g, u6 b. Training popularity (users with a positive
    # event): a 6, b 5, c 4, d 1 (u5), the rest 0 (ties: catalogue order); most-popular shows each
    # user the top 3 of what they have not had yet.
    user_pk = dict(UserProfile.objects.for_tenant(tenant).values_list("external_id", "pk"))
    expected = {"u1": "def", "u2": "def", "u3": "def", "u4": "def", "u5": "cef", "u6": "bcd"}
    assert {uid: "".join(lists[user_pk[uid]]) for uid in expected} == expected
    assert relevant[user_pk["u6"]] == {"b"}
    # Hits: u1 d at rank 1, u2 e at 2, u3 d at 1, u4 f at 3, u5 none, u6 b at 1.
    hand_ndcg = (1 + 1 / np.log2(3) + 1 + 1 / np.log2(4) + 0 + 1) / 6
    assert report.methods["most_popular"]["ndcg@3"] == pytest.approx(hand_ndcg, abs=1e-6)
    assert report.methods["most_popular"]["mrr@3"] == pytest.approx((1 + 1 / 2 + 1 + 1 / 3 + 0 + 1) / 6, abs=1e-6)
    assert report.methods["most_popular"]["recall@3"] == pytest.approx(5 / 6, abs=1e-6)
    assert report.methods["most_popular"]["coverage@3"] == pytest.approx(len(set("defbc")) / 8)
    ndcg = np.mean([ndcg_at_k(lists[u], relevant[u], 3) for u in relevant])
    hits = np.mean([float(bool(set(lists[u][:3]) & relevant[u])) for u in relevant])
    assert report.methods["most_popular"]["ndcg@3"] == pytest.approx(ndcg, abs=1e-6)
    assert report.methods["most_popular"]["hit_rate@3"] == pytest.approx(hits, abs=1e-6)
    precision = np.mean([len(set(lists[u]) & relevant[u]) / 3 for u in relevant])
    assert report.methods["most_popular"]["precision@3"] == pytest.approx(precision, abs=1e-6)


def test_cold_item_recall_is_measured_on_held_out_items_without_training_events(tenant, shop):
    items, users = shop
    report = evaluate_tenant(tenant, EvaluationOptions(k=3, cold_user_max=2))
    # Held out: u1 d, u2 e, u3 d, u4 f, u5 g, u6 b; nobody trained on e, f or g (d: u5 did).
    cold_pairs = [("u2", "e"), ("u4", "f"), ("u5", "g")]
    assert report.split["cold_items"] == 3 and report.split["cold_item_pairs"] == 3
    assert report.split["cold_item_users"] == 3
    cold = {items[x].pk for x in "efgh"}  # h: in nobody's history at all
    for method, lists in report.lists.items():
        hits = [items[x].pk in lists[users[u].pk][:3] for u, x in cold_pairs]
        assert report.methods[method]["cold_item_recall@3"] == pytest.approx(np.mean(hits)), method
        assert report.methods[method]["cold_item_hits@3"] == sum(hits), method
        shown = [len(cold & set(lists[u][:3])) / 3 for u in report.relevant]
        assert report.methods[method]["cold_item_share@3"] == pytest.approx(np.mean(shown)), method
    assert "mean over 3 users (pairs found of 3)" in report.cold_item_summary()
    # Most-popular lists (u2 d e f, u4 d e f, u5 c e f) reach e and f only by filling up with zeros.
    assert report.methods["most_popular"]["cold_item_recall@3"] == pytest.approx(2 / 3)
    # Cold users: at most 2 positive training events: only u6 (one), whose list b c d finds b.
    assert report.split["cold_users"] == 1
    assert report.methods["most_popular"]["cold_users"]["users"] == 1
    assert report.methods["most_popular"]["cold_users"]["ndcg@3"] == pytest.approx(1.0)


def test_every_users_history_is_masked_for_every_method(tenant, shop):
    items, users = shop
    report = evaluate_tenant(tenant, EvaluationOptions(k=3, also_without_mmr=True))
    log = load_log(tenant)
    split = split_log(log, EvaluationOptions(k=3))
    history = {}
    for row in split.train.tolist():
        history.setdefault(int(log.users[row]), set()).add(int(log.items[row]))
    assert set(report.lists) == {HYBRID, "hybrid_no_mmr", *BASELINES}
    for method, lists in report.lists.items():
        for user, shown in lists.items():
            assert not set(shown) & history.get(user, set()), (method, user)
            assert len(shown) <= 3


def test_the_command_writes_every_method_and_metric_to_json(tenant, shop, tmp_path, capsys):
    out = tmp_path / "eval.json"
    call_command("llmrec_evaluate", k=3, json_path=str(out), verbosity=0)
    printed = capsys.readouterr().out
    assert "hybrid / best of item_knn, als" in printed and "most_popular" in printed
    report = json.loads(out.read_text())
    assert set(report["methods"]) == {HYBRID, *BASELINES}
    for metrics in report["methods"].values():
        assert set(METRIC_KEYS) <= set(metrics)
        assert "cold_item_recall@3" in metrics and "users" in metrics["cold_users"]
    assert report["split"]["scheme"] == "temporal" and report["split"]["test_events"] == 6
    assert report["k"] == 3 and report["machine"]["cpus"] and report["timings"]["total"] > 0
    assert report["version"]["reused_vectors"] is False
    assert "lists" not in report


def test_the_scratch_tenant_is_replaced_on_each_run_and_dropped_afterwards(tenant, shop):
    first = evaluate_tenant(tenant, EvaluationOptions(k=3, keep_scratch=True))
    old = Tenant.objects.get(slug=first.scratch_tenant)
    old_version = vectorstore.active_version(old)
    evaluate_tenant(tenant, EvaluationOptions(k=3, keep_scratch=True))
    assert Tenant.objects.filter(slug=first.scratch_tenant).count() == 1
    assert Tenant.objects.get(slug=first.scratch_tenant).pk != old.pk
    assert not vectorstore.index_exists(old_version)
    assert not EmbeddingVersion.objects.filter(pk=old_version.pk).exists()
    evaluate_tenant(tenant, EvaluationOptions(k=3))
    assert not Tenant.objects.filter(slug=first.scratch_tenant).exists()
    assert not Interaction.objects.filter(tenant__slug=first.scratch_tenant).exists()


def test_reusing_vectors_copies_the_sources_item_vectors(tenant, shop):
    from llmrec_django.catalogue import embedding

    source_version = embedding.build_version_in_process(tenant, concurrently=False)
    report = evaluate_tenant(tenant, EvaluationOptions(k=3, reuse_vectors=True, keep_scratch=True))
    assert report.version["reused_vectors"] is True and report.version["copied"] == 8
    scratch_version = vectorstore.active_version(Tenant.objects.get(slug=report.scratch_tenant))
    by_external = dict(Item.objects.for_tenant(tenant).values_list("external_id", "pk"))
    scratch_items = dict(Item.objects.filter(tenant__slug=report.scratch_tenant).values_list("external_id", "pk"))
    original = vectorstore.item_vectors(source_version, [by_external["a"]])[by_external["a"]]
    copied = vectorstore.item_vectors(scratch_version, [scratch_items["a"]])[scratch_items["a"]]
    np.testing.assert_allclose(original, copied)
