"""Guard checks the other guard tests leave half-open (found by mutation): each condition of a
compound check on its own, the whole wording of the jump hold, the robust sigma's floor and
scale, a pegged asset's reference, and a last hour with no price."""

from __future__ import annotations

import math

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
