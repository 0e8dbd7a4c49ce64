"""Collateral parameters from the price drop a position must survive.

The liquidation threshold is set so that a position sitting exactly at its threshold still
covers its debt (less the risk appetite's acceptable share) plus the liquidation bonus after
the expected-shortfall drop over the liquidation horizon: LT = (1 - ES) / ((1 - b) x LB). The
horizon is how long the market needs to absorb the collateral a stress liquidates at the
available depth (never under the appetite's minimum). The bonus makes the stress's typical
liquidation pay after slippage at the depth, gas and a margin; LTV sits below LT by the 95%
one-day drop. Drops come from the tail fitted at their horizon (`fit_horizon_tail`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from strategies.config import TailConfig
from strategies.order_statistics import median, quantile, quantiles
from strategies.volatility import winsorize

STUDENT_DOF = 4.0
_T_SCALE = math.sqrt(STUDENT_DOF / (STUDENT_DOF - 2))
TAIL_WINDOW_HOURS = 24 * 180
MIN_TAIL_SAMPLE = 24 * 30


@dataclass(frozen=True)
class TailModel:
    """Filtered historical simulation at one horizon: the quantile and tail mean of past
    `horizon_hours`-hour log returns divided by sigma x sqrt(horizon_hours) (sigma the hourly
    EWMA forecast at each window's start), in those units, positive numbers for losses.

    Fitted at the horizon it is used at: scaling the one-hour tail by sqrt(time) under-covers
    at 24 h (fat hourly tails sum to a thinner-tailed day, and the volatility moves within
    the day), see backtests.validation. For another horizon H the drop scales by
    sqrt(H / horizon_hours) from the fitted one."""

    var_sigmas: float
    es_sigmas: float
    horizon_hours: int = 1

    def drop_var(self, hourly_sigma: float, horizon_hours: float) -> float:
        return float(-math.expm1(-self.var_sigmas * hourly_sigma * math.sqrt(horizon_hours)))

    def drop_expected_shortfall(self, hourly_sigma: float, horizon_hours: float) -> float:
        return float(-math.expm1(-self.es_sigmas * hourly_sigma * math.sqrt(horizon_hours)))


def _settings(config: TailConfig | None) -> tuple[int, int, float]:
    """(window hours, minimum sample, Student-t degrees of freedom) from the strategy config."""
    if config is None:
        return TAIL_WINDOW_HOURS, MIN_TAIL_SAMPLE, STUDENT_DOF
    return config.window_hours, config.min_sample_hours, config.student_dof


def _student_t_tail(confidence: float, dof: float = STUDENT_DOF) -> TailModel:
    q = -stats.t.ppf(1 - confidence, dof) / math.sqrt(dof / (dof - 2))
    return TailModel(float(q), float(q * 1.3))


def fit_tail(standardized_returns: np.ndarray, confidence: float, config: TailConfig | None = None) -> TailModel:
    """Empirical one-hour tail of the last `window_hours` standardized returns; falls back to
    the scaled Student-t when there are fewer than `min_sample_hours` to estimate a 1% tail."""
    window, min_sample, dof = _settings(config)
    sample = standardized_returns[-window:]
    if len(sample) < min_sample:
        return _student_t_tail(confidence, dof)
    var = -quantile(sample, 1 - confidence)
    tail = sample[sample <= -var]
    return TailModel(var, -float(tail.mean()) if len(tail) else var)


def standardized_horizon_returns(returns: np.ndarray, hourly_sigma: np.ndarray, horizon_hours: int) -> np.ndarray:
    """z_s = (r_s + ... + r_{s+h-1}) / (sigma_s x sqrt(h)) for every window inside the data
    (overlapping, one per start hour s); `hourly_sigma[s]` forecasts return s from earlier ones."""
    if horizon_hours < 1:
        raise ValueError(f"horizon must be at least one hour, got {horizon_hours}")
    if len(returns) != len(hourly_sigma):
        raise ValueError(f"{len(returns)} returns but {len(hourly_sigma)} sigmas")
    if len(returns) < horizon_hours:
        return np.zeros(0)
    cumulative = np.concatenate([[0.0], np.cumsum(returns)])
    sums = cumulative[horizon_hours:] - cumulative[:-horizon_hours]
    return sums / (hourly_sigma[: len(sums)] * math.sqrt(horizon_hours))


def empirical_horizon_tail(returns: np.ndarray, hourly_sigma: np.ndarray, horizon_hours: int,
                           confidence: float, config: TailConfig | None = None,
                           winsorize_robust_sigmas: float = 12.0) -> TailModel:
    """The tail of standardized `horizon_hours` returns over the last TAIL_WINDOW_HOURS start
    hours (windows that end inside the data: no look-ahead). Returns are winsorized over that
    span first (an isolated bad print is not a tail; a real move spans hours and stays)."""
    return HorizonTails(returns, hourly_sigma, config, winsorize_robust_sigmas).empirical(horizon_hours, confidence)


def fit_horizon_tail(returns: np.ndarray, hourly_sigma: np.ndarray, horizon_hours: int, confidence: float,
                     config: TailConfig | None = None, winsorize_robust_sigmas: float = 12.0) -> TailModel:
    """The tail the strategy uses at a horizon: the larger of the direct h-hour estimate and
    the one-hour tail scaled by sqrt(h). The direct estimate is right on average but rests on
    few independent windows (120 days hold 120 one-day windows, about one beyond 99%); the
    one-hour one is stable but too thin at 95% over a day. The larger passes Kupiec and
    Christoffersen at 24 h (95%, 99%) and 72 h (99%) on every bundled volatile asset, where
    sqrt(time) alone fails at 24 h 95% and the direct estimate alone at 99%
    (benchmarks/calibration_report.py; docs/methodology.md)."""
    return HorizonTails(returns, hourly_sigma, config, winsorize_robust_sigmas).fit(horizon_hours, confidence)


class HorizonTails:
    """`fit_horizon_tail` and `empirical_horizon_tail` of one asset's returns and EWMA series
    at several horizons and confidences (a decision asks for 24 h at 99% and at 95%, each with
    the one-hour tail beside it). The winsorized span and the standardized sample of each
    horizon are computed once and shared: each is the same function of the same values as in
    a separate call, so every tail is that call's, bit for bit."""

    def __init__(self, returns: np.ndarray, hourly_sigma: np.ndarray, config: TailConfig | None = None,
                 winsorize_robust_sigmas: float = 12.0, winsorized: np.ndarray | None = None,
                 confidences: tuple[float, ...] = ()) -> None:
        """`winsorized`: `winsorize(returns, winsorize_robust_sigmas)` when the caller has it
        (the span of every horizon when the returns are shorter than the tail window).
        `confidences`: those the caller will ask for; a sample's quantiles at all of them are
        taken in one partition (`order_statistics.quantiles`, np.quantile's values; numpy
        computes each quantile of a list as it computes it alone)."""
        self.returns, self.hourly_sigma, self.config = returns, hourly_sigma, config
        self.winsorize_robust_sigmas = winsorize_robust_sigmas
        self.confidences = tuple(dict.fromkeys(confidences))
        self._winsorized: dict[int, np.ndarray] = {}  # by the span's first index in `returns`
        if winsorized is not None:
            self._winsorized[0] = winsorized
        self._samples: dict[int, np.ndarray] = {}  # by horizon
        self._quantiles: dict[tuple[int, float], float] = {}  # by (horizon, confidence)

    def sample(self, horizon_hours: int) -> np.ndarray:
        """Standardized `horizon_hours` returns over the last `window_hours` start hours."""
        if horizon_hours not in self._samples:
            window, _, _ = _settings(self.config)
            keep = window + horizon_hours - 1
            start = max(len(self.returns) - keep, 0)  # returns[-keep:] starts here
            if start not in self._winsorized:
                self._winsorized[start] = winsorize(self.returns[-keep:], self.winsorize_robust_sigmas)
            self._samples[horizon_hours] = standardized_horizon_returns(self._winsorized[start],
                                                                        self.hourly_sigma[-keep:], horizon_hours)
        return self._samples[horizon_hours]

    def empirical(self, horizon_hours: int, confidence: float) -> TailModel:
        _, min_sample, dof = _settings(self.config)
        sample = self.sample(horizon_hours)
        if len(sample) < min_sample:
            tail = _student_t_tail(confidence, dof)
            return TailModel(tail.var_sigmas, tail.es_sigmas, horizon_hours)
        var = -self._quantile(horizon_hours, sample, confidence)
        beyond = sample[sample <= -var]
        return TailModel(var, -float(beyond.mean()) if len(beyond) else var, horizon_hours)

    def _quantile(self, horizon_hours: int, sample: np.ndarray, confidence: float) -> float:
        """float(np.quantile(sample, 1 - confidence))."""
        if confidence not in self.confidences:
            return quantile(sample, 1 - confidence)
        if (horizon_hours, confidence) not in self._quantiles:
            values = quantiles(sample, [1 - c for c in self.confidences])
            self._quantiles.update(dict(zip(((horizon_hours, c) for c in self.confidences), values, strict=True)))
        return self._quantiles[(horizon_hours, confidence)]

    def fit(self, horizon_hours: int, confidence: float) -> TailModel:
        """`fit_horizon_tail` (see there)."""
        direct = self.empirical(horizon_hours, confidence)
        if horizon_hours == 1:
            return direct
        hourly = self.empirical(1, confidence)
        return TailModel(max(direct.var_sigmas, hourly.var_sigmas), max(direct.es_sigmas, hourly.es_sigmas),
                         horizon_hours)


def threshold_target_bps(es_drop: float, bonus_bps: int, max_bad_debt_share: float) -> int:
    """LT = (1 - ES) / ((1 - b) x LB), rounded down: a position at HF 1 whose collateral falls
    by the ES drop still pays (1 - b) of its debt plus the bonus. b = 0 is full cover."""
    return int(math.floor(1e4 * (1 - es_drop) / ((1 - max_bad_debt_share) * bonus_bps / 1e4) + 1e-9))


def ltv_target_bps(threshold_bps: int, ltv_drop: float) -> int:
    """LTV = LT x (1 - drop), rounded down: a position opened at the LTV limit reaches HF 1
    only after the price falls by `ltv_drop`."""
    return int(math.floor(threshold_bps * (1 - ltv_drop) + 1e-9))


@dataclass(frozen=True)
class BonusTarget:
    bonus_bps: int
    slippage: float
    gas_share: float
    reference_repay_usd: float


def liquidation_bonus_bps(hourly_liquidation_usd: float, depth_usd: float, depth_slippage: float,
                          reference_repay_usd: float, gas_usd_per_liquidation: float, margin_bps: int,
                          min_bonus_bps: int, max_bonus_bps: int) -> BonusTarget:
    """The smallest bonus at which liquidating `reference_repay_usd` of debt pays: the
    liquidator receives repay x LB of collateral, sells it at the slippage of the stress's
    hourly liquidation volume into the depth, pays gas and keeps a margin:
    repay x LB x (1 - slippage) >= repay x (1 + margin) + gas, so
    LB = (1 + margin + gas / repay) / (1 - slippage), rounded up, within [min, max]."""
    if reference_repay_usd <= 0:
        raise ValueError(f"reference liquidation must be positive, got {reference_repay_usd}")
    slippage = constant_product_slippage(hourly_liquidation_usd, depth_usd, depth_slippage)
    gas_share = gas_usd_per_liquidation / reference_repay_usd
    needed = (1 + margin_bps / 1e4 + gas_share) / max(1 - slippage, 1e-9)
    bonus = int(math.ceil(1e4 * needed - 1e-9))
    return BonusTarget(min(max(bonus, min_bonus_bps), max_bonus_bps), slippage, gas_share, reference_repay_usd)


def reference_repay_usd(collateral_usd: np.ndarray, debt_usd: np.ndarray, threshold: float, drop: float,
                        close_factor: float = 0.5, full_close_health: float = 0.95) -> float:
    """The debt-weighted median of what the stress's liquidations repay (close factor 50%,
    100% at HF <= 0.95, as Aave); half the median debt when the drop liquidates nobody."""
    if len(debt_usd) == 0:
        return 0.0
    health = collateral_usd * (1 - drop) * threshold / debt_usd
    hit = health < 1.0
    if not hit.any():
        return float(median(debt_usd) * close_factor)
    repay = np.where(health[hit] <= full_close_health, 1.0, close_factor) * debt_usd[hit]
    order = np.argsort(repay, kind="stable")
    weights = np.cumsum(repay[order])
    return float(repay[order][int(np.searchsorted(weights, weights[-1] / 2))])


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
