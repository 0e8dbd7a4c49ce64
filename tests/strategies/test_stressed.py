"""Through-the-cycle pieces on hand-made series (no ../shared/data): stress records, the
stressed volatility, the stress signal and calm run, and which moves loosen."""

from __future__ import annotations

import math

import numpy as np
import pytest

from strategies.params import Param
from strategies.stressed import (
    calm_days,
    covers_stress_window,
    hold_loosening,
    is_stressed,
    loosening_margin,
    loosens,
    recorded_sigma,
    step_shares,
    StressRecord,
    stress_records,
    through_the_cycle_sigma,
    window_sigma,
)

RETURNS = np.array([0.01, 0.01, 0.03, 0.0, 0.04, 0.0])
TIMES = np.arange(10, 16)


def test_stress_records_are_the_steps_of_the_running_maximum():
    """Window 2, rolling sqrt(mean r^2) ending at t = 11..15: 0.01, sqrt(5e-4) = 0.0223607,
    sqrt(4.5e-4) = 0.0212132, sqrt(8e-4) = 0.0282843, 0.0282843 (a tie sets no record)."""
    records = stress_records(TIMES, RETURNS, 2)
    assert [r.window_end_s for r in records] == [11, 12, 14]
    np.testing.assert_allclose([r.hourly_sigma for r in records], [0.01, 0.0223607, 0.0282843], atol=1e-7)


def test_small_steps_are_not_stored():
    """With 50% required: after 0.01 the next record must beat 0.015 (0.02236 does), then
    0.03354 (0.02828 does not)."""
    assert [r.window_end_s for r in stress_records(TIMES, RETURNS, 2, min_increase=0.5)] == [11, 12]


def test_stress_records_refuse_bad_inputs():
    with pytest.raises(ValueError, match="6 timestamps but 5 returns"):
        stress_records(TIMES, RETURNS[:5], 2)
    with pytest.raises(ValueError, match="at least one hour"):
        stress_records(TIMES, RETURNS, 0)
    assert stress_records(TIMES, RETURNS, 7) == ()


def test_a_decision_sees_only_records_set_before_it():
    records = stress_records(TIMES, RETURNS, 2)
    assert recorded_sigma(records, 10) is None
    assert recorded_sigma(records, 13) == pytest.approx(0.0223607, abs=1e-7)
    assert recorded_sigma(records, 14) == pytest.approx(0.0282843, abs=1e-7)


def test_through_the_cycle_sigma_takes_the_largest_and_names_it():
    """Records as above; an input window of 720 returns of +-1.5% has realized volatility
    0.015. At t = 13: current 0.02 < record 0.02236 -> record; current 0.03 -> current. A calm
    window after a short history (no record): 0.015 beats a current 0.01 -> input window."""
    records = stress_records(TIMES, RETURNS, 2)
    window = np.tile([0.015, -0.015], 360)
    assert window_sigma(window, 720) == pytest.approx(0.015)
    assert window_sigma(window[:100], 720) is None
    stressed = through_the_cycle_sigma(0.02, records, 13, window)
    assert (stressed.source, stressed.hourly_sigma) == ("stress record", pytest.approx(0.0223607, abs=1e-7))
    assert through_the_cycle_sigma(0.03, records, 13, window).source == "current"
    calm = through_the_cycle_sigma(0.01, (), 13, window)
    assert (calm.source, calm.hourly_sigma) == ("input window", pytest.approx(0.015))
    with pytest.raises(ValueError, match="finite non-negative"):
        through_the_cycle_sigma(math.nan, records, 13, window)


def _prices(returns: np.ndarray) -> np.ndarray:
    return 100 * np.exp(np.concatenate([[0.0], np.cumsum(returns)]))


def test_stress_signal_volatility_and_drawdown():
    """31 days of +-1% (every daily std 0.01), then a day of +-3% (std 0.03 > 2 x 0.01):
    stressed; a day of +-1.5% (0.015 < 0.02): not. A 20% fall from the 7-day high: stressed."""
    calm = np.tile([0.01, -0.01], 24 * 31 // 2)
    assert is_stressed(_prices(np.concatenate([calm, np.tile([0.03, -0.03], 12)])), 0.15, 2.0)
    assert not is_stressed(_prices(np.concatenate([calm, np.tile([0.015, -0.015], 12)])), 0.15, 2.0)
    fall = np.concatenate([calm, np.full(24, math.log(0.8) / 24)])
    assert is_stressed(_prices(fall), 0.15, 100.0)
    assert not is_stressed(_prices(fall), 0.25, 100.0)


def test_calm_run_counts_back_to_the_last_stressed_day():
    """40 days of +-1% with one +-3% day ending three checkpoints ago (returns N-96..N-73):
    checkpoints now, -24 h, -48 h are calm; the one at -72 h sees the +-3% day: run of 3."""
    returns = np.tile([0.01, -0.01], 24 * 40 // 2)
    n = len(returns)
    returns[n - 96:n - 72] = np.tile([0.03, -0.03], 12)
    assert calm_days(_prices(returns), 10, 0.15, 2.0) == 3
    assert calm_days(_prices(np.tile([0.01, -0.01], 24 * 40 // 2)), 10, 0.15, 2.0) == 10


def _calm_days_one_call_each(prices, lookback_days, drawdown_limit, volatility_ratio_limit):
    """calm_days as it ran before sharing work: `is_stressed` on each checkpoint's prices."""
    run = 0
    for day in range(lookback_days):
        end = len(prices) - day * 24
        if end < 24 * 7 or is_stressed(prices[:end], drawdown_limit, volatility_ratio_limit):
            break
        run += 1
    return run


@pytest.mark.parametrize("seed", range(40))
def test_calm_run_with_shared_work_equals_one_stress_check_per_checkpoint(seed):
    """Seeded series of every length that matters (under a week, under the 31-day window,
    longer), calm and with a volatile day placed 0-9 days back, at limits on either side of
    the series' own ratio: the run equals the per-checkpoint `is_stressed` loop's, and so does
    each checkpoint's verdict at limits nudged to the exact ratio (a tie is not stress)."""
    rng = np.random.default_rng(seed)
    hours = int(rng.choice([100, 170, 400, 760, 24 * 31 + 1 + 24 * 3, 24 * 45, 24 * 120 + 7]))
    returns = rng.standard_t(4, hours) * rng.uniform(0.002, 0.02)
    back = int(rng.integers(0, 10))
    if hours > 24 * (back + 1):
        returns[hours - 24 * (back + 1):hours - 24 * back] *= rng.uniform(1.5, 6.0)
    prices = _prices(returns)
    for drawdown, ratio in ((0.15, 2.0), (0.05, 1.2), (0.5, 4.0), (0.02, 100.0)):
        for lookback in (1, 7, 10):
            assert calm_days(prices, lookback, drawdown, ratio) == _calm_days_one_call_each(
                prices, lookback, drawdown, ratio)
    # At the boundary: the ratio of the latest checkpoint itself (recent / baseline), so the
    # verdict turns on ties; the shared form must land on the same side.
    window = np.diff(np.log(prices[-24 * 31 - 1:]))
    if len(window) >= 48:
        earlier = window[:-24]
        days = len(earlier) // 24
        baseline = float(np.median(earlier[len(earlier) - days * 24:].reshape(days, 24).std(axis=1)))
        exact = float(window[-24:].std() / baseline)
        for ratio in (exact, np.nextafter(exact, 0), np.nextafter(exact, np.inf)):
            assert calm_days(prices, 7, 1.0, ratio) == _calm_days_one_call_each(prices, 7, 1.0, ratio)


@pytest.mark.parametrize("seed", range(6))
def test_calm_run_with_a_gap_or_a_flat_day_equals_one_stress_check_per_checkpoint(seed):
    """A NaN price (its days' std NaN: each checkpoint's median is numpy's own then) or a day
    without a move (std exactly 0) inside the checked month: the same run as the loop."""
    rng = np.random.default_rng(100 + seed)
    prices = _prices(rng.standard_t(4, 24 * 45) * 0.01)
    hour = len(prices) - int(rng.integers(24, 24 * 20))
    if seed % 2:
        prices[hour] = np.nan
    else:
        prices[hour - 24:hour] = prices[hour - 24]
    with np.errstate(invalid="ignore"):
        for drawdown, ratio in ((0.15, 2.0), (0.05, 1.2), (0.02, 100.0)):
            assert calm_days(prices, 10, drawdown, ratio) == _calm_days_one_call_each(prices, 10, drawdown, ratio)


@pytest.mark.parametrize("seed", range(20))
def test_median_of_few_is_numpys_median(seed):
    """Odd and even counts, ties, zeros, magnitudes 12 orders apart (an inexact (a + b) / 2
    shows), a NaN and a -0.0 (numpy's own then): the same float, bit for bit."""
    from strategies.stressed import _median_of_few

    rng = np.random.default_rng(seed)
    for count in (1, 2, 3, 29, 30, 31):
        values = np.abs(rng.standard_normal(count)) * 10.0 ** rng.integers(-6, 7, count)
        values[rng.random(count) < 0.2] = 0.0
        if count > 3:
            values[1] = values[2]
        assert _median_of_few(values).hex() == float(np.median(values)).hex()
    with_nan = np.array([1.0, np.nan, 3.0])
    assert np.isnan(_median_of_few(with_nan))
    assert _median_of_few(np.array([-0.0, -0.0])).hex() == float(np.median(np.array([-0.0, -0.0]))).hex()


def test_loosening_moves_get_a_share_of_the_bound_and_wait_for_calm():
    """LT up, LTV down, LB down, supply cap up: LT, LB (a lower bonus pays liquidators less)
    and the cap loosen; the LTV cut does not."""
    current = {Param.LTV: 8_000, Param.LIQUIDATION_THRESHOLD: 8_300, Param.LIQUIDATION_BONUS: 10_500,
               Param.SUPPLY_CAP: 1_000}
    targets = {Param.LTV: 7_900, Param.LIQUIDATION_THRESHOLD: 8_400, Param.LIQUIDATION_BONUS: 10_400,
               Param.SUPPLY_CAP: 1_500}
    assert step_shares(current, targets, 0.5) == {Param.LIQUIDATION_THRESHOLD: 0.5, Param.LIQUIDATION_BONUS: 0.5,
                                                  Param.SUPPLY_CAP: 0.5}
    assert hold_loosening(current, targets) == {Param.LTV: 7_900, Param.LIQUIDATION_THRESHOLD: 8_300,
                                                Param.LIQUIDATION_BONUS: 10_500, Param.SUPPLY_CAP: 1_000}
    assert loosens(Param.LIQUIDATION_BONUS, 10_500, 10_400) and not loosens(Param.LIQUIDATION_BONUS, 10_500, 10_600)
    with pytest.raises(ValueError, match="loosening share must be in"):
        step_shares(current, targets, 0.0)



def test_a_whole_stress_window_is_known_from_the_first_record_or_the_peg_history():
    """A record ending at 100 is known from 100 on (not at 99). Without records a pegged asset
    whose history starts at 0 covers a 2-hour window from 7,200 s on (not at 7,199); an asset
    with neither never does."""
    records = (StressRecord(100, 0.01),)
    assert covers_stress_window(records, None, 100, 2) and not covers_stress_window(records, None, 99, 2)
    assert covers_stress_window((), 0, 7_200, 2) and not covers_stress_window((), 0, 7_199, 2)
    assert not covers_stress_window((), None, 10**9, 2)


def test_a_loosening_aims_the_margin_short_of_the_target():
    """LT in force 7,400, margin 50: target 7,430 holds; 7,450, exactly the margin above,
    holds; 7,451 aims at 7,401; 7,300 is a tightening and goes to the target. The bonus loosens downward: in
    force 10,500, target 10,400 aims at 10,450, 10,460 holds. LTV the same way upward; the
    supply cap has its own rule and is untouched."""
    current = {Param.LTV: 7_000, Param.LIQUIDATION_THRESHOLD: 7_400, Param.LIQUIDATION_BONUS: 10_500,
               Param.SUPPLY_CAP: 1_000}

    def aimed(**targets):
        values = {Param[name]: value for name, value in targets.items()}
        return loosening_margin(current, {**current, **values}, 50)

    assert aimed(LIQUIDATION_THRESHOLD=7_430)[Param.LIQUIDATION_THRESHOLD] == 7_400
    assert aimed(LIQUIDATION_THRESHOLD=7_450)[Param.LIQUIDATION_THRESHOLD] == 7_400
    assert aimed(LIQUIDATION_THRESHOLD=7_451)[Param.LIQUIDATION_THRESHOLD] == 7_401
    assert aimed(LIQUIDATION_THRESHOLD=7_300)[Param.LIQUIDATION_THRESHOLD] == 7_300
    assert aimed(LIQUIDATION_BONUS=10_400)[Param.LIQUIDATION_BONUS] == 10_450
    assert aimed(LIQUIDATION_BONUS=10_460)[Param.LIQUIDATION_BONUS] == 10_500
    assert aimed(LIQUIDATION_BONUS=10_600)[Param.LIQUIDATION_BONUS] == 10_600
    assert aimed(LTV=7_100)[Param.LTV] == 7_050
    assert aimed(SUPPLY_CAP=1_010)[Param.SUPPLY_CAP] == 1_010
    assert loosening_margin(current, {Param.LIQUIDATION_THRESHOLD: 7_451}, 0) == {Param.LIQUIDATION_THRESHOLD: 7_451}
