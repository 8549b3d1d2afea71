import numpy as np
import pytest

from llmrec_django.core.transitions import fit_transitions, score_from_recent


def test_transitions_count_what_follows_within_the_window():
    # user 0: a -> b -> c ; user 1: a -> b ; user 2: c -> a (times out of order on purpose)
    users = [0, 0, 0, 1, 1, 2, 2]
    items = [0, 1, 2, 0, 1, 0, 2]
    times = [1, 2, 3, 10, 11, 21, 20]
    table = fit_transitions(users, items, times, 3, window=2, decay=0.5, shrink=0.0).toarray()
    # from a: b twice (step 1), c once at step 2 (0.5): shares 2 / 2.5 and 0.5 / 2.5
    assert table[0].tolist() == pytest.approx([0.0, 0.8, 0.2])
    assert table[1].tolist() == pytest.approx([0.0, 0.0, 1.0])
    assert table[2].tolist() == pytest.approx([1.0, 0.0, 0.0]), "c then a for user 2 (ordered by time)"


def test_repeats_are_one_step_and_not_transitions_and_shrink_lowers_rare_items():
    table = fit_transitions([0, 0, 0], [0, 0, 1], [1, 2, 3], 2, window=1, shrink=1.0).toarray()
    assert table[0, 0] == 0.0
    assert table[0, 1] == pytest.approx(1 / 2), "one observation, shrunk by 1"


def test_neighbours_keep_the_strongest_and_scores_weigh_the_latest_most():
    users = np.repeat(np.arange(6), 2)
    items = np.array([0, 1, 0, 1, 0, 1, 0, 2, 0, 2, 0, 3])
    times = np.tile([1, 2], 6)
    table = fit_transitions(users, items, times, 4, window=1, neighbours=2, shrink=0.0)
    assert table[0].nonzero()[1].tolist() == [1, 2], "item 3 (once) is dropped, ties go to the lower column"
    scores = score_from_recent(table, [0, 1], recent_decay=0.5)
    assert scores[1] > scores[2] > 0 and scores[3] == 0


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        fit_transitions([0], [0], [0], 1, window=0)
    with pytest.raises(ValueError):
        fit_transitions([0, 1], [0], [0], 1)
    assert fit_transitions([], [], [], 3).nnz == 0
