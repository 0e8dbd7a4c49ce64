"""Statistical checks of the risk models on real history: VaR backtests at every horizon the
strategy uses, with Kupiec's proportion-of-failures test (unconditional coverage) and
Christoffersen's (1998) independence and conditional-coverage tests.

Each window's VaR is forecast from earlier hours only, with the strategy's own functions
(`collateral.fit_horizon_tail` on the EWMA sigma); windows of `horizon_hours` do not overlap,
so the exceedances of a 24 h test are 24 h apart and the chi-square laws hold without an
overlap correction. The EWMA sigma clips returns at 12 robust sigmas of the whole series, the
only full-sample quantity used (it moves no forecast in the bundled data by more than a
rounding of the clip level)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from strategies.collateral import MIN_TAIL_SAMPLE, empirical_horizon_tail, fit_horizon_tail
from strategies.peg import DepegEvent, PegCalibration, fit_jump_model, in_depeg, mixture_tail, noise_drops, peg_deviation
from strategies.volatility import ewma_sigma_series

SCALINGS = ("sqrt_time", "direct", "strategy")
SIGNIFICANCE = 0.05
# The decision's input window (the live service's 120 days): the tail is fitted on what a
# decision sees, not on all earlier history.
DECISION_WINDOW_HOURS = 24 * 120


def _xlogy(count: float, probability: float) -> float:
    """count x ln(probability) with 0 x ln 0 = 0 (a transition never seen adds nothing)."""
    return count * math.log(probability) if count else 0.0


def kupiec_pof(observations: int, exceedances: int, confidence: float) -> float:
    """Kupiec's LR_pof = -2 ln[(1-p)^(n-x) p^x / (1-x/n)^(n-x) (x/n)^x], p = 1 - confidence;
    chi-square with 1 degree of freedom under correct coverage."""
    if observations <= 0 or not 0 <= exceedances <= observations:
        raise ValueError(f"need 0 <= exceedances <= observations > 0, got {exceedances} of {observations}")
    p, n, x = 1 - confidence, observations, exceedances
    rate = x / n
    null = _xlogy(n - x, 1 - p) + _xlogy(x, p)
    alternative = _xlogy(n - x, 1 - rate) + _xlogy(x, rate)
    return max(-2 * (null - alternative), 0.0)


@dataclass(frozen=True)
class Transitions:
    """Counts of consecutive (previous, next) exceedance pairs."""

    n00: int
    n01: int
    n10: int
    n11: int


def transitions(hits: np.ndarray) -> Transitions:
    hits = np.asarray(hits, dtype=bool)
    previous, following = hits[:-1], hits[1:]
    return Transitions(int(np.sum(~previous & ~following)), int(np.sum(~previous & following)),
                       int(np.sum(previous & ~following)), int(np.sum(previous & following)))


def christoffersen_independence(hits: np.ndarray) -> float:
    """LR_ind = -2 ln[L(pi) / L(pi0, pi1)]: a first-order Markov chain of exceedances (pi0 =
    P(hit | no hit before), pi1 = P(hit | hit before)) against independence (one pi);
    chi-square with 1 degree of freedom when exceedances do not cluster."""
    t = transitions(hits)
    total = t.n00 + t.n01 + t.n10 + t.n11
    if total == 0:
        return 0.0
    pi = (t.n01 + t.n11) / total
    independent = _xlogy(t.n00 + t.n10, 1 - pi) + _xlogy(t.n01 + t.n11, pi)
    markov = 0.0
    if t.n00 + t.n01:
        pi0 = t.n01 / (t.n00 + t.n01)
        markov += _xlogy(t.n00, 1 - pi0) + _xlogy(t.n01, pi0)
    if t.n10 + t.n11:
        pi1 = t.n11 / (t.n10 + t.n11)
        markov += _xlogy(t.n10, 1 - pi1) + _xlogy(t.n11, pi1)
    return max(-2 * (independent - markov), 0.0)


@dataclass(frozen=True)
class CoverageTest:
    """Kupiec (pof), Christoffersen independence (ind) and conditional coverage (cc =
    pof + ind, chi-square with 2 degrees of freedom) of one exceedance sequence."""

    confidence: float
    observations: int
    exceedances: int
    lr_pof: float
    lr_ind: float

    @property
    def expected(self) -> float:
        return self.observations * (1 - self.confidence)

    @property
    def lr_cc(self) -> float:
        return self.lr_pof + self.lr_ind

    @property
    def p_pof(self) -> float:
        return float(stats.chi2.sf(self.lr_pof, 1))

    @property
    def p_ind(self) -> float:
        return float(stats.chi2.sf(self.lr_ind, 1))

    @property
    def p_cc(self) -> float:
        return float(stats.chi2.sf(self.lr_cc, 2))

    @property
    def passes(self) -> bool:
        """Neither unconditional nor conditional coverage rejected at 5%."""
        return self.p_pof >= SIGNIFICANCE and self.p_cc >= SIGNIFICANCE


def coverage_test(hits: np.ndarray, confidence: float) -> CoverageTest:
    hits = np.asarray(hits, dtype=bool)
    return CoverageTest(confidence, len(hits), int(hits.sum()), kupiec_pof(len(hits), int(hits.sum()), confidence),
                        christoffersen_independence(hits))


@dataclass(frozen=True)
class HorizonForecasts:
    """Non-overlapping windows: start hour index (into returns), VaR as a log-return
    threshold (positive), realized log return over the window."""

    starts: np.ndarray
    var_log: np.ndarray
    realized_log: np.ndarray

    @property
    def hits(self) -> np.ndarray:
        return self.realized_log < -self.var_log


def horizon_forecasts(returns: np.ndarray, horizon_hours: int, confidence: float, scaling: str,
                      warmup_hours: int = 24 * 30, window_hours: int = DECISION_WINDOW_HOURS) -> HorizonForecasts:
    """VaR of the next `horizon_hours` at each non-overlapping window start t, from the
    `window_hours` returns before t only. `sqrt_time`: the one-hour tail times sqrt(h) (the
    old LTV buffer); `horizon_fhs`: the tail of standardized h-hour returns (the strategy's)."""
    if scaling not in SCALINGS:
        raise ValueError(f"unknown scaling {scaling!r} (known: {', '.join(SCALINGS)})")
    sigma = ewma_sigma_series(returns, warmup=warmup_hours)
    first = warmup_hours + MIN_TAIL_SAMPLE + horizon_hours
    starts = np.arange(first, len(returns) - horizon_hours + 1, horizon_hours)
    cumulative = np.concatenate([[0.0], np.cumsum(returns)])
    var_log = np.empty(len(starts))
    for i, t in enumerate(starts):
        seen = slice(max(0, t - window_hours), t)
        if scaling == "sqrt_time":
            tail = fit_horizon_tail(returns[seen], sigma[seen], 1, confidence)
        elif scaling == "direct":
            tail = empirical_horizon_tail(returns[seen], sigma[seen], horizon_hours, confidence)
        else:
            tail = fit_horizon_tail(returns[seen], sigma[seen], horizon_hours, confidence)
        var_log[i] = tail.var_sigmas * sigma[t] * math.sqrt(horizon_hours)
    realized = cumulative[starts + horizon_hours] - cumulative[starts]
    return HorizonForecasts(starts, var_log, realized)


@dataclass(frozen=True)
class HorizonBacktest:
    symbol: str
    horizon_hours: int
    scaling: str
    first: pd.Timestamp
    last: pd.Timestamp
    test: CoverageTest


def horizon_backtest(symbol: str, hourly_prices: pd.Series, horizon_hours: int, confidence: float,
                     scaling: str = "strategy", window_hours: int = DECISION_WINDOW_HOURS) -> HorizonBacktest:
    """One asset, one horizon, one confidence, on an hourly grid (see `hourly_grid`)."""
    returns = np.diff(np.log(hourly_prices.to_numpy(dtype=float)))
    forecasts = horizon_forecasts(returns, horizon_hours, confidence, scaling, window_hours=window_hours)
    if len(forecasts.starts) == 0:
        raise ValueError(f"{symbol}: too little history for a {horizon_hours} h backtest")
    index = hourly_prices.index
    return HorizonBacktest(symbol, horizon_hours, scaling, index[forecasts.starts[0]], index[forecasts.starts[-1] + horizon_hours],
                           coverage_test(forecasts.hits, confidence))


def hourly_grid(prices: pd.Series) -> tuple[pd.Series, int]:
    """Irregular prints onto every hour (last print of each hour); an hour without a print
    carries the last price (a zero return, then the move when prints resume). Returns the
    grid and how many hours were carried."""
    grid = prices.resample("1h").last()
    carried = int(grid.isna().sum())
    return grid.ffill().dropna(), carried


def peg_forecasts(timestamps_s: np.ndarray, pegged_prices: np.ndarray, calibration: PegCalibration,
                  pooled_events: tuple[DepegEvent, ...], horizon_hours: int, confidence: float,
                  fallback_severity: float, min_points: int = 3, window_hours: int = DECISION_WINDOW_HOURS,
                  warmup_hours: int = 24 * 30) -> HorizonForecasts:
    """The peg model's h-hour VaR at each non-overlapping window start t (price over its peg,
    hourly), from what was known at t: events that had started (intensity) and finished
    (severities) by then, noise from the filtered price of the `window_hours` before t. While
    a depeg is on, the strategy uses the larger of that and the volatile tail of the asset's
    own returns; so does this. Realized drops are those of the filtered price (aggregator
    spikes are not moves anyone is liquidated at)."""
    filtered = 1 + peg_deviation(pegged_prices)
    returns = np.diff(np.log(np.asarray(pegged_prices, dtype=float)))
    sigma = ewma_sigma_series(returns, warmup=warmup_hours)
    deviation = filtered - 1
    starts = np.arange(max(warmup_hours, window_hours // 4), len(filtered) - horizon_hours, horizon_hours)
    var_log = np.empty(len(starts))
    for i, t in enumerate(starts):
        as_of = int(timestamps_s[t])
        jump = fit_jump_model(calibration, pooled_events, as_of, fallback_severity)
        seen = filtered[max(0, t - window_hours):t + 1]
        noise = noise_drops(seen, 1.0, horizon_hours, calibration.depeg_threshold)
        var_drop = mixture_tail(jump, noise, horizon_hours, confidence).var_drop
        if in_depeg(deviation[:t + 1], calibration.depeg_threshold, min_points):
            window = slice(max(0, t - window_hours), t)
            tail = fit_horizon_tail(returns[window], sigma[window], horizon_hours, confidence)
            var_drop = max(var_drop, tail.drop_var(float(sigma[t]), horizon_hours))
        var_log[i] = -math.log1p(-min(var_drop, 1 - 1e-12))
    realized = np.log(filtered[starts + horizon_hours] / filtered[starts])
    return HorizonForecasts(starts, var_log, realized)
