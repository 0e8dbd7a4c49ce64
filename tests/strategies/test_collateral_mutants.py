"""Collateral edges the other collateral tests leave open (found by mutation): the parametric
drops (checked against scipy's own integral of the Student-t tail), the one-hour tail fit and
its fallback, the settings a config passes down, ties at the quantile, the sample and window
sizes at their limits, and the stepped LT cut at exact shares."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from strategies.collateral import (
    constant_product_slippage,
    drop_expected_shortfall,
    drop_var,
    empirical_horizon_tail,
    fit_horizon_tail,
    fit_tail,
    largest_safe_cut,
)
from strategies.config import TailConfig

SCALE = math.sqrt(4 / 2)  # Student-t(4) scaled to unit variance


def test_slippage_with_no_depth_is_total_and_with_a_little_depth_is_not():
    """No depth: everything slips (even a zero trade, no division). $0.50 of depth at 2% is a
    reserve of 0.5 x 0.98 / 0.02 = $24.50: selling $24.50 into it slips 50%."""
    assert constant_product_slippage(0.0, 0.0, 0.02) == 1.0
    assert constant_product_slippage(24.5, 0.5, 0.02) == pytest.approx(0.5)


def test_parametric_var_drop_by_hand():
    """t(4) 1% quantile -3.746947, over sqrt(2): -2.649496 sigma; at sigma 1% for 4 h (x2):
    1 - exp(-0.05299) = 5.1610%."""
    assert drop_var(0.01, 4, 0.99) == pytest.approx(-math.expm1(stats.t.ppf(0.01, 4) / SCALE * 0.02), rel=1e-12)
    assert drop_var(0.01, 4, 0.99) == pytest.approx(0.051610, abs=1e-6)
    assert drop_var(0.01, 1, 0.95) < drop_var(0.01, 1, 0.99) < drop_var(0.02, 1, 0.99)


def test_parametric_expected_shortfall_matches_the_integral():
    """E[T | T < q] of t(4) by numerical integration, in unit-variance units, 1 h at 2%."""
    for confidence in (0.95, 0.99):
        alpha = 1 - confidence
        q = stats.t.ppf(alpha, 4)
        tail_mean = integrate.quad(lambda t: t * stats.t.pdf(t, 4), -np.inf, q)[0] / alpha / SCALE
        assert drop_expected_shortfall(0.02, 1, confidence) == pytest.approx(-math.expm1(tail_mean * 0.02), rel=1e-9)
        assert drop_expected_shortfall(0.02, 9, confidence) == pytest.approx(-math.expm1(tail_mean * 0.06), rel=1e-9)


def test_one_hour_tail_fit_and_its_fallback():
    """101 standardized returns -6, -5, then 99 zeros (config: window 200, at least 50): the 1%
    quantile sits exactly on the second value (position 0.01 x 100 = 1): VaR 5; at or beyond
    it -6 and -5: ES 5.5. With fewer than 50 the scaled t(dof) of the config: dof 6 here."""
    config = TailConfig(window_hours=200, min_sample_hours=50, student_dof=6.0)
    sample = np.concatenate([[-6.0, -5.0], np.zeros(99)])
    tail = fit_tail(sample, 0.99, config)
    assert (tail.var_sigmas, tail.es_sigmas) == (pytest.approx(5.0), pytest.approx(5.5))
    short = fit_tail(sample[:49], 0.99, config)
    assert short.var_sigmas == pytest.approx(-stats.t.ppf(0.01, 6) / math.sqrt(6 / 4), rel=1e-12)
    assert short.es_sigmas == pytest.approx(1.3 * short.var_sigmas, rel=1e-12)
    assert fit_tail(sample[:50], 0.99, config).var_sigmas != short.var_sigmas  # 50 is enough


def test_one_hour_tail_reads_only_its_window():
    """Window 101: a -100 older than the window does not count."""
    config = TailConfig(window_hours=101, min_sample_hours=50, student_dof=4.0)
    sample = np.concatenate([[-100.0], [-6.0, -5.0], np.zeros(99)])
    assert fit_tail(sample, 0.99, config).es_sigmas == pytest.approx(5.5)


def test_one_hour_tail_defaults():
    """Without a config: 720 returns at least, else t(4); a flat sample has VaR 0 and nothing
    strictly beyond: ES = VaR."""
    assert fit_tail(np.zeros(719), 0.99).var_sigmas == pytest.approx(-stats.t.ppf(0.01, 4) / SCALE)
    flat = fit_tail(np.zeros(720), 0.99)
    assert (flat.var_sigmas, flat.es_sigmas) == (0.0, 0.0)


def horizon_sample(extra_old: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """101 one-hour returns -0.06, -0.05 and 99 zeros (sigma 1%: -6 and -5 sigma), after
    `extra_old` older returns."""
    returns = np.concatenate([extra_old, [-0.06, -0.05], np.zeros(99)])
    return returns, np.full(len(returns), 0.01)


def test_horizon_tail_uses_the_config_and_exactly_its_window():
    """Window 101 one-hour windows (at least 101): the sample above, VaR 5, ES 5.5, horizon kept.
    An older -0.5 is outside the window; with 100 returns only, the config's t(6) fallback."""
    config = TailConfig(window_hours=101, min_sample_hours=101, student_dof=6.0)
    returns, sigma = horizon_sample([-0.5, -0.5])
    tail = empirical_horizon_tail(returns, sigma, 1, 0.99, config)
    assert (tail.var_sigmas, tail.es_sigmas, tail.horizon_hours) == (pytest.approx(5.0), pytest.approx(5.5), 1)
    short = empirical_horizon_tail(returns[-100:], sigma[-100:], 3, 0.99, config)
    assert short.var_sigmas == pytest.approx(-stats.t.ppf(0.01, 6) / math.sqrt(6 / 4), rel=1e-12)
    assert short.horizon_hours == 3


def test_horizon_tail_windows_end_inside_the_data():
    """Horizon 2, window 100: the 100 two-hour sums need 101 returns; an older -0.5 just
    before them stays out."""
    config = TailConfig(window_hours=100, min_sample_hours=100, student_dof=4.0)
    returns = np.concatenate([[-0.5], np.zeros(101)])
    tail = empirical_horizon_tail(returns, np.full(len(returns), 0.01), 2, 0.99, config)
    assert (tail.var_sigmas, tail.es_sigmas, tail.horizon_hours) == (0.0, 0.0, 2)


def test_the_larger_tail_takes_each_of_var_and_es_and_passes_the_config_down():
    """Alternating +-1% with a config window: the hourly tail (VaR 1) wins at 4 h over the direct
    sums (0); ES too. A config asking for more windows than the data has sends the direct
    estimate to its t(5) fallback, which then wins."""
    config = TailConfig(window_hours=1_000, min_sample_hours=990, student_dof=5.0)
    alternating = np.tile([0.01, -0.01], 500)
    sigma = np.full(1_000, 0.01)
    tail = fit_horizon_tail(alternating, sigma, 4, 0.99, config)
    assert tail.var_sigmas == pytest.approx(1.0) and tail.es_sigmas == pytest.approx(1.0)
    # 997 four-hour windows in 1,000 hours: fewer than 999, so the direct tail is the config's t(5).
    strict = TailConfig(window_hours=1_000, min_sample_hours=999, student_dof=5.0)
    fallback = -stats.t.ppf(0.01, 5) / math.sqrt(5 / 3)
    assert fit_horizon_tail(alternating, sigma, 4, 0.99, strict).var_sigmas == pytest.approx(fallback)


def test_winsorizing_defaults_to_12_robust_sigmas():
    """Returns (i - 499.5) / 1000 (robust sigma 0.3706) with the lowest replaced by -4.7: beyond
    12 sigmas (4.45) it is clipped, within 13 (4.82) it would not be; the default clips."""
    returns = (np.arange(1_000) - 499.5) / 1_000
    returns[0] = -4.7
    sigma = np.ones(1_000)
    at_12 = empirical_horizon_tail(returns, sigma, 1, 0.99, winsorize_robust_sigmas=12.0)
    assert empirical_horizon_tail(returns, sigma, 1, 0.99).es_sigmas == at_12.es_sigmas
    assert empirical_horizon_tail(returns, sigma, 1, 0.99, winsorize_robust_sigmas=13.0).es_sigmas != at_12.es_sigmas
    assert fit_horizon_tail(returns, sigma, 1, 0.99).es_sigmas == at_12.es_sigmas


# ------------------------------------------------------------------ the stepped LT cut


def test_a_stepped_cut_stops_at_the_first_crowd_to_the_bps():
    """One position of 100 against 82.985: HF 1.00006 at LT 82.99%, 0.99994 at 82.98%. With no
    new liquidation allowed the cut from 8,300 toward 8,200 stops at 8,299."""
    collateral, debt = np.array([100.0]), np.array([82.985])
    assert largest_safe_cut(collateral, debt, 8_300, 8_200, 0.0) == 8_299


def test_a_position_just_above_hf_1_counts_when_the_cut_crosses_it():
    """100 against 82.99917: HF 1.00001 at 83%, under 1 at 82.99%: any cut liquidates it."""
    assert largest_safe_cut(np.array([100.0]), np.array([83 / 1.00001]), 8_300, 8_200, 0.0) == 8_300


def test_a_position_already_liquidatable_is_not_new():
    """HF 0.9 at 83% already: cutting does not newly liquidate it; the cut goes to the target."""
    assert largest_safe_cut(np.array([100.0]), np.array([83 / 0.9]), 8_300, 8_200, 0.0) == 8_200


def test_a_share_equal_to_the_limit_is_allowed():
    """Two positions of equal debt; the first crosses HF 1 at 82.98%, the second (twice the
    collateral) never does: that is 50% of debt, within a 50% limit (the cut reaches the
    target) and beyond a 49% one (it stops at 8,299)."""
    collateral, debt = np.array([100.0, 200.0]), np.array([82.985, 82.985])
    assert largest_safe_cut(collateral, debt, 8_300, 8_200, 0.5) == 8_200
    assert largest_safe_cut(collateral, debt, 8_300, 8_200, 0.49) == 8_299


# ------------------------------------------------------------------ exact edges (second pass)

from strategies.collateral import (  # noqa: E402
    NewLiquidations,
    liquidation_bonus_bps,
    ltv_target_bps,
    newly_liquidatable,
    reference_repay_usd,
    standardized_horizon_returns,
    threshold_target_bps,
)


def test_a_tie_at_the_quantile_belongs_to_the_tail():
    """75% confidence on five values -6, -5, 0, 0, 0: the 25% quantile sits exactly on -5
    (position 0.25 x 4 = 1, exact in binary): VaR 5, and -5 itself is in the tail: ES 5.5."""
    config = TailConfig(window_hours=5, min_sample_hours=5, student_dof=4.0)
    sample = np.array([-6.0, -5.0, 0.0, 0.0, 0.0])
    assert (fit_tail(sample, 0.75, config).var_sigmas, fit_tail(sample, 0.75, config).es_sigmas) == (5.0, 5.5)
    tail = empirical_horizon_tail(sample, np.ones(5), 1, 0.75, config)
    assert (tail.var_sigmas, tail.es_sigmas) == (5.0, 5.5)


def test_two_hour_tail_still_takes_the_hourly_one_when_larger():
    """Alternating +-1%: two-hour sums are 0 (VaR 0), hours +-1 sigma (VaR 1): at 2 h the larger wins."""
    assert fit_horizon_tail(np.tile([0.01, -0.01], 500), np.full(1_000, 0.01), 2, 0.99).var_sigmas == pytest.approx(1.0)


def test_the_winsorizing_choice_reaches_both_tails():
    """Alternating +-1% with one -19.5% hour: median -1%, robust sigma 1.4826%, so the hour is
    beyond 12 robust sigmas (-18.79%) and within 13 (-20.27%): asked for 13, both the direct
    and the hourly tails keep it whole; by default it is clipped."""
    returns = np.tile([0.01, -0.01], 500)
    returns[600] = -0.195
    sigma = np.full(1_000, 0.01)
    for horizon in (1, 2):
        at_13 = fit_horizon_tail(returns, sigma, horizon, 0.999, winsorize_robust_sigmas=13.0)
        direct = empirical_horizon_tail(returns, sigma, horizon, 0.999, winsorize_robust_sigmas=13.0)
        hourly = empirical_horizon_tail(returns, sigma, 1, 0.999, winsorize_robust_sigmas=13.0)
        assert at_13.es_sigmas == max(direct.es_sigmas, hourly.es_sigmas)
        assert at_13.es_sigmas != fit_horizon_tail(returns, sigma, horizon, 0.999).es_sigmas


def test_the_hourly_tail_uses_the_configs_window():
    """The last 300 hours are calm (+-0.5%); before them, -5% hours. A 300-hour window sees only
    the calm ones: its 4 h tail is far under the default window's."""
    calm = np.tile([0.005, -0.005], 150)
    rough = np.tile([0.01, -0.05], 500)
    returns = np.concatenate([rough, calm])
    sigma = np.full(len(returns), 0.01)
    short = TailConfig(window_hours=300, min_sample_hours=200, student_dof=4.0)
    assert fit_horizon_tail(returns, sigma, 4, 0.99, short).var_sigmas == pytest.approx(0.5)
    assert fit_horizon_tail(returns, sigma, 4, 0.99).var_sigmas > 2.0


def test_a_cut_crossing_just_above_the_target_stops_there():
    """100 against 82.015 crosses HF 1 between 82.02% and 82.01%: from 8,300 toward 8,200 with
    no new liquidation allowed, the cut stops at 8,202."""
    assert largest_safe_cut(np.array([100.0]), np.array([82.015]), 8_300, 8_200, 0.0) == 8_202


def test_bonus_edges():
    """No slippage, gas or margin: exactly 10,000 bps needed, not 10,001. A margin of 5,001 bps
    at 50% slippage needs 1.5001 / 0.5 = 3.0002: 30,002. A $0.50 reference is valid."""
    exact = liquidation_bonus_bps(0.0, 1e9, 0.02, 1_000.0, 0.0, 0, 10_000, 40_000)
    assert exact.bonus_bps == 10_000 and exact.reference_repay_usd == 1_000.0
    half = liquidation_bonus_bps(1.0, 1.0, 0.5, 1_000.0, 0.0, 5_001, 10_000, 40_000)  # $1 into $1 of depth at 50%: slips 50%
    assert (half.slippage, half.bonus_bps) == (0.5, 30_002)
    assert liquidation_bonus_bps(0.0, 1e9, 0.02, 0.5, 0.0, 0, 10_000, 40_000).gas_share == 0.0


def test_targets_round_down_but_keep_exact_products():
    """8,000 x (1 - 0.25) = 6,000 exactly; (1 - 0) / (1 x 1.0) = 10,000 exactly."""
    assert ltv_target_bps(8_000, 0.25) == 6_000
    assert threshold_target_bps(0.0, 10_000, 0.0) == 10_000


def test_newly_liquidatable_edges():
    """No debt (or debt summing to 0): nothing. HF exactly 1 before (2 x 0.5 / 1) is not yet
    liquidatable, so a cut to 49.99% liquidates it newly. Tiny debts count too."""
    assert newly_liquidatable(np.array([1.0]), np.zeros(1), 0.8, 0.7) == NewLiquidations(0, 0.0, 0.0)
    assert newly_liquidatable(np.zeros(0), np.zeros(0), 0.8, 0.7) == NewLiquidations(0, 0.0, 0.0)
    assert newly_liquidatable(np.array([2.0]), np.array([1.0]), 0.5, 0.4999) == NewLiquidations(1, 1.0, 1.0)
    assert newly_liquidatable(np.array([0.2]), np.array([0.1]), 0.5, 0.4) == NewLiquidations(1, 0.1, 1.0)


def test_reference_repay_edges():
    """Nobody: 0. A position at HF exactly 1 after the drop (100 x 0.5 x 0.5 / 25) is not hit:
    half the median debt of 25 and 10 is 8.75. HF exactly 0.95 (1 x 0.95 / 1) closes in full."""
    assert reference_repay_usd(np.zeros(0), np.zeros(0), 0.8, 0.3) == 0.0
    assert reference_repay_usd(np.array([100.0, 1_000.0]), np.array([25.0, 10.0]), 0.5, 0.5) == 8.75
    assert reference_repay_usd(np.array([1.0]), np.array([1.0]), 0.95, 0.0) == 1.0


def test_one_window_when_the_history_is_exactly_the_horizon():
    assert standardized_horizon_returns(np.array([0.01, 0.02]), np.array([0.01, 0.01]), 2).tolist() == pytest.approx(
        [0.03 / (0.01 * math.sqrt(2))])
