"""``llmrec_fit`` says what the fitted blend does in words, not raw floats."""

from types import SimpleNamespace

from llmrec_django.management.commands.llmrec_fit import describe_blend


def blend(weights, auc=0.8123):
    names = ["relevance", "collaborative", "item_knn", "popularity", "cold_relevance", "closest_liked"]
    return SimpleNamespace(
        pk=3, feature_names=names, weights=weights, bias=-1.2, valid_auc=auc, n_train=2180,
        metrics={"users": 1412, "seconds": 1.2, "validation": "held-out users"},
    )  # fmt: skip


def test_the_blend_reads_as_shares_of_the_order_with_its_validation():
    text = describe_blend(blend([0.3, 0.2, 0.0, -0.1, 0.0, 0.4]))
    assert text.startswith("Blend 3 orders lists by closeness to one liked item 40%, match to the user's interests 30%")
    assert "popular now 10% (ranks lower)" in text and "items liked together" not in text  # a 0 weight is left out
    assert "AUC 0.81 (0.50 is chance, 1.00 perfect)" in text and "1,412 users (2,180 rows)" in text
    assert "+0." not in text  # no raw weights


def test_a_blend_without_weights_or_validation_says_so():
    text = describe_blend(blend([0, 0, 0, 0, 0, 0], auc=None))
    assert "nothing (all weights 0)" in text and "no validation figure" in text
