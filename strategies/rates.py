"""Interest-rate parameters steered so utilization stays in a target band (Morpho
AdaptiveCurveIRM applied to the whole Aave v3 curve): the rate at the optimal usage (base +
slope1) moves exponentially with the band error at `speed_per_year`, slope2 steepens while
the pool is past its kink and relaxes below the band, and the kink leaves room for the
largest one-day utilization rise seen. Borrowers' response to the rate (the semi-elasticity
estimated in backtests/market_dynamics.py) is what the backtest simulates."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from strategies.params import Param, RiskParams

SECONDS_PER_YEAR = 365 * 86_400


def utilization_error(utilization: float, target: float) -> float:
    """Morpho's normalized error: -1 at 0% utilization, 0 at target, +1 at 100%."""
    if utilization > target:
        return (utilization - target) / (1 - target)
    return (utilization - target) / target


def adapted_rate_at_target(
    rate_at_target: float, utilization: float, target: float, elapsed_s: float, speed_per_year: float = 50.0,
    min_rate: float = 0.001, max_rate: float = 2.0,
) -> float:
    err = utilization_error(utilization, target)
    adapted = rate_at_target * math.exp(speed_per_year * err * elapsed_s / SECONDS_PER_YEAR)
    return min(max(adapted, min_rate), max_rate)


@dataclass(frozen=True)
class RateCurve:
    """Aave's variable-rate curve, as fractions a year (optimal usage as a fraction)."""

    optimal_usage: float
    base: float
    slope1: float
    slope2: float

    @classmethod
    def from_params(cls, params: RiskParams) -> RateCurve:
        return cls(params.optimal_usage_ratio_bps / 1e4, params.base_variable_borrow_rate_bps / 1e4,
                   params.variable_rate_slope1_bps / 1e4, params.variable_rate_slope2_bps / 1e4)

    def borrow_rate(self, utilization: float) -> float:
        if utilization <= self.optimal_usage:
            return self.base + self.slope1 * utilization / self.optimal_usage
        return self.base + self.slope1 + self.slope2 * (utilization - self.optimal_usage) / (1 - self.optimal_usage)

    def targets_bps(self) -> dict[Param, int]:
        return {Param.OPTIMAL_USAGE_RATIO: int(round(self.optimal_usage * 1e4)),
                Param.BASE_VARIABLE_BORROW_RATE: int(round(self.base * 1e4)),
                Param.VARIABLE_RATE_SLOPE1: int(round(self.slope1 * 1e4)),
                Param.VARIABLE_RATE_SLOPE2: int(round(self.slope2 * 1e4))}


def band_error(utilization: float, low: float, high: float) -> float:
    """0 inside [low, high]; above, (u - high) / (1 - high) up to 1; below, (u - low) / low down to -1."""
    if utilization > high:
        return (utilization - high) / (1 - high)
    if utilization < low:
        return (utilization - low) / low
    return 0.0


def optimal_usage_target(utilization: np.ndarray, buffer_multiple: float, low: float, high: float) -> float:
    """The kink leaves room for `buffer_multiple` times the largest one-day rise of utilization
    in the window (a run on the pool must find cash before rates reach slope2's wall):
    uOpt = clip(1 - multiple x max rise, low, high)."""
    values = np.asarray(utilization, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) <= 24:
        return high
    rise = float(np.max(values[24:] - values[:-24]))
    return float(np.clip(1 - buffer_multiple * max(rise, 0.0), low, high))


def steer_curve(curve: RateCurve, utilization: float, band_width: float, elapsed_s: float, speed_per_year: float,
                slope2_speed_per_year: float, min_rate: float, max_rate: float, min_slope2: float, max_slope2: float,
                optimal_usage: float | None = None) -> RateCurve:
    """The whole curve toward the band [uOpt - width, uOpt]: the rate at the kink (base +
    slope1) moves as Morpho's AdaptiveCurveIRM, exp(speed x err x dt), err the band error;
    above the kink slope2 steepens at its own speed (a pool past its kink is short of cash),
    below the band it relaxes toward its floor; the base stays unless the kink rate falls
    under it. `optimal_usage` (from `optimal_usage_target`) moves the kink; the band follows."""
    kink = optimal_usage if optimal_usage is not None else curve.optimal_usage
    err = band_error(utilization, kink - band_width, kink)
    years = elapsed_s / SECONDS_PER_YEAR
    at_kink = min(max((curve.base + curve.slope1) * math.exp(speed_per_year * err * years), min_rate), max_rate)
    slope2 = curve.slope2
    if utilization > kink or err < 0:
        slope2 = min(max(slope2 * math.exp(slope2_speed_per_year * err * years), min_slope2), max_slope2)
    base = min(curve.base, at_kink)
    return RateCurve(kink, base, max(at_kink - base, 0.0), max(slope2, at_kink - base))
