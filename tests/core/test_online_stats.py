"""Arm assignment, intervals and tests of ``core.online_stats``, against hand-computed values."""

import math
from collections import Counter

import pytest

from llmrec_django.core import online_stats as st


def test_assignment_is_stable_and_depends_on_the_experiment():
    first = st.assignment_bucket("7:salt", "user-1")
    assert first == st.assignment_bucket("7:salt", "user-1")
    assert 0 <= first < 1
    assert first != st.assignment_bucket("8:salt", "user-1")
    assert first != st.assignment_bucket("7:salt", "user-2")


def test_split_ratios_follow_the_traffic_shares():
    counts = Counter(st.pick_arm(st.assignment_bucket("exp:x", f"u{i}"), [20, 30, 50]) for i in range(20_000))
    shares = [counts[i] / 20_000 for i in range(3)]
    # Binomial standard error at n=20,000 is at most 0.0035: 4 of them is a generous bound.
    assert shares == pytest.approx([0.2, 0.3, 0.5], abs=0.014)


def test_pick_arm_edges_and_bad_traffic():
    assert st.pick_arm(0.0, [1, 1]) == 0
    assert st.pick_arm(0.4999, [1, 1]) == 0
    assert st.pick_arm(0.5, [1, 1]) == 1
    assert st.pick_arm(0.9999999, [1, 0]) == 0  # a zero-traffic arm never gets anyone
    with pytest.raises(ValueError):
        st.pick_arm(0.3, [0, 0])
    with pytest.raises(ValueError):
        st.pick_arm(0.3, [1, -1])


def test_wilson_interval_matches_the_formula_by_hand():
    # 10 of 100 at 95%: z = 1.959964; centre = (0.1 + z^2/200) / (1 + z^2/100)
    z = 1.959963984540054
    centre = (0.1 + z * z / 200) / (1 + z * z / 100)
    half = z * math.sqrt(0.1 * 0.9 / 100 + z * z / 40_000) / (1 + z * z / 100)
    interval = st.wilson_interval(10, 100)
    assert interval.estimate == 0.1
    assert interval.low == pytest.approx(centre - half) and interval.low == pytest.approx(0.0552, abs=1e-4)
    assert interval.high == pytest.approx(centre + half) and interval.high == pytest.approx(0.1744, abs=1e-4)
    assert st.wilson_interval(0, 0) == st.Interval(0.0, 0.0, 1.0)
    with pytest.raises(ValueError):
        st.wilson_interval(5, 3)


def test_two_proportion_z_test_by_hand():
    # 100/1000 vs 130/1000: pooled 0.115, se = sqrt(0.115*0.885*(2/1000)) = 0.014267
    result = st.two_proportion_z_test(100, 1000, 130, 1000)
    se = math.sqrt(0.115 * 0.885 * 0.002)
    assert result.difference == pytest.approx(0.03)
    assert result.relative == pytest.approx(0.3)
    assert result.statistic == pytest.approx(0.03 / se)
    assert result.p_value == pytest.approx(math.erfc((0.03 / se) / math.sqrt(2)))
    assert result.p_value == pytest.approx(0.0355, abs=5e-4)
    same = st.two_proportion_z_test(0, 10, 0, 10)
    assert same.p_value == 1.0


def test_welch_and_mean_interval_from_sums():
    a = [0, 0, 0, 10, 0, 0, 20, 0]
    b = [0, 30, 0, 10, 0, 25, 20, 0, 15]
    result = st.welch_t_test(sum(a), sum(x * x for x in a), len(a), sum(b), sum(x * x for x in b), len(b))
    from scipy import stats

    expected = stats.ttest_ind(b, a, equal_var=False)
    assert result.statistic == pytest.approx(expected.statistic)
    assert result.p_value == pytest.approx(expected.pvalue)
    interval = st.mean_interval(sum(a), sum(x * x for x in a), len(a))
    sd = stats.tstd(a)
    assert interval.estimate == pytest.approx(3.75)
    assert interval.high - interval.estimate == pytest.approx(1.959964 * sd / math.sqrt(8), rel=1e-5)


def test_novelty_is_mean_self_information():
    assert st.novelty([0.5, 0.25]) == pytest.approx((1 + 2) / 2)
    assert st.novelty([]) == 0.0
