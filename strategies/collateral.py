"""Collateral parameters from the price drop a position must survive.

The liquidation threshold is set so that a position sitting exactly at its threshold still
covers its debt plus the liquidation bonus after the expected-shortfall drop over the
liquidation horizon: LT = (1 - ES) / LB. The horizon is how long the market needs to absorb
the collateral a stress liquidates at the available depth (never under `min_horizon_hours`).
The bonus pays the liquidator's slippage and costs; LTV sits below LT by the 95% one-day drop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from strategies.config import TailConfig

STUDENT_DOF = 4.0
_T_SCALE = math.sqrt(STUDENT_DOF / (STUDENT_DOF - 2))
TAIL_WINDOW_HOURS = 24 * 180


@dataclass(frozen=True)
class TailModel:
    """Filtered historical simulation: the quantile and tail mean of past returns divided by
    their EWMA volatility, in units of sigma (positive numbers for losses). Kupiec-tested on
    the bundled history (see backtests.validation)."""

    var_sigmas: float
    es_sigmas: float

    def drop_var(self, hourly_sigma: float, horizon_hours: float) -> float:
        return float(-math.expm1(-self.var_sigmas * hourly_sigma * math.sqrt(horizon_hours)))

    def drop_expected_shortfall(self, hourly_sigma: float, horizon_hours: float) -> float:
        return float(-math.expm1(-self.es_sigmas * hourly_sigma * math.sqrt(horizon_hours)))


def fit_tail(standardized_returns: np.ndarray, confidence: float, config: TailConfig | None = None) -> TailModel:
    """Empirical tail of the last `window_hours` standardized returns; falls back to the
    scaled Student-t when there are fewer than `min_sample_hours` to estimate a 1% tail."""
    window = config.window_hours if config else TAIL_WINDOW_HOURS
    min_sample = config.min_sample_hours if config else 24 * 30
    dof = config.student_dof if config else STUDENT_DOF
    sample = standardized_returns[-window:]
    if len(sample) < min_sample:
        q = -stats.t.ppf(1 - confidence, dof) / math.sqrt(dof / (dof - 2))
        return TailModel(float(q), float(q * 1.3))
    var = -float(np.quantile(sample, 1 - confidence))
    tail = sample[sample <= -var]
    return TailModel(var, -float(tail.mean()) if len(tail) else var)


def drop_var(hourly_sigma: float, horizon_hours: float, confidence: float) -> float:
    """Value-at-risk of a price drop (fraction) over the horizon, scaled Student-t returns."""
    quantile = stats.t.ppf(1 - confidence, STUDENT_DOF) / _T_SCALE
    return float(-math.expm1(quantile * hourly_sigma * math.sqrt(horizon_hours)))


def drop_expected_shortfall(hourly_sigma: float, horizon_hours: float, confidence: float) -> float:
    """Mean drop (fraction) beyond the VaR, same distribution."""
    alpha = 1 - confidence
    q = stats.t.ppf(alpha, STUDENT_DOF)
    # Closed form of E[T | T < q] for Student-t, in units of the unit-variance scale.
    tail_mean = -stats.t.pdf(q, STUDENT_DOF) / alpha * (STUDENT_DOF + q**2) / (STUDENT_DOF - 1) / _T_SCALE
    return float(-math.expm1(tail_mean * hourly_sigma * math.sqrt(horizon_hours)))


def constant_product_slippage(trade_usd: float, depth_usd: float, depth_slippage: float) -> float:
    """Slippage of selling `trade_usd` into a constant-product pool whose depth at
    `depth_slippage` is `depth_usd`: the pool's reserve is depth x (1 - s) / s."""
    if depth_usd <= 0:
        return 1.0
    reserve = depth_usd * (1 - depth_slippage) / depth_slippage
    return trade_usd / (reserve + trade_usd)


@dataclass(frozen=True)
class NewLiquidations:
    """Positions an LT cut makes liquidatable at once (HF from >= 1 to < 1)."""

    positions: int
    debt_usd: float
    share_of_debt: float


def newly_liquidatable(
    collateral_usd: np.ndarray, debt_usd: np.ndarray, threshold_before: float, threshold_after: float
) -> NewLiquidations:
    if len(debt_usd) == 0 or debt_usd.sum() <= 0:
        return NewLiquidations(0, 0.0, 0.0)
    health_before = collateral_usd * threshold_before / debt_usd
    health_after = collateral_usd * threshold_after / debt_usd
    hit = (health_before >= 1.0) & (health_after < 1.0)
    return NewLiquidations(int(hit.sum()), float(debt_usd[hit].sum()), float(debt_usd[hit].sum() / debt_usd.sum()))


def largest_safe_cut(
    collateral_usd: np.ndarray, debt_usd: np.ndarray, threshold_bps: int, target_bps: int, max_share: float
) -> int:
    """The lowest LT between current and target whose immediate liquidations stay within
    `max_share` of debt (the first of several smaller steps when the full cut is too much)."""
    for candidate in range(threshold_bps - 1, target_bps - 1, -1):
        if newly_liquidatable(collateral_usd, debt_usd, threshold_bps / 1e4, candidate / 1e4).share_of_debt > max_share:
            return candidate + 1
    return target_bps
