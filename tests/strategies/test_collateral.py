"""Collateral building blocks on hand-made inputs (no ../shared/data): the horizon tail, the
constant-product slippage, and the post-update check of an LT cut."""

from __future__ import annotations

import math

import numpy as np
import pytest

from strategies.collateral import (
    HorizonTails,
    TailModel,
    constant_product_slippage,
    empirical_horizon_tail,
    fit_horizon_tail,
    largest_safe_cut,
    liquidation_bonus_bps,
    ltv_target_bps,
    newly_liquidatable,
    reference_repay_usd,
    standardized_horizon_returns,
    threshold_target_bps,
)
from strategies.config import TailConfig
from strategies.volatility import winsorize


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


def _separate_tail(returns, sigma, horizon_hours, confidence, config, k):
    """The tail as one call computed it before `HorizonTails` shared the work: winsorize the
    last window + h - 1 returns, standardize, quantile, mean beyond; the larger of direct and
    one-hour for h > 1."""

    def empirical(hours):
        keep = config.window_hours + hours - 1
        sample = standardized_horizon_returns(winsorize(returns[-keep:], k), sigma[-keep:], hours)
        if len(sample) < config.min_sample_hours:
            return None
        var = -float(np.quantile(sample, 1 - confidence))
        beyond = sample[sample <= -var]
        return var, (-float(beyond.mean()) if len(beyond) else var)

    direct = empirical(horizon_hours)
    if horizon_hours == 1 or direct is None:
        return direct
    hourly = empirical(1)
    return max(direct[0], hourly[0]), max(direct[1], hourly[1])


@pytest.mark.parametrize("hours", [700, 2_880, 4_330, 8_760])
def test_shared_horizon_tails_equal_separate_calls_bit_for_bit(hours):
    """One `HorizonTails` asked in a decision's order (24 h at 99%, a longer horizon at 99%,
    24 h at 95%, 1 h) gives each tail exactly (==, not approx) as a separate call: windows
    shorter than the tail window (every horizon winsorizes the whole series) and longer (each
    horizon its own suffix: 4,330 and 8,760 hours > 4,320 + h - 1), also when given the
    winsorized series (used only where a horizon's span is all of it) or the confidences to
    come (their quantiles taken together; 90% was not announced); 700 hours is under the
    minimum sample (the Student-t fallback, same for both forms). A heavy-tailed series with
    a bad print, so winsorizing clips."""
    rng = np.random.default_rng(hours)
    returns = rng.standard_t(3, hours) * 0.01
    returns[hours // 2] = 0.9
    sigma = np.abs(rng.normal(0.01, 0.002, hours)) + 1e-4
    config = TailConfig(window_hours=4_320, min_sample_hours=720, student_dof=4.0)
    tails = HorizonTails(returns, sigma, config, 12.0)
    given = HorizonTails(returns, sigma, config, 12.0, winsorize(returns, 12.0))  # the caller's winsorized returns
    prefetched = HorizonTails(returns, sigma, config, 12.0, None, (0.99, 0.95, 0.99))  # quantiles in one call
    for horizon, confidence in ((24, 0.99), (40, 0.99), (24, 0.95), (1, 0.99), (24, 0.99), (24, 0.9)):
        shared = tails.fit(horizon, confidence)
        separate = _separate_tail(returns, sigma, horizon, confidence, config, 12.0)
        assert given.fit(horizon, confidence) == shared == prefetched.fit(horizon, confidence)
        if separate is None:
            assert shared == fit_horizon_tail(np.zeros(10), np.ones(10), horizon, confidence, config)
        else:
            assert (shared.var_sigmas, shared.es_sigmas, shared.horizon_hours) == (*separate, horizon)


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


def test_threshold_and_ltv_from_the_appetite_by_hand():
    """ES 10%, LB 105%: b = 0: 0.9 / 1.05 = 0.857143 -> 8571; b = 5%: 0.9 / (0.95 x 1.05) =
    0.902256 -> 9022 (accepting unpaid debt raises the LT). LTV with a 5% drop: 8571 x 0.95 =
    8142.45 -> 8142."""
    assert threshold_target_bps(0.10, 10_500, 0.0) == 8_571
    assert threshold_target_bps(0.10, 10_500, 0.05) == 9_022
    assert ltv_target_bps(8_571, 0.05) == 8_142


def test_bonus_pays_slippage_gas_and_margin_by_hand():
    """$1M an hour into $1M of 2% depth: slippage 2%; gas $50 on a $10,000 repay: 0.5%;
    margin 1%: LB = (1 + 0.01 + 0.005) / 0.98 = 1.0357143 -> 10358 (rounded up)."""
    target = liquidation_bonus_bps(1e6, 1e6, 0.02, 10_000, 50, 100, 10_100, 11_500)
    assert (target.bonus_bps, target.slippage, target.gas_share) == (10_358, pytest.approx(0.02), pytest.approx(0.005))
    assert liquidation_bonus_bps(1e6, 1e6, 0.02, 10_000, 50, 100, 10_400, 11_500).bonus_bps == 10_400
    with pytest.raises(ValueError, match="reference liquidation must be positive"):
        liquidation_bonus_bps(1e6, 1e6, 0.02, 0, 50, 100, 10_100, 11_500)


def test_thin_depth_raises_the_bonus_to_its_ceiling():
    """$9M an hour into $1M of 2% depth (reserve $49M): slippage 9 / 58 = 0.155172;
    LB = 1.015 / 0.844828 = 1.20143 -> above the 115% ceiling: 11500."""
    target = liquidation_bonus_bps(9e6, 1e6, 0.02, 10_000, 50, 100, 10_100, 11_500)
    assert target.slippage == pytest.approx(9 / 58)
    assert target.bonus_bps == 11_500


def test_reference_repay_is_the_debt_weighted_median_of_the_stress_liquidations():
    """LT 80%, drop 20%: HF after = C x 0.64 / D. Collateral 100, 100, 100, 1000 against debts
    80, 50, 90, 400: HF 0.8 (<= 0.95: repay all 80), 1.28, 0.711 (all 90), 1.6. Repays 80, 90:
    half of 170 is 85, reached at 90. Debt 66: HF 0.9697 > 0.95: half, 33. Nobody hit: half the
    median debt."""
    collateral = np.array([100.0, 100.0, 100.0, 1_000.0])
    assert reference_repay_usd(collateral, np.array([80.0, 50.0, 90.0, 400.0]), 0.8, 0.2) == 90.0
    assert reference_repay_usd(np.array([100.0]), np.array([66.0]), 0.8, 0.2) == pytest.approx(33.0)
    assert reference_repay_usd(collateral, np.array([10.0, 20.0, 30.0, 40.0]), 0.8, 0.2) == pytest.approx(12.5)
