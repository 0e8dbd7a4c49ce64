"""Guard checks the other guard tests leave half-open (found by mutation): each condition of a
compound check on its own, the whole wording of the jump hold, the robust sigma's floor and
scale, a pegged asset's reference, and a last hour with no price."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from strategies.anomaly import AnomalyGuard
from tests.strategies.test_anomaly import AS_OF, GUARD, HOURS, calm_history, check


def test_no_observation_at_all_is_empty_even_with_prices_on_the_grid():
    assert check(calm_history(last_observation_s=0)) == "empty price history"


def test_no_finite_price_is_empty_even_with_a_recent_observation():
    assert check(calm_history(prices_usd=np.full(HOURS, np.nan))) == "empty price history"


def test_a_last_hour_without_a_price_is_stale_even_if_the_feed_spoke_recently():
    prices = calm_history().prices_usd.copy()
    prices[-1] = np.nan
    assert check(calm_history(prices_usd=prices)) == "stale price: last update 0.0 h before the decision"


def test_the_jump_hold_names_the_move_and_its_robust_sigmas():
    """Earlier returns +-0.001: robust sigma 1.4826 x 0.001. A +11% last hour is
    log(1.11) / 0.0014826 = 70.4 sigmas."""
    prices = calm_history().prices_usd.copy()
    prices[-1] = prices[-2] * 1.11
    assert check(calm_history(prices_usd=prices)) == (
        "last price moved +11.0% in one hour (70 robust sigmas); waiting for confirmation")
    prices[-1] = prices[-2] * 0.89
    assert check(calm_history(prices_usd=prices)) == (
        "last price moved -11.0% in one hour (79 robust sigmas); waiting for confirmation")


def test_a_flat_history_divides_by_the_sigma_floor_not_by_zero():
    """All earlier returns 0: MAD 0, so the count of sigmas is the move over 1e-12."""
    prices = np.full(HOURS, 100.0)
    prices[-1] = 111.0
    expected = f"{abs(math.log(1.11)) / 1e-12:.0f}"
    assert check(calm_history(prices_usd=prices)) == (
        f"last price moved +11.0% in one hour ({expected} robust sigmas); waiting for confirmation")


def test_in_a_volatile_history_the_sigma_limit_decides_not_the_fraction():
    """Earlier returns +-1%: robust sigma 1.4826%, 15 sigmas = 22.2%: a +15% hour (beyond the
    10% floor) passes, a +25% hour holds."""
    steps = np.where(np.arange(HOURS - 1) % 2 == 0, 0.01, -0.01)
    base = 100 * np.exp(np.concatenate(([0.0], np.cumsum(steps))))
    for move, holds in ((0.15, False), (0.25, True)):
        prices = base.copy()
        prices[-1] = prices[-2] * (1 + move)
        reason = check(calm_history(prices_usd=prices))
        assert (reason is not None and reason.startswith(f"last price moved +{move:.1%}")) == holds, move
        assert (reason is None) == (not holds)


def test_a_jump_after_a_missing_hour_cannot_be_judged_and_passes():
    """The hour before the last has no price: the last return is not measurable, so no jump
    hold (the gap check allows one missing hour)."""
    prices = calm_history().prices_usd.copy()
    prices[-2] = np.nan
    prices[-1] = prices[-3] * 1.5
    assert check(calm_history(prices_usd=prices)) is None


@pytest.mark.parametrize("reference", [float("nan"), -1.0, float("inf")])
def test_an_unusable_reference_holds(reference):
    assert check(calm_history(reference_price_usd=reference)) == (
        "reference price source reported a zero, negative or invalid price")


def test_a_pegged_asset_is_not_held_for_its_reference_here():
    """Pegged: the peg model's source check decides (depeg vs manipulation), not this limit."""
    price = float(calm_history().prices_usd[-1])
    history = calm_history(reference_price_usd=price / 1.10)
    assert AnomalyGuard(GUARD).check(history, AS_OF, pegged=True) is None
    assert AnomalyGuard(GUARD).check(history, AS_OF) == (
        "oracle price is 10.0% away from the reference source; possible manipulation")


def test_history_counts_from_the_first_price():
    """Prices from hour 720 - 336 on: exactly the minimum; the check passes. (The grid before
    the first price is NaN, not a gap in the recent window.)"""
    prices = calm_history().prices_usd.copy()
    prices[: HOURS - GUARD.min_history_hours] = np.nan
    assert check(calm_history(prices_usd=prices)) is None


def test_longest_gap_counts_a_trailing_run_and_the_longest_of_three():
    """[1, -, 2, -, -, -]: runs of 1 and 3 (the last at the end): 3. Runs 1, 2, 3: 3."""
    from strategies.anomaly import longest_gap_hours

    nan = np.nan
    assert longest_gap_hours(np.array([1.0, nan, 2.0, nan, nan, nan])) == 3
    assert longest_gap_hours(np.array([nan, 1.0, nan, nan, 1.0, nan, nan, nan, 1.0])) == 3
    assert longest_gap_hours(np.array([nan, nan, nan, 1.0, nan, 1.0])) == 3


def test_the_jump_check_reads_the_last_720_hours_only():
    """800 hours: 79 rising returns (+0.001), then 720 hours alternating +-0.001. In the last
    720 hours the median return is 0 and the robust sigma 0.0014826 (70 sigmas for +11%); a
    window reaching back into the rising hours would make the median +0.001 and the MAD 0."""
    steps = np.concatenate([np.full(80, 0.001), np.where(np.arange(719) % 2 == 0, 0.001, -0.001)])
    prices = 100 * np.exp(np.concatenate(([0.0], np.cumsum(steps))))[-800:]
    prices[-1] = prices[-2] * 1.11
    reason = AnomalyGuard(GUARD).check(calm_history(prices_usd=prices, utilization=np.full(800, np.nan)), AS_OF)
    assert reason == "last price moved +11.0% in one hour (70 robust sigmas); waiting for confirmation"


def test_a_jump_is_judged_on_as_few_as_24_returns():
    """The last 336 hours: 23 blocks of two equal prints and 12 missing hours, then 12 missing
    and a final pair 100 -> 111: every gap at most 24 h, 24 measurable returns (23 zeros and
    the jump): enough to judge it, and it holds."""
    block = [100.0, 100.0] + [np.nan] * 12
    recent = np.array(block * 23 + [np.nan] * 12 + [100.0, 111.0])
    prices = np.concatenate([np.full(HOURS - len(recent), np.nan), recent])
    assert check(calm_history(prices_usd=prices)) == (
        f"last price moved +11.0% in one hour ({math.log(1.11) / 1e-12:.0f} robust sigmas); waiting for confirmation")


def test_a_jump_just_before_a_missing_hour_is_not_read_as_the_last_hour():
    """prices[-2] missing: the last measurable return (a +50% two hours back) is not the last
    hour's move, so no jump hold."""
    prices = calm_history().prices_usd.copy()
    prices[-3] = prices[-4] * 1.5
    prices[-2] = np.nan
    prices[-1] = prices[-3]
    assert check(calm_history(prices_usd=prices)) is None


@pytest.mark.parametrize("missing", [2, -3])
def test_a_missing_hour_elsewhere_does_not_stop_the_jump_check(missing):
    prices = calm_history().prices_usd.copy()
    prices[missing] = np.nan
    prices[-1] = prices[-2] * 1.11
    assert check(calm_history(prices_usd=prices)).endswith("waiting for confirmation")


def test_the_robust_sigma_centres_on_the_median():
    """Returns repeating +0.003, -0.001, -0.001: median -0.001, deviations from it 0.004 (a
    third) and 0 (two thirds): MAD 0, so a +11% hour counts over the 1e-12 floor."""
    steps = np.tile([0.003, -0.001, -0.001], 240)[: HOURS - 1]
    prices = 100 * np.exp(np.concatenate(([0.0], np.cumsum(steps))))
    prices[-1] = prices[-2] * 1.11
    assert check(calm_history(prices_usd=prices)) == (
        f"last price moved +11.0% in one hour ({math.log(1.11) / 1e-12:.0f} robust sigmas); waiting for confirmation")


def test_an_asset_priced_under_one_dollar_has_a_usable_reference():
    prices = calm_history().prices_usd * 0.005
    assert check(calm_history(prices_usd=prices, reference_price_usd=float(prices[-1]))) is None


def test_the_reference_is_compared_with_the_last_price():
    """An old outlier (200 at hour 1) does not count against a reference equal to the last price."""
    prices = calm_history().prices_usd.copy()
    prices[1] = 200.0
    assert check(calm_history(prices_usd=prices, reference_price_usd=float(prices[-1]))) is None


def test_a_move_of_exactly_the_minimum_jump_passes_and_one_ulp_more_holds():
    """A flat history at $1 (MAD 0, so the fraction alone sets the limit) with the minimum jump
    set to 25%: the last hour to $1.25 is a log return of log(1.25) = log1p(0.25) exactly (1.25
    is a double), not beyond the limit: it passes. The next double above 1.25 holds."""
    guard = AnomalyGuard(replace(GUARD, min_jump_fraction=0.25))
    prices = np.full(HOURS, 1.0)
    prices[-1] = 1.25
    assert guard.check(calm_history(prices_usd=prices), AS_OF) is None
    prices[-1] = np.nextafter(1.25, 2.0)
    sigmas = math.log(prices[-1]) / 1e-12
    assert guard.check(calm_history(prices_usd=prices), AS_OF) == (
        f"last price moved +25.0% in one hour ({sigmas:.0f} robust sigmas); waiting for confirmation")


def test_a_reference_exactly_the_maximum_deviation_away_passes_and_a_hair_more_holds():
    """Flat at $125 (no jump) with the limit set to 25%: a reference of $100 is 125 / 100 - 1 =
    0.25 away exactly (every step exact in doubles), not beyond the limit: it passes. A reference
    one double under $100 puts the price just beyond 25% and holds."""
    guard = AnomalyGuard(replace(GUARD, max_reference_deviation=0.25))
    flat = calm_history(prices_usd=np.full(HOURS, 125.0))
    assert guard.check(replace(flat, reference_price_usd=100.0), AS_OF) is None
    assert guard.check(replace(flat, reference_price_usd=float(np.nextafter(100.0, 0.0))), AS_OF) == (
        "oracle price is 25.0% away from the reference source; possible manipulation")
