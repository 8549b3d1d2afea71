"""The blend's validation split holds out each user's most recently discovered item."""

import numpy as np

from llmrec_django.collaborative import Interactions
from llmrec_django.recommending.blend import hold_out_last_new_item


def test_the_last_new_item_is_held_out_not_a_repeat():
    # user 1: sees A, then B (new), then A again (a repeat) -> B is held out, not the repeat of A
    # user 2: only one item -> stays in training
    rows = Interactions(
        user_ids=np.array([1, 1, 1, 2, 2]),
        item_ids=np.array([10, 20, 10, 30, 30]),
        weights=np.ones(5),
        times=np.array([1.0, 2.0, 3.0, 1.0, 2.0]),
    )
    train, valid = hold_out_last_new_item(rows)
    assert rows.item_ids[valid].tolist() == [20]
    # training keeps only what happened before B was discovered: the first view of A, and user 2
    assert train.tolist() == [0, 3, 4]
