"""Scoring and re-ranking: R_ui, the learnt blend, candidate merging, trending, MMR, business rules."""

import json
import math

import numpy as np
import pytest
import scipy.sparse

from llmrec_django.core.ranking import (
    HYBRID_FEATURES,
    BlendModel,
    apply_rules,
    closest_liked_similarity,
    closest_new_items,
    fit_blend_cross_fitted,
    fit_blend_weights,
    fuse_reranker,
    hybrid_features,
    hybrid_scores,
    kg_relation_weight,
    kg_relation_weight_array,
    log_loss,
    merge_candidates,
    mmr,
    roc_auc,
    standardise_within_list,
    time_decayed_popularity,
    user_entity_weights,
)

DAY = 86_400.0

# --- R_ui ---------------------------------------------------------------------------------------


def test_user_entity_weights_follow_interactions_through_edges():
    weights = user_entity_weights(
        {"dune": 2.0, "alien": 1.0, "cats": -1.0},
        {"dune": {"scifi": 1.0, "villeneuve": 0.5}, "alien": {"scifi": 1.0}, "cats": {"musical": 1.0}},
    )
    assert weights == {"scifi": 3.0, "villeneuve": 1.0, "musical": -1.0}


def test_kg_weight_is_one_without_a_path_and_grows_with_shared_entities():
    user = {"scifi": 3.0, "villeneuve": 1.0, "musical": -2.0}
    # Shares of the user's positive weight (4): scifi .75, villeneuve .25, musical -.5.
    weights = kg_relation_weight(
        user,
        {
            "blade runner": {"scifi": 1.0, "villeneuve": 1.0},  # s = .75 + .25 = 1
            "arrival": {"villeneuve": 2.0},  # s = .25 * 2 = .5
            "space musical": {"scifi": 1.0, "musical": 1.0},  # s = .75 - .5 = .25
            "cats": {"musical": 1.0},  # s = -.5: no boost, but no penalty below 1
            "cooking show": {"food": 1.0},  # no path at all
        },
    )
    assert weights["blade runner"] == pytest.approx(1 + math.tanh(1.0))
    assert weights["arrival"] == pytest.approx(1 + math.tanh(0.5))
    assert weights["space musical"] == pytest.approx(1 + math.tanh(0.25))
    assert weights["cats"] == 1.0
    assert weights["cooking show"] == 1.0


def test_kg_weight_stays_below_one_plus_cap():
    weights = kg_relation_weight({"e": 1.0}, {"i": {"e": 1000.0}}, cap=0.5)
    assert 1.0 < weights["i"] <= 1.5
    assert kg_relation_weight({}, {"i": {"e": 1.0}}) == {"i": 1.0}


def test_kg_weight_array_matches_the_dict_version_and_batches_users():
    user = np.array([3.0, 1.0, -2.0])
    candidates = scipy.sparse.csr_matrix(np.array([[1.0, 1.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 1.0]]))
    single = kg_relation_weight_array(user, candidates)
    assert single == pytest.approx([1 + math.tanh(1.0), 1 + math.tanh(0.5), 1.0])
    batch = kg_relation_weight_array(np.vstack([user, np.zeros(3)]), candidates.toarray())
    assert batch.shape == (2, 3)
    assert batch[0] == pytest.approx(single)
    assert batch[1] == pytest.approx([1.0, 1.0, 1.0])  # a user with no KG interest: R = 1 everywhere


# --- hybrid score and blend --------------------------------------------------------------------


def test_hybrid_score_defaults_to_the_seed_design_cos_times_r():
    cosine = np.array([0.5, 0.4, 0.9])
    kg_weight = np.array([1.0, 1.5, 1.0])
    scores = hybrid_scores(cosine, kg_weight)
    # cos * R = (.5, .6, .9): mean 2/3, standard deviation sqrt(78/2700), standardised within the list
    standardised = np.array([-1 / 6, -1 / 15, 7 / 30]) / math.sqrt(78 / 2700)
    assert standardised == pytest.approx([-0.98058, -0.39223, 1.37281], abs=1e-5)
    assert scores == pytest.approx(1 / (1 + np.exp(-standardised)))
    assert np.argsort(-scores).tolist() == [2, 1, 0]  # .9 > .4 * 1.5 = .6 > .5


def test_standardise_within_list():
    assert standardise_within_list([1.0, 2.0, 3.0]) == pytest.approx([-math.sqrt(1.5), 0.0, math.sqrt(1.5)])
    assert standardise_within_list([4.0, 0.0]) == pytest.approx([1.0, -1.0])
    assert standardise_within_list([0.3, 0.3, 0.3]).tolist() == [0.0, 0.0, 0.0], "no spread: no information"
    assert standardise_within_list([]).tolist() == []


def test_hybrid_features_fill_missing_sources():
    features = hybrid_features([0.5, 0.2], None, [1.0, 2.0])
    np.testing.assert_allclose(features, [[1.0, -1.0] + [0.0] * 6, [-1.0, 1.0] + [0.0] * 6])


def test_hybrid_features_standardise_within_the_list_and_repeat_relevance_for_cold_items():
    s = math.sqrt(1.5)  # the standardised ends of three equally spaced values
    features = hybrid_features(
        [0.3, 0.2, 0.2],  # x R = (.3, .2, .4)
        [1.0, 1.0, 2.0],
        [0.4, 0.1, -0.2],
        [0.5, 0.5, 0.5],  # the same popularity everywhere says nothing
        item_knn=[0.0, 3.0, 6.0],
        known=[1, 1, 0],
        closest_liked=[0.9, 0.7, 0.8],
    )
    expected = [[0.0, s, -s, 0.0, 0.0, s, 0, 0], [-s, 0.0, 0.0, 0.0, 0.0, -s, 0, 0], [s, -s, s, 0.0, s, 0.0, 0, 0]]
    np.testing.assert_allclose(features, expected, atol=1e-12)
    assert len(features[0]) == len(HYBRID_FEATURES)
    with pytest.raises(ValueError, match="one value per candidate"):
        hybrid_features([0.3, 0.2], item_knn=[1.0])


def test_closest_liked_similarity_matches_a_candidate_on_its_nearest_liked_items():
    liked = np.array([[1.0, 0.0], [0.0, 1.0], [3.0, 4.0]])  # unit: (1, 0), (0, 1), (.6, .8)
    candidates = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0], [0.0, 0.0]])
    # cosines: (1, 0, .6), (0, 1, .8), (.7071, .7071, .98995), and 0 for the zero vector
    assert closest_liked_similarity(candidates, liked) == pytest.approx([1.0, 1.0, 0.98995, 0.0], abs=1e-5)
    assert closest_liked_similarity(candidates, liked, top=2) == pytest.approx([0.8, 0.9, 0.84853, 0.0], abs=1e-5)
    # more than there are liked items: the mean over all of them
    assert closest_liked_similarity(candidates[:1], liked, top=5) == pytest.approx([1.6 / 3])
    assert closest_liked_similarity(candidates, np.zeros((0, 2))).tolist() == [0.0, 0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="at least 1"):
        closest_liked_similarity(candidates, liked, top=0)


def test_closest_new_items_ranks_the_pool_on_its_match_to_the_liked_items():
    liked = np.eye(3)  # most recent first
    pool = np.array([[0.6, 0.8, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 2.0], [0.0, -1.0, 0.0]])
    # cosines to the liked items: (.6, .8, 0), (1, 0, 0), (0, 0, 1), (0, -1, 0)
    rows, match = closest_new_items(pool, liked, 3, top=1)
    assert rows.tolist() == [1, 2, 0] and match == pytest.approx([1.0, 1.0, 0.8]), "a tie keeps pool order"
    rows, match = closest_new_items(pool, liked, 3, top=2)
    assert rows.tolist() == [0, 1, 2] and match == pytest.approx([0.7, 0.5, 0.5])
    rows, _ = closest_new_items(pool, liked, 3, top=1, min_similarity=0.9)
    assert rows.tolist() == [1, 2], "below the floor: not proposed"
    rows, _ = closest_new_items(pool, liked, 2, top=1, allowed=[True, False, True, True])
    assert rows.tolist() == [2, 0], "a row that is not allowed (the user's history) is never picked"
    assert closest_new_items(pool, liked, 0)[0].tolist() == []
    assert closest_new_items(pool, np.zeros((0, 3)), 2)[0].tolist() == []
    with pytest.raises(ValueError, match="one flag per pool row"):
        closest_new_items(pool, liked, 2, allowed=[True])


def test_closest_new_items_shortlists_a_large_pool_on_the_most_recent_liked_items():
    liked = np.eye(3)
    pool = np.array([[0.6, 0.8, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 2.0], [0.0, -1.0, 0.0]])
    # Shortlisted on the most recent liked item alone, (0, 0, 2) is out (cosine 0 to it) ...
    rows, match = closest_new_items(pool, liked, 3, top=1, shortlist=2, shortlist_liked=1)
    assert rows.tolist() == [1, 0] and match == pytest.approx([1.0, 0.8]), "then matched on every liked item"
    # ... and on the two most recent ones, (0.6, 0.8, 0) and (1, 0, 0) still lead.
    rows, _ = closest_new_items(pool, liked, 3, top=1, shortlist=2, shortlist_liked=2)
    assert rows.tolist() == [1, 0]
    allowed = [True, False, True, True]
    rows, _ = closest_new_items(pool, liked, 3, top=1, shortlist=1, allowed=allowed)
    assert rows.tolist() == [2], "the shortlist skips what is not allowed"
    rows, _ = closest_new_items(pool, liked, 3, top=1, shortlist=1, shortlist_liked=1, allowed=allowed)
    assert rows.tolist() == [0]


@pytest.fixture(scope="module")
def clicks():
    """Clicks drawn from a known logistic model: p = sigmoid(2 relevance + 1 collaborative - 1 popularity - .5)."""
    rng = np.random.default_rng(0)
    true_weights, true_bias = np.array([2.0, 1.0, -1.0]), -0.5
    features = rng.normal(size=(6000, 3)) * [0.5, 1.0, 2.0] + [0.3, 0.0, 1.0]
    probability = 1 / (1 + np.exp(-(features @ true_weights + true_bias)))
    labels = (rng.random(len(features)) < probability).astype(float)
    return features, labels, true_weights, true_bias


def test_blend_recovers_a_known_logistic_model(clicks):
    features, labels, true_weights, true_bias = clicks
    model = fit_blend_weights(features[:5000], labels[:5000], l2=1.0, valid=(features[5000:], labels[5000:]))
    weights, bias = model.raw_coefficients()
    assert np.sign(weights).tolist() == [1, 1, -1]
    assert weights == pytest.approx(true_weights, abs=0.25)
    assert bias == pytest.approx(true_bias, abs=0.25)
    assert model.train_loss < model.initial_loss < math.log(2)
    assert model.valid_auc > 0.8
    assert model.extra["converged"]


def test_blend_scores_match_hybrid_scores_through_raw_coefficients(clicks):
    features, labels, *_ = clicks
    rng = np.random.default_rng(1)
    knn = rng.random(len(labels))
    known = rng.random(len(labels)) < 0.8
    full = hybrid_features(features[:, 0], None, features[:, 1], features[:, 2], item_knn=knn, known=known)
    model = fit_blend_weights(full, labels, feature_names=HYBRID_FEATURES)
    cosine, collaborative, popularity = features.T
    scores = hybrid_scores(
        cosine, None, collaborative, popularity, *model.raw_coefficients(), item_knn=knn, known=known
    )
    assert scores == pytest.approx(model.score(full))


def test_stronger_l2_shrinks_the_weights(clicks):
    features, labels, *_ = clicks
    loose = fit_blend_weights(features, labels, l2=0.0)
    tight = fit_blend_weights(features, labels, l2=5000.0)
    assert np.abs(tight.weights).sum() < np.abs(loose.weights).sum()
    assert loose.train_loss <= tight.train_loss


def test_blend_model_round_trips_through_json(clicks):
    features, labels, *_ = clicks
    model = fit_blend_weights(features[:500], labels[:500], feature_names=("a", "b", "c"))
    restored = BlendModel.from_dict(json.loads(json.dumps(model.to_dict())))
    assert restored.feature_names == ("a", "b", "c")
    assert restored.score(features[500:600]) == pytest.approx(model.score(features[500:600]))


def test_blend_needs_both_classes():
    with pytest.raises(ValueError, match="both"):
        fit_blend_weights(np.ones((4, 2)), np.ones(4))


def test_a_constant_feature_gets_no_weight():
    rng = np.random.default_rng(1)
    x = np.column_stack([rng.normal(size=400), np.full(400, 3.0)])
    y = (x[:, 0] + rng.normal(size=400) > 0).astype(float)
    model = fit_blend_weights(x, y)
    assert model.weights[1] == pytest.approx(0.0, abs=1e-6)


def test_log_loss():
    assert log_loss([1, 0], [0.0, 0.0]) == pytest.approx(math.log(2))  # p = .5 either way
    assert log_loss([1], [math.log(3)]) == pytest.approx(math.log(4 / 3))  # p = .75 for a positive
    assert log_loss([0], [1000.0]) == pytest.approx(1000.0)  # no overflow


def test_cross_fitted_blend_is_fitted_on_every_group_and_validated_out_of_fold(clicks):
    features, labels, *_ = clicks
    groups = [features[g : g + 100] for g in range(0, 6000, 100)]
    group_labels = [labels[g : g + 100] for g in range(0, 6000, 100)]
    model = fit_blend_cross_fitted(groups, group_labels, feature_names=("a", "b", "c"), seed=3)
    everything = fit_blend_weights(features, labels, feature_names=("a", "b", "c"))
    assert model.weights == pytest.approx(everything.weights) and model.n_train == 6000
    # The validation figures: each half scored by a blend fitted on the other half alone.
    order = np.random.default_rng(3).permutation(60)
    halves = (order[:30], order[30:])
    logits, truth = [], []
    for fit_part, score_part in (halves, halves[::-1]):
        held_out = fit_blend_weights(
            np.vstack([groups[g] for g in fit_part]), np.concatenate([group_labels[g] for g in fit_part])
        )
        logits.append(held_out.logits(np.vstack([groups[g] for g in score_part])))
        truth.append(np.concatenate([group_labels[g] for g in score_part]))
    assert model.valid_loss == pytest.approx(log_loss(np.concatenate(truth), np.concatenate(logits)))
    assert model.valid_loss != pytest.approx(log_loss(labels, model.logits(features)), abs=1e-9), "not in sample"
    assert model.valid_auc == pytest.approx(roc_auc(np.concatenate(truth), np.concatenate(logits)))
    assert model.extra["validation"] == "out-of-fold (2 of 2 halves)" and model.extra["valid_rows"] == 6000


def test_cross_fitting_skips_a_half_without_both_classes():
    rng = np.random.default_rng(0)
    with_clicks = rng.normal(size=(50, 2))
    clicked = (with_clicks[:, 0] > 0).astype(float)
    without = rng.normal(size=(50, 2))
    # Two groups: the one without clicks cannot be fitted on, but can be scored.
    model = fit_blend_cross_fitted([with_clicks, without], [clicked, np.zeros(50)])
    assert model.extra["validation"] == "out-of-fold (1 of 2 halves)" and model.extra["valid_rows"] == 50
    # One group: nothing to cross-fit, the figures are in-sample.
    alone = fit_blend_cross_fitted([with_clicks], [clicked])
    assert alone.extra["validation"] == "in-sample" and alone.valid_loss == pytest.approx(
        log_loss(clicked, alone.logits(with_clicks))
    )
    with pytest.raises(ValueError, match="2 feature groups but 1 label"):
        fit_blend_cross_fitted([with_clicks, without], [clicked])


def test_roc_auc():
    assert roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert roc_auc([0, 1], [0.5, 0.5]) == 0.5
    assert roc_auc([1, 1], [0.1, 0.2]) is None


# --- candidates and trending --------------------------------------------------------------------


def test_merge_candidates_keeps_first_appearance_order_and_sources():
    ids, scores, sources = merge_candidates(
        {"a": 0.9, "b": 0.8}, {"b": 5.0, "c": 3.0}, {"d": 1.0}, names=("ann", "collaborative", "popularity")
    )
    assert ids == ["a", "b", "c", "d"]
    assert scores.tolist() == [[0.9, 0.0, 0.0], [0.8, 5.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 1.0]]
    assert sources == [("ann",), ("ann", "collaborative"), ("collaborative",), ("popularity",)]
    with pytest.raises(ValueError):
        merge_candidates({"a": 1.0}, names=("x", "y"))


def test_trending_halves_per_half_life():
    now = 100 * DAY
    popularity = time_decayed_popularity(
        item_idx=[0, 0, 1, 2, 2],
        times=[now, now - 7 * DAY, now - 14 * DAY, now + DAY, now],
        now=now,
        half_life_days=7,
        n_items=4,
        weights=[1, 1, 1, 1, 2],
    )
    # item 0: 1 + .5; item 1: .25; item 2: a future event counts as new (1) + 2; item 3: nothing.
    assert popularity.tolist() == pytest.approx([1.5, 0.25, 3.0, 0.0])
    counts = time_decayed_popularity([0, 0, 1], [0, 0, 0], now, math.inf, 2)
    assert counts.tolist() == [2.0, 1.0]


# --- MMR --------------------------------------------------------------------------------------

# a and b point almost the same way; c is orthogonal to both.
MMR_IDS = ["a", "b", "c", "d"]
MMR_RELEVANCE = np.array([0.9, 0.85, 0.5, 0.1])
MMR_VECTORS = np.array([[1.0, 0.0], [0.99, 0.14], [0.0, 1.0], [0.7, 0.7]])


def test_mmr_with_lambda_one_is_a_sort_by_relevance():
    rng = np.random.default_rng(0)
    relevance = rng.random(30)
    ids, scores = mmr(np.arange(30), relevance, rng.normal(size=(30, 8)), k=10, lambda_=1.0)
    assert ids.tolist() == np.argsort(-relevance)[:10].tolist()
    assert scores == pytest.approx(np.sort(relevance)[::-1][:10])


def test_mmr_with_small_lambda_skips_the_near_duplicate():
    ids, _ = mmr(MMR_IDS, MMR_RELEVANCE, MMR_VECTORS, k=2, lambda_=0.3)
    # After a: b scores .3 * .85 - .7 * cos(a, b) (~.99) < 0, c scores .3 * .5 - .7 * 0 = .15.
    assert ids.tolist() == ["a", "c"]
    assert mmr(MMR_IDS, MMR_RELEVANCE, MMR_VECTORS, k=2, lambda_=1.0)[0].tolist() == ["a", "b"]


def test_mmr_with_more_slots_than_candidates_returns_them_all():
    ids, scores = mmr(MMR_IDS, MMR_RELEVANCE, MMR_VECTORS, k=10, lambda_=0.5)
    assert sorted(ids.tolist()) == MMR_IDS
    assert len(scores) == 4
    assert mmr([], [], np.zeros((0, 2)), k=3)[0].tolist() == []


# --- business rules -----------------------------------------------------------------------------

IDS = ["a", "b", "c", "d", "e"]
SCORES = [0.9, 0.8, 0.7, 0.6, 0.5]


def test_rules_sort_by_score_without_rules():
    ids, scores = apply_rules(["x", "y", "z"], [0.1, 0.3, 0.2])
    assert ids == ["y", "z", "x"]
    assert scores.tolist() == [0.3, 0.2, 0.1]


def test_block_removes():
    assert apply_rules(IDS, SCORES, block={"b", "zz"})[0] == ["a", "c", "d", "e"]


def test_boost_multiplies_the_score():
    ids, scores = apply_rules(IDS, SCORES, boost={"e": 2.0, "a": 0.5})
    assert ids == ["e", "b", "c", "d", "a"]  # e: .5 * 2 = 1.0; a: .9 * .5 = .45
    assert scores.tolist() == pytest.approx([1.0, 0.8, 0.7, 0.6, 0.45])


def test_bury_moves_to_the_end_in_score_order():
    assert apply_rules(IDS, SCORES, bury={"a", "c"})[0] == ["b", "d", "e", "a", "c"]


def test_pin_moves_a_candidate_to_its_position():
    ids, scores = apply_rules(IDS, SCORES, pin={"e": 0, "a": 2})
    assert ids == ["e", "b", "a", "c", "d"]
    assert scores.tolist() == pytest.approx([0.5, 0.8, 0.9, 0.7, 0.6])


def test_pin_inserts_a_non_candidate_with_a_nan_score():
    ids, scores = apply_rules(IDS, SCORES, pin={"promo": 1}, k=3)
    assert ids == ["a", "promo", "b"]
    assert math.isnan(scores[1])


def test_pins_past_the_end_or_on_the_same_position():
    assert apply_rules(["a", "b"], [0.9, 0.8], pin={"x": 9})[0] == ["a", "b", "x"]
    assert apply_rules(IDS, SCORES, pin={"x": 1, "y": 1})[0][:4] == ["a", "x", "y", "b"]
    with pytest.raises(ValueError):
        apply_rules(IDS, SCORES, pin={"a": -1})


def test_rules_combined_block_beats_pin_pin_beats_bury_then_cut_to_k():
    ids, _ = apply_rules(
        IDS,
        SCORES,
        block={"b", "promo"},
        boost={"d": 2.0},  # d: 1.2, now first
        bury={"a", "c"},
        pin={"promo": 0, "c": 1},  # promo is blocked; c is buried but pinned
        k=4,
    )
    assert ids == ["d", "c", "e", "a"]


def test_mmr_does_not_depend_on_the_scale_of_relevance():
    """A blend's probabilities (~0.01) must trade off against similarity like cosines (~0.5) do."""
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(30, 8))
    relevance = rng.uniform(0.2, 0.9, size=30)
    ids = np.arange(30)
    as_cosines, _ = mmr(ids, relevance, vectors, k=10, lambda_=0.8)
    as_probabilities, _ = mmr(ids, relevance * 0.01, vectors, k=10, lambda_=0.8)
    assert as_cosines.tolist() == as_probabilities.tolist()
    # and at lambda 0.8 relevance still leads: the top-3 by relevance are all in the list
    assert set(np.argsort(-relevance)[:3]) <= set(as_probabilities.tolist())


def test_fuse_reranker_weighs_the_hybrid_order_against_the_click_probability():
    hybrid = [3.0, 2.0, 1.0, 0.0]
    clicks = [0.1, 0.2, 0.3, 0.9]
    # Weight 1: the re-ranker's order alone; 0: the hybrid's; the result stays in (0, 1).
    assert np.argsort(-fuse_reranker(hybrid, clicks, 1.0)).tolist() == [3, 2, 1, 0]
    assert np.argsort(-fuse_reranker(hybrid, clicks, 0.0)).tolist() == [0, 1, 2, 3]
    fused = fuse_reranker(hybrid, clicks, 0.5)
    assert ((fused > 0) & (fused < 1)).all()
    # By hand: the standardised hybrid score and the standardised logit, half each.
    z = lambda v: (np.asarray(v) - np.mean(v)) / np.std(v)  # noqa: E731
    logits = np.log(np.array(clicks) / (1 - np.array(clicks)))
    assert fused == pytest.approx(1 / (1 + np.exp(-(0.5 * z(hybrid) + 0.5 * z(logits)))))
    # The item the re-ranker is sure of climbs from last to second; the hybrid's first stays first.
    assert np.argsort(-fused).tolist() == [0, 3, 1, 2]
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fuse_reranker(hybrid, clicks, 1.5)
    with pytest.raises(ValueError, match="one value per item"):
        fuse_reranker(hybrid, clicks[:2], 0.5)


def test_top_items_best_first_ties_by_position_and_exclusions():
    from llmrec_django.core.ranking import top_items

    scores = np.array([0.5, 0.9, 0.5, -1.0, 0.7])
    ids = np.array([10, 11, 12, 13, 14])
    assert top_items(scores, ids, 3) == {11: 0.9, 14: 0.7, 10: 0.5}
    assert list(top_items(scores, ids, 3, exclude={11})) == [14, 10, 12]
    assert list(top_items(scores, ids, 10, positive_only=True)) == [11, 14, 10, 12]
    assert top_items(None, ids, 3) == {} and top_items(scores, ids, 0) == {}
    assert all(type(k) is int for k in top_items(scores, ids, 2))
