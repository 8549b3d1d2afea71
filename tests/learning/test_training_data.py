"""Training examples: pairs from interactions, the time-based validation split, negatives."""

from collections import Counter

import pytest

from llmrec_django.core.text import user_history_text
from llmrec_django.learning.training import config as training_config
from llmrec_django.learning.training import data as training_data
from tests.training_helpers import FILMS, GEAR, build_shop, fast_training


@pytest.fixture
def shop(tenant, tiny_encoder, settings, tmp_path):
    fast_training(settings, ARTIFACTS=str(tmp_path))
    return build_shop(tenant)


def test_user_text_joins_profile_searches_and_recent_titles():
    assert user_history_text("Likes films", ["space opera"], ["Alien", "", "Heat"]) == (
        "Likes films. Recently searched: space opera. Recently liked: Alien; Heat."
    )
    assert user_history_text("", [], []) == ""


def test_the_split_holds_out_each_users_last_liked_item(tenant, shop):
    items, users, _ = shop
    split = training_data.load_split(tenant)
    last = {}
    for u, profile in enumerate(users):
        taste = FILMS if u % 2 else GEAR
        order = taste[u % 3 :] + taste[: u % 3]
        last[profile.pk] = items[order[4]].pk
    assert {user: held[0] for user, held in split.held_out.items()} == last
    for user, history in split.users.items():
        assert last[user] not in [item for _, item in history.liked]
        assert [t for t, _ in history.liked] == sorted(t for t, _ in history.liked)
    assert split.window["held_out_pairs"] == len(users)
    assert split.window["first_event"] < split.window["last_train_event"] <= split.window["last_event"]
    # The impressions the users ignored are known to the split.
    assert all(len(split.ignored[u.pk]) == 1 for u in users)


def test_held_out_items_sets_how_many_of_each_users_last_items_the_split_and_the_promotion_hold_out(
    tenant, shop, settings
):
    from llmrec_django.learning.training import promotion
    from llmrec_django.models import TrainingRun

    items, users, _ = shop
    settings.LLMREC = {**settings.LLMREC, "TRAINING": {**settings.LLMREC["TRAINING"], "HELD_OUT_ITEMS": 2}}
    split = training_data.load_split(tenant)
    for u, profile in enumerate(users):
        taste = FILMS if u % 2 else GEAR
        order = taste[u % 3 :] + taste[: u % 3]
        assert split.held_out[profile.pk] == sorted([items[order[3]].pk, items[order[4]].pk])
        assert [item for _, item in split.users[profile.pk].liked] == [items[i].pk for i in order[:3]]
    assert split.window["held_out_pairs"] == 2 * len(users)
    assert split.window["held_out_items"] == 2 and "last 2 positive items" in split.window["split"]
    params = training_config.run_params("encoder", {"history_items": 2, "hard_negatives": 0})
    assert len(training_data.encoder_examples(tenant, params, split).valid) == 2 * len(users)
    # The promotion's evaluation scores the same held-out items.
    run = TrainingRun(tenant=tenant, kind="encoder", params=params)
    assert promotion.evaluation_options(run, None).test_events == 2


def test_encoder_pairs_use_only_earlier_history_and_never_the_held_out_item(tenant, shop):
    items, users, _ = shop
    params = training_config.run_params("encoder", {"history_items": 2, "hard_negatives": 1, "blend_holdout": False})
    examples = training_data.encoder_examples(tenant, params)
    texts = {i.pk: training_data.item_text_map([i.pk])[i.pk] for i in items}
    split = training_data.load_split(tenant)
    held_out_texts = {texts[i] for held in split.held_out.values() for i in held}
    # 12 users x 3 training positives each (the first one has no history but a profile text: 4).
    assert len(examples.train) == 12 * 4
    for anchor, positive, negatives in examples.train:
        assert positive not in anchor
        assert anchor.count(";") <= 1  # at most two titles
        assert len(negatives) == 1 and negatives[0] != positive
    assert {e[1] for e in examples.valid} <= held_out_texts
    assert len(examples.valid) == len(users)
    assert examples.window["train_examples"] == len(examples.train)
    assert examples.window["hard_negative_users"] > 0  # mined from the active version's index


def test_the_pair_the_blend_holds_out_is_left_out_of_the_encoders_training(tenant, shop):
    items, users, _ = shop
    split = training_data.load_split(tenant)
    # Each user's last new item of the training part, as the blend's fit holds it out.
    assert set(split.blend_held_out) == {u.pk for u in users}
    liked_last = {u: h.liked[-1][1] for u, h in split.users.items() if h.liked}
    dropped = {u for u, item in split.blend_held_out.items() if liked_last.get(u) == item}
    assert dropped  # some users' last new item is one they liked (others: an ignored impression)
    texts = training_data.item_text_map([i.pk for i in items])
    params = training_config.run_params("encoder", {"history_items": 2, "hard_negatives": 0})
    kept = training_data.encoder_examples(tenant, params).train
    everything = training_data.encoder_examples(tenant, {**params, "blend_holdout": False}).train
    # Exactly those pairs are gone: (user text, the blend's held-out item) for each such user.
    gone = Counter((a, p) for a, p, _ in everything) - Counter((a, p) for a, p, _ in kept)
    assert sorted(p for _, p in gone.elements()) == sorted(texts[split.blend_held_out[u]] for u in dropped)


def test_catalogue_negatives_mask_each_users_own_items(tenant, shop):
    items, users, _ = shop
    params = training_config.run_params(
        "encoder", {"history_items": 2, "hard_negatives": 0, "catalogue_negatives": True, "blend_holdout": False}
    )
    examples = training_data.encoder_examples(tenant, params)
    split = training_data.load_split(tenant)
    # The whole (18-item) catalogue, in item order, as texts.
    texts = training_data.item_text_map([i.pk for i in items])
    assert examples.catalogue == [texts[i.pk] for i in sorted(items, key=lambda i: i.pk)]
    assert examples.window["catalogue_items"] == 18 and examples.window["catalogue_negatives"] is True
    column_of = {text: j for j, text in enumerate(examples.catalogue)}
    masked_sets = set()
    for _anchor, positive, negatives, masked in examples.train:
        assert negatives == [] and column_of[positive] in masked  # the positive is never a negative
        masked_sets.add(masked)
    # Every masked set is exactly one user's training items (their positives and the impression).
    user_sets = {tuple(sorted(column_of[texts[i]] for i in split.known[u.pk])) for u in users}
    assert masked_sets <= user_sets and len(masked_sets) > 1
    # A sample of a larger catalogue: seeded, and only the sampled items can be masked.
    small = training_data.encoder_examples(tenant, {**params, "catalogue_sample": 5})
    assert (
        len(small.catalogue) == 5
        and small.catalogue == training_data.encoder_examples(tenant, {**params, "catalogue_sample": 5}).catalogue
    )
    assert all(max(masked, default=0) < 5 for *_, masked in small.train)
    # By default the catalogue is only ranked by the validation: three-part training examples,
    # validation pairs with the user's columns and the held-out item's column.
    default = training_data.encoder_examples(tenant, {**params, "catalogue_negatives": False})
    assert default.catalogue == examples.catalogue and not default.catalogue_negatives
    assert all(len(e) == 3 for e in default.train)
    for _anchor, positive, own, target in default.valid:
        assert examples.catalogue[target] == positive and target not in own
    assert training_data.encoder_examples(tenant, {**params, "catalogue_sample": 0}).catalogue == []


def test_hard_negatives_exclude_the_users_own_items(tenant, shop):
    _, users, _ = shop
    split = training_data.load_split(tenant)
    pools = training_data.hard_negative_pools(tenant, [u.pk for u in users], split.known, depth=12)
    assert pools
    for user, pool in pools.items():
        assert not set(pool) & split.known[user]


def test_collaborative_hard_negatives_are_what_the_collaborative_model_would_recommend(tenant, shop):
    """Mined from ALS / item-KNN fitted on the training part, never the user's own items; "both"
    alternates them with the ANN pool."""
    _, users, _ = shop
    split = training_data.load_split(tenant)
    pools = training_data.collaborative_pools(split, [u.pk for u in users], depth=6 + training_data.SKIP_NEAREST)
    assert set(pools) == {u.pk for u in users}
    for user, pool in pools.items():
        assert pool and not set(pool) & split.known[user]
    both = training_data.mined_pools(tenant, split, {u.pk for u in users}, "both", depth=12)
    ann = training_data.hard_negative_pools(tenant, [u.pk for u in users], split.known, depth=12)
    user = users[0].pk
    assert set(both[user]) == set(ann[user]) | set(
        training_data.collaborative_pools(split, [user], depth=12).get(user, [])
    )
    with pytest.raises(ValueError, match="hard_negatives_from"):
        training_data.mined_pools(tenant, split, {user}, "random", depth=12)


def test_max_examples_keeps_a_seeded_sample(tenant, shop):
    params = training_config.run_params("encoder", {"max_examples": 10, "hard_negatives": 0})
    first = training_data.encoder_examples(tenant, params)
    again = training_data.encoder_examples(tenant, params)
    assert len(first.train) == 10
    assert first.train == again.train


def test_reranker_examples_label_clicks_one_and_ignored_or_sampled_items_zero(tenant, shop):
    items, users, _ = shop
    params = training_config.run_params("reranker", {"negatives_per_positive": 2})
    examples = training_data.reranker_examples(tenant, params)
    positives = [e for e in examples.train if e[2] == 1.0]
    negatives = [e for e in examples.train if e[2] == 0.0]
    assert len(positives) == 12 * 4
    assert len(negatives) == 2 * len(positives)
    ignored_texts = {training_data.item_text_map([items[i].pk])[items[i].pk] for i in range(len(items))}
    assert {e[1] for e in negatives} <= ignored_texts
    assert examples.window["ignored_impressions_used"] == len(users)
    assert {e[2] for e in examples.valid} == {0.0, 1.0}


def test_unknown_parameters_are_refused():
    with pytest.raises(ValueError, match="Unknown encoder training parameter"):
        training_config.run_params("encoder", {"epoch": 3})
    with pytest.raises(ValueError, match="learning_rate"):
        training_config.run_params("encoder", {"learning_rate": 0})
    with pytest.raises(ValueError, match="Unknown model kind"):
        training_config.run_params("ranker")


def test_a_monitor_the_run_cannot_report_is_refused_before_any_work():
    assert training_config.run_params("encoder", {"monitor": "valid_ndcg@10"})["monitor"] == "valid_ndcg@10"
    assert training_config.run_params("reranker", {"monitor": "valid_auc"})["monitor"] == "valid_auc"
    with pytest.raises(ValueError, match="monitor must be one of valid_loss, valid_auc"):
        training_config.run_params("reranker", {"monitor": "valid_ndcg@10"})
    with pytest.raises(ValueError, match="catalogue_sample > 0"):
        training_config.run_params("encoder", {"monitor": "valid_ndcg@10", "catalogue_sample": 0})
    with pytest.raises(ValueError, match="monitor"):
        training_config.run_params("encoder", {"monitor": "ndcg"})


def test_item_text_anchors_list_the_recent_items_texts_newest_first(tenant, shop):
    params = training_config.run_params("encoder", {"history_items": 2, "hard_negatives": 0, "anchor": "item_texts"})
    examples = training_data.encoder_examples(tenant, params)
    split = training_data.load_split(tenant)
    texts = training_data.item_text_map({i for h in split.users.values() for _, i in h.liked})
    history = next(iter(split.users.values()))
    first, second, third = (texts[i] for _, i in history.liked[:3])
    expected = f"{user_history_text(history.profile, history.queries, [])} {second} {first}"
    assert (expected, third, []) in examples.train
    with pytest.raises(ValueError, match="anchor must be"):
        training_data.encoder_examples(tenant, {**params, "anchor": "both"})


def test_history_anchors_carry_the_stated_text_and_the_recent_items_texts_oldest_first(tenant, shop):
    from llmrec_django.core.text import build_user_text
    from llmrec_django.ml.encoders.user_tower import HistoryAnchor

    params = training_config.run_params("encoder", {"history_items": 2, "hard_negatives": 0, "anchor": "history"})
    examples = training_data.encoder_examples(tenant, params)
    split = training_data.load_split(tenant)
    texts = training_data.item_text_map({i for h in split.users.values() for _, i in h.liked})
    user, history = next(iter(split.users.items()))
    first, second, third, *_ = (texts[i] for _, i in history.liked)
    stated = build_user_text(history.profile, history.queries)
    assert (HistoryAnchor(stated, (first, second)), third, []) in examples.train
    assert all(isinstance(e[0], HistoryAnchor) and len(e[0].items) <= 2 for e in examples.train + examples.valid)
    # Validation: the user's last two training items before the held-out one.
    last_two = tuple(texts[i] for _, i in history.liked[-2:])
    held_out = texts[split.held_out[user][0]]
    assert (HistoryAnchor(stated, last_two), held_out) in [e[:2] for e in examples.valid]


def test_a_generated_profile_text_stays_out_of_the_split(tenant, shop):
    """A generated text was written from every event, the held-out ones too; a text the user or
    the site wrote is theirs and stays."""
    from llmrec_django.models import UserProfile

    items, users, _ = shop
    generated, written = users[0], users[1]
    UserProfile.objects.filter(pk=generated.pk).update(
        profile_text="Likes the held-out film", profile_text_source=UserProfile.TextSource.GENERATED
    )
    UserProfile.objects.filter(pk=written.pk).update(
        profile_text="I like quiet films", profile_text_source=UserProfile.TextSource.USER
    )
    split = training_data.load_split(tenant)
    assert split.users[generated.pk].profile == ""
    assert split.users[written.pk].profile == "I like quiet films"
