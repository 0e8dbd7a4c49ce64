"""The input guard, check by check: each has a passing and a failing case, and the time
limits are tested one second either side of the limit."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from strategies.anomaly import AnomalyGuard, longest_gap_hours, valid_returns
from strategies.config import default_config
from strategies.inputs import AssetHistory

GUARD = default_config().guard  # max_staleness_s 10,800; min_history_hours 336; max_gap_hours 26
AS_OF = 1_700_006_400
HOURS = 720


def calm_history(**changes) -> AssetHistory:
    """720 hourly prices whose returns alternate +0.001 / -0.001, newest observation 60 s
    before AS_OF."""
    steps = np.where(np.arange(HOURS - 1) % 2 == 0, 0.001, -0.001)
    prices = 100 * np.exp(np.concatenate(([0.0], np.cumsum(steps))))
    base = AssetHistory(
        symbol="ETH", prices_usd=prices, last_observation_s=AS_OF - 60, invalid_observations=0, first_invalid_s=None,
        carried_hours=0, gaps=(), liquidity_depth_usd=5e6, depth_source="config", reference_price_usd=None,
        reference_source="none", supplied_tokens=1.0, borrowed_tokens=0.5, utilization=np.full(HOURS, np.nan),
    )
    return replace(base, **changes)


def check(history: AssetHistory) -> str | None:
    return AnomalyGuard(GUARD).check(history, AS_OF)


def test_clean_history_passes():
    assert check(calm_history()) is None


@pytest.mark.parametrize("age_s, holds", [(GUARD.max_staleness_s - 1, False), (GUARD.max_staleness_s, False),
                                          (GUARD.max_staleness_s + 1, True)])
def test_staleness_limit_to_the_second(age_s, holds):
    """Stale means strictly older than max_staleness_s (10,800 s) by the feed's updatedAt."""
    reason = check(calm_history(last_observation_s=AS_OF - age_s))
    assert (reason is not None) == holds
    if holds:
        assert reason == "stale price: last update 3.0 h before the decision"


def _with_gap(hours: int) -> np.ndarray:
    prices = calm_history().prices_usd.copy()
    prices[-100 - hours:-100] = np.nan
    return prices


@pytest.mark.parametrize("gap_hours, holds", [(GUARD.max_gap_hours, False), (GUARD.max_gap_hours + 1, True)])
def test_gap_limit_to_the_hour(gap_hours, holds):
    reason = check(calm_history(prices_usd=_with_gap(gap_hours)))
    assert (reason == f"gap of {gap_hours} h in the recent history") == holds
    assert (reason is None) == (not holds)


def test_a_gap_older_than_the_recent_window_is_tolerated():
    prices = calm_history().prices_usd.copy()
    prices[10:60] = np.nan  # 50 h, but more than 336 h before the decision
    assert check(calm_history(prices_usd=prices)) is None


def test_invalid_observations_hold_and_name_the_first():
    reason = check(calm_history(invalid_observations=2, first_invalid_s=AS_OF - 7_200))
    assert reason == f"oracle reported 2 zero, negative or NaN prices (first at {AS_OF - 7_200})"


def test_empty_history_holds():
    assert check(calm_history(prices_usd=np.full(HOURS, np.nan), last_observation_s=0)) == "empty price history"


@pytest.mark.parametrize("available, holds", [(GUARD.min_history_hours, False), (GUARD.min_history_hours - 1, True)])
def test_minimum_history_to_the_hour(available, holds):
    prices = calm_history().prices_usd.copy()
    prices[: HOURS - available] = np.nan
    reason = check(calm_history(prices_usd=prices))
    assert (reason == f"only {available} h of history; {GUARD.min_history_hours} h needed") == holds
    assert (reason is None) == (not holds)


def test_jump_waits_for_confirmation_and_a_normal_move_does_not():
    """Earlier returns are +-0.001: median 0 (as many of each), MAD 0.001, robust sigma
    0.0014826. 15 sigmas is 2.2%, but the jump also has to exceed log(1.10) = 9.53%: a +9%
    last hour passes, +11% holds."""
    for move, holds in ((0.09, False), (0.11, True)):
        prices = calm_history().prices_usd.copy()
        prices[-1] = prices[-2] * (1 + move)
        reason = check(calm_history(prices_usd=prices))
        assert (reason is not None and "waiting for confirmation" in reason) == holds
        assert (reason is None) == (not holds)


@pytest.mark.parametrize("deviation, holds", [(-0.049, False), (0.049, False), (-0.051, True), (0.051, True)])
def test_reference_disagreement(deviation, holds):
    """The guard holds when |price / reference - 1| > 5%: the reference is set so that the
    oracle price sits `deviation` away from it."""
    price = float(calm_history().prices_usd[-1])
    reason = check(calm_history(reference_price_usd=price / (1 + deviation)))
    assert (reason == f"oracle price is {abs(deviation):.1%} away from the reference source; possible manipulation") == holds
    assert (reason is None) == (not holds)


def test_invalid_reference_holds():
    assert check(calm_history(reference_price_usd=0.0)) == "reference price source reported a zero, negative or invalid price"


def test_helpers():
    """Returns across a gap are left out: prices 1, 2, NaN, 4, 8 give log 2 (1->2) and log 2 (4->8)."""
    prices = np.array([1.0, 2.0, np.nan, 4.0, 8.0])
    assert valid_returns(prices).tolist() == pytest.approx([np.log(2), np.log(2)])
    assert longest_gap_hours(np.array([1.0, np.nan, np.nan, 2.0, np.nan])) == 2
    assert longest_gap_hours(np.array([1.0, 2.0])) == 0
