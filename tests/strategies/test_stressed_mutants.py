"""Exact outcomes at the edges of strategies/stressed.py that test_stressed.py leaves open
(mutation testing, docs/mutation.md): window lengths, ties, limits hit exactly, the first and
last price a check reads, and every field the stressed volatility reports. Volatilities are
powers of two where a value is compared exactly, so the arithmetic is exact."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from strategies.params import Param
from strategies.stressed import (
    LOOSENS_DOWNWARD,
    LOOSENS_UPWARD,
    _median_of_few,
    calm_days,
    covers_stress_window,
    hold_loosening,
    is_stressed,
    loosens,
    step_shares,
    StressedSigma,
    StressRecord,
    stress_records,
    through_the_cycle_sigma,
)

R = 2.0**-6  # 0.015625: its square and sums of up to 2^40 squares are exact in float64


def _prices(returns: np.ndarray) -> np.ndarray:
    return 100 * np.exp(np.concatenate([[0.0], np.cumsum(returns)]))


def _days(*stds: float) -> np.ndarray:
    """Hourly returns of +-s for each day: a day's standard deviation is s (to rounding)."""
    return np.concatenate([np.tile([s, -s], 12) for s in stds])


# --- stress records ---------------------------------------------------------------------

def test_a_history_exactly_one_window_long_yields_one_record():
    """Two returns of 2^-6, window 2: one window, sqrt((2^-12 + 2^-12) / 2) = 2^-6 exactly,
    ending at the second return's time (8). One return fewer than the window: no record."""
    assert stress_records(np.array([7, 8]), np.array([R, R]), 2) == (StressRecord(8, R),)
    assert stress_records(np.array([7]), np.array([R]), 2) == ()


def test_a_one_hour_window_is_allowed_and_each_return_is_its_own_window():
    """Window 1: sigma = |r|: 2^-6 at 7 (record), 2^-5 at 8 (beats 2^-6 x 1.01: record),
    2^-7 at 9 (below: none)."""
    records = stress_records(np.array([7, 8, 9]), np.array([R, -2 * R, R / 2]), 1)
    assert records == (StressRecord(7, R), StressRecord(8, 2 * R))


def test_a_tie_with_the_last_record_is_not_a_record_even_with_no_minimum_increase():
    """min_increase 0: three windows of exactly 2^-6; the first sets the record, the two
    equal ones do not beat it (strictly greater is required)."""
    assert stress_records(np.array([1, 2, 3]), np.full(3, R), 1, min_increase=0.0) == (StressRecord(1, R),)


# --- the stressed volatility ------------------------------------------------------------

def test_the_stressed_sigma_reports_every_candidate():
    """Current 0.01, the record 0.02 (ended at 100, known at 100), an input window of 720
    returns of +-2^-6 (mean square 2^-12, sigma 2^-6 exactly): the record is largest, and all
    three values are reported as they were."""
    window = np.tile([R, -R], 360)
    stressed = through_the_cycle_sigma(0.01, (StressRecord(100, 0.02),), 100, window, 720)
    assert stressed == StressedSigma(0.02, "stress record", 0.01, 0.02, R)


def test_a_zero_current_volatility_is_accepted():
    """0 is non-negative: with no record and a window shorter than its minimum (10 < 720),
    the current 0.0 is all there is."""
    assert through_the_cycle_sigma(0.0, (), 100, np.zeros(10)) == StressedSigma(0.0, "current", 0.0, None, None)
    with pytest.raises(ValueError, match="finite non-negative number, got -1e-300"):
        through_the_cycle_sigma(-1e-300, (), 100, np.zeros(10))


def test_a_peg_history_covers_the_window_counted_from_its_own_start():
    """Peg history from 1,000 s, a 2-hour window (7,200 s): covered at 8,200 (exactly 7,200 s
    of history), not at 8,199 (the sum 8,199 + 1,000 would pass, the difference does not)."""
    assert covers_stress_window((), 1_000, 8_200, 2)
    assert not covers_stress_window((), 1_000, 8_199, 2)


# --- loosening --------------------------------------------------------------------------

def test_a_target_equal_to_the_value_in_force_loosens_nothing():
    """Equal target and value in force, upward and downward parameters alike: no loosening,
    so no share is listed and nothing is held."""
    for param in LOOSENS_UPWARD | LOOSENS_DOWNWARD:
        assert not loosens(param, 7_400, 7_400)
    current = {Param.LIQUIDATION_THRESHOLD: 7_400, Param.LIQUIDATION_BONUS: 10_500}
    assert step_shares(current, dict(current), 0.5) == {}
    assert hold_loosening(current, dict(current)) == current


def test_a_loosening_share_of_exactly_one_is_accepted_and_one_ulp_more_refused():
    """(0, 1]: 1.0 gives the loosening LT move the whole bound; 1 + 2^-52 is refused."""
    current, targets = {Param.LIQUIDATION_THRESHOLD: 7_400}, {Param.LIQUIDATION_THRESHOLD: 7_500}
    assert step_shares(current, targets, 1.0) == {Param.LIQUIDATION_THRESHOLD: 1.0}
    with pytest.raises(ValueError, match=r"loosening share must be in \(0, 1\], got 1.0000000000000002"):
        step_shares(current, targets, np.nextafter(1.0, 2.0))


# --- the stress signal ------------------------------------------------------------------

def test_a_drawdown_exactly_at_the_limit_is_not_stress_one_ulp_past_it_is():
    """Prices 128, 112, 96: 1 - 96 / 128 = 0.25 exactly. Limit 0.25: not beyond it; the
    next float below 0.25: beyond. Two returns are too few for the volatility test (False)."""
    prices = np.array([128.0, 112.0, 96.0])
    assert not is_stressed(prices, 0.25, 2.0)
    assert is_stressed(prices, float(np.nextafter(0.25, 0.0)), 2.0)


def test_the_volatility_test_needs_exactly_two_days_of_returns():
    """A day of +-0.01 then a day of +-0.03 (48 returns): baseline 0.01 (one day), recent
    0.03 > 2 x 0.01: stressed. Without the first price (47 returns, the baseline day short of
    an hour): too few, not stressed, answered before numpy sees an empty baseline (no
    warning)."""
    prices = _prices(_days(0.01, 0.03))
    assert len(prices) == 49
    assert is_stressed(prices, 0.5, 2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not is_stressed(prices[1:], 0.5, 2.0)


def test_a_flat_baseline_makes_no_volatility_stress():
    """30 days without a move (every daily std 0, median 0) then a day of +-0.01: the ratio
    has no baseline, so not stressed (drawdown about 1% < 50%); the calm run counts it."""
    prices = _prices(np.concatenate([np.zeros(24 * 30), _days(0.01)]))
    assert not is_stressed(prices, 0.5, 2.0)
    assert calm_days(prices, 1, 0.5, 2.0) == 1


def test_the_baseline_is_the_30_whole_days_before_the_last_one():
    """32 days: day 0 (+-0.04) lies before the 31-day window; days 1-15 +-0.01 and days 16-30
    +-0.04 are the baseline, median (0.01 + 0.04) / 2 = 0.025; day 31, +-0.05, is recent:
    0.05 > 1.5 x 0.025 = 0.0375, stressed. A window a day longer (day 0 in: 16 of 0.04 in 31,
    median 0.04) or shorter (day 1 out: 15 of 0.04 in 29, median 0.04) gives 0.06: not."""
    prices = _prices(_days(0.04, *[0.01] * 15, *[0.04] * 15, 0.05))
    assert len(prices) == 24 * 32 + 1
    assert is_stressed(prices, 1.0, 1.5)
    assert calm_days(prices, 1, 1.0, 1.5) == 0
    assert calm_days(prices, 3, 1.0, 1.5) == 0  # more checkpoints share the work; the first decides


# --- the calm run -----------------------------------------------------------------------

def test_a_series_exactly_seven_days_long_is_checked():
    """168 flat prices: the checkpoint at 168 is a whole week, checked (no drawdown, a zero
    baseline): a run of 1; the next checkpoint (144) is under a week and ends the run."""
    prices = np.full(24 * 7, 100.0)
    assert calm_days(prices, 1, 0.15, 2.0) == 1
    assert calm_days(prices, 3, 0.15, 2.0) == 1


def test_a_seven_day_series_uses_its_five_whole_baseline_days():
    """168 prices, 167 returns: 23 flat (a partial day, left out), five days of +-0.01 and a
    last day of +-0.03: baseline 0.01, 0.03 > 2 x 0.01: stressed, a run of 0, as is_stressed
    says."""
    prices = _prices(np.concatenate([np.zeros(23), _days(0.01, 0.01, 0.01, 0.01, 0.01, 0.03)]))
    assert len(prices) == 24 * 7
    assert is_stressed(prices, 0.5, 2.0)
    assert calm_days(prices, 1, 0.5, 2.0) == 0


def test_the_weeks_first_price_counts_and_its_drawdown_at_the_limit_is_not_stress():
    """168 prices: 128, then 96 for the rest. The week is all 168, high 128: drawdown
    1 - 96 / 128 = 0.25 exactly. Limit 0.2: stressed, run 0; limit 0.25: not (the one nonzero
    return is in the partial day, the baseline is 0), run 1; one ulp below 0.25: run 0."""
    prices = np.concatenate([[128.0], np.full(24 * 7 - 1, 96.0)])
    assert is_stressed(prices, 0.2, 2.0)
    assert calm_days(prices, 1, 0.2, 2.0) == 0
    assert calm_days(prices, 1, 0.25, 2.0) == 1
    assert calm_days(prices, 1, float(np.nextafter(0.25, 0.0)), 2.0) == 0


def test_with_one_price_more_than_seven_days_the_first_return_opens_the_baseline():
    """169 prices, 168 returns = 7 whole days: baseline days +-0.01 x 3, +-0.04 x 3, median
    (0.01 + 0.04) / 2 = 0.025; the last day +-0.05 > 1.5 x 0.025: stressed, run 0. Without its
    first day the baseline's median would be 0.04 and 0.05 < 0.06: not."""
    prices = _prices(_days(0.01, 0.01, 0.01, 0.04, 0.04, 0.04, 0.05))
    assert len(prices) == 24 * 7 + 1
    assert is_stressed(prices, 1.0, 1.5)
    assert calm_days(prices, 1, 1.0, 1.5) == 0
    assert not is_stressed(_prices(_days(0.01, 0.01, 0.04, 0.04, 0.04, 0.05)), 1.0, 1.5)


# --- the median the calm run uses ------------------------------------------------------

def test_the_median_of_no_values_is_numpys_nan():
    """No values: numpy's own answer, NaN (with its empty-slice warning), not an index error."""
    with pytest.warns(RuntimeWarning):
        assert math.isnan(_median_of_few(np.array([])))


def test_the_median_with_a_nan_is_nan_where_a_plain_sort_would_give_a_number():
    """[NaN, 1, 2]: Python's sort leaves the NaN first and its middle is 1.0; numpy's median
    is NaN, and so is this one."""
    assert math.isnan(_median_of_few(np.array([np.nan, 1.0, 2.0])))


def test_the_median_with_a_negative_zero_is_numpys_positive_zero():
    """[0.0, -0.0, 1.0]: a stable sort keeps -0.0 in the middle; numpy's median is +0.0, and
    so is this one (the sign bit is what differs)."""
    assert _median_of_few(np.array([0.0, -0.0, 1.0])).hex() == (0.0).hex()
