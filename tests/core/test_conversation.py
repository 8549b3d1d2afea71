"""The conversation maths: Rocchio updates against hand-computed values, message splitting."""

import numpy as np
import pytest

from llmrec_django.core.conversation import rocchio, split_message


def test_rocchio_moves_toward_liked_and_away_from_disliked():
    q = np.array([1.0, 0.0, 0.0])
    liked = [np.array([0.0, 1.0, 0.0])]
    disliked = [np.array([0.0, 0.0, 1.0])]
    # 1.0*(1,0,0) + 0.75*(0,1,0) - 0.25*(0,0,1) = (1, 0.75, -0.25); norm = sqrt(1.625)
    expected = np.array([1.0, 0.75, -0.25]) / np.sqrt(1.625)
    updated = rocchio(q, liked, disliked, alpha=1.0, beta=0.75, gamma=0.25)
    np.testing.assert_allclose(updated, expected, rtol=1e-6)
    assert updated.dtype == np.float32


def test_rocchio_averages_several_liked_items():
    q = np.array([0.0, 0.0, 1.0])
    liked = [np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])]
    # 0.5*(0,0,1) + 1.0*mean = (0.5, 0.5, 0.5) -> each 1/sqrt(3)
    updated = rocchio(q, liked, None, alpha=0.5, beta=1.0, gamma=0.25)
    np.testing.assert_allclose(updated, np.full(3, 1 / np.sqrt(3)), rtol=1e-6)


def test_rocchio_without_a_query_starts_from_the_feedback():
    updated = rocchio(None, [np.array([3.0, 4.0])], None)
    np.testing.assert_allclose(updated, [0.6, 0.8], rtol=1e-6)
    assert rocchio(np.array([]), [], []) is None


def test_rocchio_keeps_the_query_when_the_update_cancels_out():
    q = np.array([0.0, 2.0])
    updated = rocchio(q, None, [np.array([0.0, 1.0])], alpha=0.5, beta=0.75, gamma=1.0)
    np.testing.assert_allclose(updated, [0.0, 1.0])


@pytest.mark.parametrize(
    ("text", "wanted", "unwanted"),
    [
        ("something lighter, less violent", "something lighter", ["violent"]),
        ("no horror and not too long", "", ["horror", "long"]),
        ("funnier please, without gore", "funnier", ["gore"]),
        ("a cosy mystery", "a cosy mystery", []),
        ("Less gore. More romance", "More romance", ["gore"]),
    ],
)
def test_split_message(text, wanted, unwanted):
    assert split_message(text) == (wanted, unwanted)
