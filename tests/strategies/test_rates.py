"""The whole rate curve steered to a utilization band, by hand (no ../shared/data)."""

from __future__ import annotations

import numpy as np
import pytest

from strategies.params import AAVE_V3_OCT_2023, Param
from strategies.rates import RateCurve, band_error, optimal_usage_target, steer_curve

WETH = RateCurve.from_params(AAVE_V3_OCT_2023["WETH"])  # uOpt 80%, base 0, slope1 2.8%, slope2 80%
DAY_S = 86_400


def steer(curve, utilization, elapsed_s=DAY_S, optimal_usage=None):
    return steer_curve(curve, utilization, 0.05, elapsed_s, 50.0, 25.0, 0.001, 2.0, 0.3, 3.0, optimal_usage)


def test_curve_and_band_error_by_hand():
    """WETH: U 40%: 2.8% x 0.4 / 0.8 = 1.4%; U 90%: 2.8% + 80% x 0.1 / 0.2 = 42.8%. Band
    [75%, 80%]: U 90%: 0.1 / 0.2 = 0.5; U 60%: (0.6 - 0.75) / 0.75 = -0.2; U 77%: 0."""
    assert WETH.borrow_rate(0.4) == pytest.approx(0.014)
    assert WETH.borrow_rate(0.9) == pytest.approx(0.428)
    assert band_error(0.9, 0.75, 0.8) == pytest.approx(0.5)
    assert band_error(0.6, 0.75, 0.8) == pytest.approx(-0.2)
    assert band_error(0.77, 0.75, 0.8) == 0.0


def test_above_the_band_the_kink_rate_and_slope2_rise():
    """U 90%, one day: kink rate 2.8% x exp(50 x 0.5 / 365) = 2.8% x 1.070893 = 2.99850%;
    slope2 80% x exp(25 x 0.5 / 365) = 80% x 1.034840 = 82.7872%."""
    curve = steer(WETH, 0.9)
    assert curve.slope1 == pytest.approx(0.0299850, abs=1e-7) and curve.base == 0.0
    assert curve.slope2 == pytest.approx(0.827872, abs=1e-6)
    assert curve.targets_bps() == {Param.OPTIMAL_USAGE_RATIO: 8_000, Param.BASE_VARIABLE_BORROW_RATE: 0,
                                   Param.VARIABLE_RATE_SLOPE1: 300, Param.VARIABLE_RATE_SLOPE2: 8_279}


def test_below_the_band_both_relax_and_inside_nothing_moves():
    """U 60%, one day: 2.8% x exp(-50 x 0.2 / 365) = 2.72433%; slope2 80% x exp(-25 x 0.2 /
    365) = 78.9116%. U 77% (inside [75%, 80%]): the curve stays."""
    curve = steer(WETH, 0.6)
    assert curve.slope1 == pytest.approx(0.0272433, abs=1e-7)
    assert curve.slope2 == pytest.approx(0.789116, abs=1e-6)
    assert steer(WETH, 0.77) == WETH


def test_the_base_gives_way_when_the_kink_rate_falls_under_it():
    """Base 3%, slope1 1% (kink 4%), U 50% for 30 days: err -1/3, 4% x exp(-50/3 x 30/365) =
    4% x 0.254141 = 1.01656% < 3%: base 1.01656%, slope1 0."""
    curve = steer(RateCurve(0.8, 0.03, 0.01, 0.8), 0.5, 30 * DAY_S)
    assert curve.base == pytest.approx(0.0101656, abs=1e-7) and curve.slope1 == 0.0


def test_the_kink_leaves_room_for_the_largest_daily_rise():
    """Utilization 50% for two days, then up to 60% within a day: largest one-day rise 10%;
    twice that as buffer: uOpt = 1 - 0.2 = 80%. Calm flat 50%: the upper limit (92%)."""
    rising = np.concatenate([np.full(48, 0.5), np.linspace(0.5, 0.6, 25)[1:]])
    assert optimal_usage_target(rising, 2.0, 0.45, 0.92) == pytest.approx(0.8)
    assert optimal_usage_target(np.full(100, 0.5), 2.0, 0.45, 0.92) == 0.92
    moved = steer(WETH, 0.9, optimal_usage=0.7)  # band follows the kink: [65%, 70%], err (0.9 - 0.7) / 0.3
    assert moved.optimal_usage == 0.7
    assert moved.slope1 == pytest.approx(0.028 * np.exp(50 * (0.2 / 0.3) / 365), abs=1e-9)
