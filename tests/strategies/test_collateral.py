"""Collateral building blocks on hand-made inputs (no ../shared/data): the horizon tail, the
constant-product slippage, and the post-update check of an LT cut."""

from __future__ import annotations

import math

import numpy as np
import pytest

from strategies.collateral import (
    TailModel,
    constant_product_slippage,
    empirical_horizon_tail,
    fit_horizon_tail,
    largest_safe_cut,
    newly_liquidatable,
    standardized_horizon_returns,
)


def test_standardized_horizon_returns_by_hand():
    """r = (.01, -.02, .03, 0), sigma = (.01, .02, .01, .01), h = 2: sums -.01, .01, .03 over
    sigma_s x sqrt 2 = -.01/.014142, .01/.028284, .03/.014142 = -0.707107, 0.353553, 2.121320."""
    z = standardized_horizon_returns(np.array([0.01, -0.02, 0.03, 0.0]), np.array([0.01, 0.02, 0.01, 0.01]), 2)
    np.testing.assert_allclose(z, [-0.707107, 0.353553, 2.121320], atol=1e-6)
    assert len(standardized_horizon_returns(np.zeros(3), np.ones(3), 4)) == 0


def test_standardized_horizon_returns_refuses_bad_shapes():
    with pytest.raises(ValueError, match="horizon must be at least one hour"):
        standardized_horizon_returns(np.zeros(3), np.ones(3), 0)
    with pytest.raises(ValueError, match="3 returns but 2 sigmas"):
        standardized_horizon_returns(np.zeros(3), np.ones(2), 1)


def test_empirical_tail_by_hand():
    """1,000 returns (i - 499.5)/1000, sigma 1, h = 1 (none clipped: 12 robust sigmas = 4.4).
    1% quantile, numpy's linear rule: position 999 x 0.01 = 9.99, between r9 = -0.4905 and
    r10 = -0.4895: -0.4905 + 0.99 x 0.001 = -0.48951, so VaR = 0.48951 sigma. Beyond it r0..r9,
    mean -0.495: ES = 0.495 sigma. Order does not matter (shuffled)."""
    returns = (np.arange(1_000) - 499.5) / 1_000
    np.random.default_rng(0).shuffle(returns)
    tail = empirical_horizon_tail(returns, np.ones(1_000), 1, 0.99)
    assert tail.var_sigmas == pytest.approx(0.48951, abs=1e-9)
    assert tail.es_sigmas == pytest.approx(0.495, abs=1e-9)
    assert tail.horizon_hours == 1


def test_short_history_falls_back_to_student_t():
    """Fewer than 720 windows: t(4) scaled to unit variance, 99%: 3.746947 / sqrt 2 = 2.649496;
    ES taken as 1.3 x VaR = 3.444345."""
    tail = empirical_horizon_tail(np.full(700, 0.01), np.ones(700), 1, 0.99)
    assert tail.var_sigmas == pytest.approx(2.649496, abs=1e-5)
    assert tail.es_sigmas == pytest.approx(3.444345, abs=1e-5)


def test_horizon_tail_takes_the_larger_of_direct_and_scaled_hourly():
    """Alternating +-1% (sigma 1%): hours are +-1 sigma (VaR 1), 4-hour sums are 0 (VaR 0):
    the hourly tail scaled by sqrt(4) wins, VaR 1. A steady -1% an hour: hours are -1 sigma
    (VaR 1), 4-hour sums -4% = -2 sigma x sqrt 4 (VaR 2): the direct tail wins, VaR 2, and the
    4 h drop is 1 - exp(-2 x 0.01 x sqrt 4) = 1 - exp(-0.04) = 0.0392106."""
    alternating = np.tile([0.01, -0.01], 500)
    sigma = np.full(1_000, 0.01)
    assert fit_horizon_tail(alternating, sigma, 4, 0.99).var_sigmas == pytest.approx(1.0)
    assert empirical_horizon_tail(alternating, sigma, 4, 0.99).var_sigmas == pytest.approx(0.0)
    trend = np.full(1_000, -0.01)
    tail = fit_horizon_tail(trend, sigma, 4, 0.99)
    assert tail.var_sigmas == pytest.approx(2.0) and tail.horizon_hours == 4
    assert tail.drop_var(0.01, 4) == pytest.approx(0.0392106, abs=1e-7)


def test_drops_scale_with_sqrt_time_from_the_fitted_horizon():
    """VaR 2 sigma, ES 2.5 sigma, hourly sigma 1%, 16 h: 1 - exp(-0.08) = 0.0768837 and
    1 - exp(-0.10) = 0.0951626."""
    tail = TailModel(2.0, 2.5, 16)
    assert tail.drop_var(0.01, 16) == pytest.approx(0.0768837, abs=1e-7)
    assert tail.drop_expected_shortfall(0.01, 16) == pytest.approx(0.0951626, abs=1e-7)


def test_constant_product_slippage_by_hand():
    """Depth $1M at 2%: reserve 1M x 0.98 / 0.02 = $49M. Selling $1M: 1 / 50 = 2% (the
    definition of the depth); selling $49M: 49 / 98 = 50%. No depth: all is lost."""
    assert constant_product_slippage(1e6, 1e6, 0.02) == pytest.approx(0.02)
    assert constant_product_slippage(49e6, 1e6, 0.02) == pytest.approx(0.5)
    assert constant_product_slippage(1e6, 0.0, 0.02) == 1.0


def test_newly_liquidatable_counts_only_positions_crossing_one():
    """Collateral $100 each, debts 80, 82.9, 83.1: HF at 83% = 1.0375, 1.0012, 0.9988 (already
    liquidatable, not counted); at 82% = 1.025, 0.9891: only the 82.9 debt crosses.
    Share = 82.9 / 246 = 0.336992."""
    collateral = np.full(3, 100.0)
    debt = np.array([80.0, 82.9, 83.1])
    hit = newly_liquidatable(collateral, debt, 0.83, 0.82)
    assert (hit.positions, hit.debt_usd) == (1, pytest.approx(82.9))
    assert hit.share_of_debt == pytest.approx(82.9 / 246, abs=1e-9)
    assert newly_liquidatable(np.zeros(0), np.zeros(0), 0.83, 0.5).positions == 0


def test_largest_safe_cut_stops_before_the_first_crowd():
    """Ten positions of collateral 100: debt 82.5 each (HF 1 at LT 82.5%) and one of 60. A
    cut from 8300 to 8000 would liquidate 825 / 885 = 93% of debt at once; with 1% allowed the
    cut stops at 8250 (HF exactly 1 is not liquidatable); with 95% allowed it goes to 8000."""
    collateral = np.full(11, 100.0)
    debt = np.array([82.5] * 10 + [60.0])
    assert largest_safe_cut(collateral, debt, 8_300, 8_000, 0.01) == 8_250
    assert largest_safe_cut(collateral, debt, 8_300, 8_000, 0.95) == 8_000
    assert math.isclose(newly_liquidatable(collateral, debt, 0.83, 0.80).share_of_debt, 825 / 885)
