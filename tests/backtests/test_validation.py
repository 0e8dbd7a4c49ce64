"""VaR backtest statistics, derived by hand, and the horizon backtest on seeded synthetic
returns (no ../shared/data): Kupiec, Christoffersen independence, conditional coverage."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from backtests.validation import (
    christoffersen_independence,
    coverage_test,
    horizon_backtest,
    horizon_forecasts,
    hourly_grid,
    kupiec_pof,
    transitions,
)

TWO_HITS = np.array([0, 0, 1, 1, 0, 0, 0, 0, 0, 0], dtype=bool)


def test_kupiec_by_hand():
    """n = 10, x = 2, p = 0.05, rate 0.2:
    ln L0 = 8 ln .95 + 2 ln .05 = -0.410345 - 5.991465 = -6.401810
    ln L1 = 8 ln .8 + 2 ln .2 = -1.785148 - 3.218876 = -5.004024
    LR = -2 (-6.401810 + 5.004024) = 2.795572.
    No exceedance in 10: LR = -2 x 10 ln .95 = 1.025866. Exactly the expected rate: LR = 0."""
    assert kupiec_pof(10, 2, 0.95) == pytest.approx(2.795572, abs=2e-6)
    assert kupiec_pof(10, 0, 0.95) == pytest.approx(1.025866, abs=1e-6)
    assert kupiec_pof(100, 5, 0.95) == pytest.approx(0.0, abs=1e-12)


def test_kupiec_refuses_impossible_counts():
    with pytest.raises(ValueError, match="0 <= exceedances <= observations"):
        kupiec_pof(10, 11, 0.95)
    with pytest.raises(ValueError, match="0 <= exceedances <= observations"):
        kupiec_pof(0, 0, 0.95)


def test_christoffersen_independence_by_hand():
    """0 0 1 1 0 0 0 0 0 0: pairs 00 x6, 01 x1, 11 x1, 10 x1.
    pi0 = 1/7, pi1 = 1/2, pi = 2/9.
    ln L(pi) = 7 ln(7/9) + 2 ln(2/9) = -1.759201 - 3.008155 = -4.767356
    ln L(pi0, pi1) = 6 ln(6/7) + ln(1/7) + ln(1/2) + ln(1/2) = -0.924904 - 1.945910 - 1.386294 = -4.257108
    LR_ind = -2 (-4.767356 + 4.257108) = 1.020496."""
    assert transitions(TWO_HITS) == transitions(TWO_HITS)
    t = transitions(TWO_HITS)
    assert (t.n00, t.n01, t.n10, t.n11) == (6, 1, 1, 1)
    assert christoffersen_independence(TWO_HITS) == pytest.approx(1.020496, abs=3e-6)


def test_christoffersen_sees_clustering():
    """0 0 0 0 0 1 1 1 1 1: 00 x4, 01 x1, 11 x4, 10 x0 (pi1 = 1, its 0 x ln 0 term is 0).
    ln L(pi = 5/9) = 4 ln(4/9) + 5 ln(5/9) = -3.243721 - 2.938933 = -6.182654
    ln L(pi0 = 1/5, pi1 = 1) = 4 ln .8 + ln .2 = -0.892574 - 1.609438 = -2.502012
    LR_ind = 7.361284 (p = 0.0067: clustering rejected). No hits at all: LR_ind = 0."""
    clustered = np.array([0] * 5 + [1] * 5, dtype=bool)
    assert christoffersen_independence(clustered) == pytest.approx(7.361284, abs=1e-6)
    assert christoffersen_independence(np.zeros(50, dtype=bool)) == 0.0
    assert christoffersen_independence(np.array([True])) == 0.0


def test_conditional_coverage_adds_both_and_uses_two_degrees_of_freedom():
    """LR_cc = 2.795572 + 1.020496 = 3.816068; chi2(2) survival = exp(-x/2) = 0.148372.
    p_pof = chi2(1) survival = erfc(sqrt(2.795572 / 2)) = 0.094525."""
    test = coverage_test(TWO_HITS, 0.95)
    assert (test.observations, test.exceedances, test.expected) == (10, 2, pytest.approx(0.5))
    assert test.lr_cc == pytest.approx(3.816068, abs=5e-6)
    assert test.p_cc == pytest.approx(math.exp(-3.816068 / 2), abs=5e-6)
    assert test.p_pof == pytest.approx(0.094525, abs=1e-5)
    assert test.passes  # 0.0945 and 0.148 are both above 5%
    clustered = coverage_test(np.array([0] * 5 + [1] * 5, dtype=bool), 0.95)
    assert not clustered.passes


def _iid_student_t_prices(hours: int, dof: float, seed: int) -> pd.Series:
    """Constant-volatility hourly returns with Student-t shocks (unit variance, 1% per hour)."""
    rng = np.random.default_rng(seed)
    returns = 0.01 * rng.standard_t(dof, hours) / math.sqrt(dof / (dof - 2))
    index = pd.date_range("2030-01-01", periods=hours + 1, freq="h", tz="UTC")
    return pd.Series(100 * np.exp(np.concatenate([[0.0], np.cumsum(returns)])), index=index)


def test_sqrt_time_under_covers_a_fat_tailed_day_and_the_horizon_tail_does_not():
    """Student-t(3) hours, unit variance: the one-hour 95% quantile is t3's 2.353 / sqrt(3) =
    1.359 sigma, but 24 such hours sum to about a normal day whose 5% quantile is 1.645 sigma.
    sqrt(time) scaling then expects P(Z < -1.359) = 8.7% exceedances, not 5%: Kupiec rejects;
    the tail fitted on standardized 24 h returns is not rejected (seeded, 1,655 days)."""
    prices = _iid_student_t_prices(24 * 1_700, 3.0, seed=11)
    before = horizon_backtest("SYN", prices, 24, 0.95, "sqrt_time").test
    after = horizon_backtest("SYN", prices, 24, 0.95, "strategy").test
    assert before.exceedances / before.expected > 1.4 and before.p_pof < 0.01
    assert after.passes and 0.8 < after.exceedances / after.expected < 1.25


def test_forecasts_use_only_earlier_returns():
    """Changing every return from a window's start on leaves that window's VaR unchanged."""
    prices = _iid_student_t_prices(24 * 90, 4.0, seed=3)
    returns = np.diff(np.log(prices.to_numpy()))
    original = horizon_forecasts(returns, 24, 0.95, "strategy")
    cut = int(original.starts[3])
    altered = returns.copy()
    altered[cut:] *= -3.0
    changed = horizon_forecasts(altered, 24, 0.95, "strategy")
    np.testing.assert_array_equal(original.starts, changed.starts)
    np.testing.assert_array_equal(original.var_log[:4], changed.var_log[:4])
    assert not np.array_equal(original.var_log[4:], changed.var_log[4:])
    # Windows do not overlap: one start every 24 hours, realized = the 24 returns that follow.
    assert set(np.diff(original.starts)) == {24}
    assert original.realized_log[0] == pytest.approx(returns[original.starts[0]:original.starts[0] + 24].sum())


def test_unknown_scaling_and_short_history_are_refused():
    prices = _iid_student_t_prices(24 * 40, 4.0, seed=1)
    with pytest.raises(ValueError, match="unknown scaling 'cube_root'"):
        horizon_forecasts(np.diff(np.log(prices.to_numpy())), 24, 0.95, "cube_root")
    with pytest.raises(ValueError, match="too little history for a 24 h backtest"):
        horizon_backtest("SHORT", prices, 24, 0.95)


def test_hourly_grid_takes_the_last_print_and_carries_empty_hours():
    """Prints at 00:10, 00:50, 03:20: hour 0 = 2.0 (last), hours 1-2 carried, hour 3 = 4.0."""
    times = pd.to_datetime(["2030-01-01 00:10", "2030-01-01 00:50", "2030-01-01 03:20"], utc=True)
    grid, carried = hourly_grid(pd.Series([1.0, 2.0, 4.0], index=times))
    assert grid.tolist() == [2.0, 2.0, 2.0, 4.0] and carried == 2
