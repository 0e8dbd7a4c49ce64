"""Rate-curve edges the other rate tests leave open (found by mutation): the registry mapping,
rounding to bps, Morpho's normalized error and its clamps, each limit of steering."""

from __future__ import annotations

import math

import numpy as np
import pytest

from strategies.params import AAVE_V3_OCT_2023, Param
from strategies.rates import (
    SECONDS_PER_YEAR,
    RateCurve,
    adapted_rate_at_target,
    band_error,
    optimal_usage_target,
    steer_curve,
    utilization_error,
)

DAY_S = 86_400


def test_from_params_maps_each_field_in_bps():
    """USDC October 2023: optimal 90%, base 0, slope1 3.5%, slope2 60%."""
    assert RateCurve.from_params(AAVE_V3_OCT_2023["USDC"]) == RateCurve(0.9, 0.0, 0.035, 0.6)
    custom = AAVE_V3_OCT_2023["USDC"].with_changes({Param.BASE_VARIABLE_BORROW_RATE: 25})
    assert RateCurve.from_params(custom).base == 0.0025


def test_targets_round_to_the_nearest_bps():
    """0.299949 -> 2,999.49 bps -> 2,999; 0.02999 -> 299.9 -> 300 (not truncated to 299);
    0.00016 -> 1.6 -> 2; 0.61 -> 6,100."""
    curve = RateCurve(0.299949, 0.00016, 0.02999, 0.61)
    assert curve.targets_bps() == {Param.OPTIMAL_USAGE_RATIO: 2_999, Param.BASE_VARIABLE_BORROW_RATE: 2,
                                   Param.VARIABLE_RATE_SLOPE1: 300, Param.VARIABLE_RATE_SLOPE2: 6_100}


def test_rate_at_and_around_the_kink():
    """USDC: at 90% the rate is base + slope1 = 3.5% from either side; at 95%, 3.5% + 60% x 0.05
    / 0.1 = 33.5%; at 45%, 1.75%; at 0%, the base."""
    usdc = RateCurve(0.9, 0.01, 0.035, 0.6)
    assert usdc.borrow_rate(0.9) == pytest.approx(0.045, abs=1e-15)
    assert usdc.borrow_rate(0.95) == pytest.approx(0.01 + 0.335, abs=1e-12)
    assert usdc.borrow_rate(0.45) == pytest.approx(0.01 + 0.0175, abs=1e-15)
    assert usdc.borrow_rate(0.0) == 0.01


@pytest.mark.parametrize("utilization, error", [(0.0, -1.0), (0.4, -0.5), (0.8, 0.0), (0.9, 0.5), (1.0, 1.0)])
def test_morpho_normalized_error(utilization, error):
    assert utilization_error(utilization, 0.8) == pytest.approx(error, abs=1e-12)


def test_adapted_rate_moves_exponentially_and_stays_in_its_clamps():
    """4% at target, U 90% (err 0.5), one day at the default speed 50 a year:
    4% x exp(50 x 0.5 / 365) = 4.28357%. A year at err +1 reaches the 200% cap; a year at -1
    falls to the 0.1% floor."""
    assert adapted_rate_at_target(0.04, 0.9, 0.8, DAY_S) == pytest.approx(0.04 * math.exp(25 / 365), rel=1e-12)
    assert adapted_rate_at_target(0.04, 1.0, 0.8, SECONDS_PER_YEAR) == 2.0
    assert adapted_rate_at_target(0.04, 0.0, 0.8, SECONDS_PER_YEAR) == 0.001
    assert adapted_rate_at_target(0.04, 0.9, 0.8, DAY_S, speed_per_year=10.0, min_rate=0.05) == 0.05
    assert adapted_rate_at_target(0.04, 0.9, 0.8, DAY_S, max_rate=0.041) == 0.041


def test_band_error_edges():
    """Inside [75%, 80%] including both ends: 0; 100%: +1; 0%: -1."""
    assert (band_error(0.75, 0.75, 0.8), band_error(0.8, 0.75, 0.8)) == (0.0, 0.0)
    assert (band_error(1.0, 0.75, 0.8), band_error(0.0, 0.75, 0.8)) == (1.0, -1.0)


def test_optimal_usage_target_needs_more_than_a_day_and_ignores_gaps_and_falls():
    """24 points or fewer: no daily rise to measure, the upper limit. NaN hours are dropped.
    Utilization only falling: no rise, the upper limit. A 30% rise with multiple 2 would put
    the kink at 40%: clipped to the lower limit 45%."""
    assert optimal_usage_target(np.linspace(0.1, 0.9, 24), 2.0, 0.45, 0.92) == 0.92
    assert optimal_usage_target(np.linspace(0.9, 0.5, 60), 2.0, 0.45, 0.92) == 0.92
    jump = np.concatenate([np.full(30, 0.5), np.full(30, 0.8)])
    assert optimal_usage_target(jump, 2.0, 0.45, 0.92) == 0.45
    with_gaps = np.concatenate([np.full(30, 0.5), [np.nan] * 10, np.full(30, 0.6)])
    assert optimal_usage_target(with_gaps, 2.0, 0.45, 0.92) == pytest.approx(0.8)
    assert optimal_usage_target(np.concatenate([np.full(30, 0.5), np.full(30, 0.55)]), 1.0, 0.45, 0.92) == pytest.approx(0.92)


def steer(curve, utilization, elapsed_s=DAY_S, **limits):
    options = dict(band_width=0.05, elapsed_s=elapsed_s, speed_per_year=50.0, slope2_speed_per_year=25.0, min_rate=0.001,
                   max_rate=2.0, min_slope2=0.3, max_slope2=3.0)
    options.update(limits)
    return steer_curve(curve, utilization, **options)


def test_steering_clamps_the_kink_rate_and_slope2():
    """A year at U 100% (err +1): the kink rate would be 2.8% x e^50, capped at max_rate 200%;
    slope2 80% x e^25 capped at 300%. A year at U 0%: kink rate floored at 0.1%, slope2 at 30%."""
    weth = RateCurve.from_params(AAVE_V3_OCT_2023["WETH"])
    up = steer(weth, 1.0, SECONDS_PER_YEAR)
    assert (up.base + up.slope1, up.slope2) == (2.0, 3.0)
    down = steer(weth, 0.0, SECONDS_PER_YEAR)
    assert (down.base + down.slope1, down.slope2) == (pytest.approx(0.001), 0.3)


def test_slope2_moves_only_past_the_kink_or_below_the_band():
    """Band [75%, 80%] at kink 80%: at 80% exactly (in the band, not past the kink) slope2 stays;
    at 80.1% it steepens; at 74.9% it relaxes."""
    weth = RateCurve.from_params(AAVE_V3_OCT_2023["WETH"])
    assert steer(weth, 0.8).slope2 == weth.slope2
    assert steer(weth, 0.801).slope2 > weth.slope2
    assert steer(weth, 0.749).slope2 < weth.slope2


def test_slope2_never_under_slope1_after_steering():
    """slope2 floor 0.3 but the kink rate pushed to 50%: slope2 becomes at least slope1 (50%)."""
    curve = steer(RateCurve(0.8, 0.0, 0.45, 0.3), 0.9, DAY_S, min_slope2=0.3, max_slope2=0.3)
    assert curve.slope1 == pytest.approx(0.45 * math.exp(50 * 0.5 / 365), rel=1e-12)
    assert curve.slope2 == curve.slope1


def test_targets_round_each_field_on_its_own_scale():
    """0.100045 -> 1,000.45 bps -> 1,000 (a 10,001 scale would give 1,000.55 -> 1,001)."""
    targets = RateCurve(0.5, 0.100045, 0.100045, 0.6).targets_bps()
    assert (targets[Param.BASE_VARIABLE_BORROW_RATE], targets[Param.VARIABLE_RATE_SLOPE1]) == (1_000, 1_000)


def test_the_kink_target_measures_a_rise_with_25_points():
    """25 hourly points: one one-day rise (point 24 minus point 0), 10%: kink 1 - 2 x 0.1 = 80%."""
    assert optimal_usage_target(np.linspace(0.5, 0.6, 25), 2.0, 0.45, 0.92) == pytest.approx(0.8)


def test_slope2_is_not_clamped_at_the_kink_or_inside_the_band():
    """slope2 0.8 above its 0.5 cap stays where it is while utilization sits at the kink (80%)
    or inside the band (77%): only past the kink or below the band is it steered and clamped.
    Below the band it is: exp(-25 x 0.2 / 365) x 0.8 = 0.789, capped at 0.5."""
    curve = RateCurve(0.8, 0.0, 0.028, 0.8)
    for utilization in (0.8, 0.77):
        assert steer(curve, utilization, max_slope2=0.5).slope2 == 0.8
    assert steer(curve, 0.6, max_slope2=0.5).slope2 == 0.5


def test_slope2_floor_is_the_kink_rate_above_the_base():
    """Base 2%, slope1 3% (kink rate 5%), slope2 4% in the band: slope2 stays 4% (above the
    kink rate less the base, 3%)."""
    assert steer(RateCurve(0.8, 0.02, 0.03, 0.04), 0.77, min_slope2=0.0).slope2 == 0.04
