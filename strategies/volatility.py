"""Volatility forecasts of hourly log returns: EWMA (RiskMetrics), GARCH(1,1) (`arch`), and a
HAR-style regression on past realized volatility (least squares, as scikit-learn's
LinearRegression). The forecast used is the one with the lowest out-of-sample error on the
history given; all are deterministic.

Speed without changing a bit: every function here returns exactly (float for float) what
its straightforward form returns; `tests/strategies/test_volatility.py` keeps those forms
(the EWMA loop, `arch_model(...).fit()`, `LinearRegression`, the per-row HAR features) and
compares on seeded series. How:
- the EWMA variance series is a first-order linear filter (`scipy.signal.lfilter`), which
  performs the same two IEEE operations per step as the loop;
- the GARCH(1,1) fit drives the same SLSQP optimiser from the same starting values on the
  same log-likelihood as `arch`, but evaluates the likelihood directly with arch's compiled
  recursion and hands SLSQP the forward-difference derivatives scipy would compute itself
  (same steps, same arithmetic), without scipy's per-call finite-difference machinery;
- the selection's 30 daily HAR and EWMA forecasts reuse one set of daily realized
  volatilities, features and decay weights: a forecast from data before day d uses a prefix
  of them, and every number in it is computed by the same operation on the same values.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from arch import arch_model
from arch.univariate import GARCH
from arch.univariate.recursions import garch_recursion
from numpy.lib.stride_tricks import sliding_window_view
from scipy.optimize import minimize
from scipy.signal import lfilter

from strategies import order_statistics
from strategies.config import VolatilityConfig

HOURS_PER_DAY = 24
HAR_WEEK_DAYS = 7
HAR_MONTH_DAYS = 30
# The hyperparameters a caller without a strategy config gets (the measured config's values).
DEFAULT_VOLATILITY = VolatilityConfig(
    winsorize_robust_sigmas=12.0,
    ewma_decay_per_hour=0.9975,
    ewma_warmup_hours=24 * 30,
    garch_max_hours=24 * 180,
    selection_holdout_days=30,
    har_min_days=45,
)


def log_returns(prices_usd: np.ndarray) -> np.ndarray:
    return np.diff(np.log(prices_usd))


def winsorize(returns: np.ndarray, k: float = DEFAULT_VOLATILITY.winsorize_robust_sigmas) -> np.ndarray:
    """Clips returns beyond k robust sigmas (MAD): one bad print must not set the volatility."""
    median = order_statistics.median(returns)  # np.median's value
    mad_sigma = 1.4826 * order_statistics.median(np.abs(returns - median))
    if mad_sigma <= 0:
        return returns
    return np.clip(returns, median - k * mad_sigma, median + k * mad_sigma)


def ewma_sigma_series(
    returns: np.ndarray,
    decay: float = DEFAULT_VOLATILITY.ewma_decay_per_hour,
    warmup: int = DEFAULT_VOLATILITY.ewma_warmup_hours,
    winsorize_k: float = DEFAULT_VOLATILITY.winsorize_robust_sigmas,
    *,
    clipped: np.ndarray | None = None,
) -> np.ndarray:
    """sigma[t] forecasts return t from returns[:t] only (no look-ahead); winsorized inputs
    (`clipped`: `winsorize(returns, winsorize_k)` when the caller has it).

    variance[0] = max(var(returns[:warmup]), 1e-12) and
    variance[t] = decay * variance[t-1] + (1 - decay) * clipped[t-1]**2, run as the linear
    filter y[n] = x[n] + decay * y[n-1] with x = (1 - decay) * clipped**2 and the initial
    state decay * variance[0]: per step lfilter computes `decay * y + x` (its state update
    `0 * x - (-decay) * y` is exact), the very operations of the loop, so the series is
    the loop's bit for bit (tested on seeded series). The squares are taken one by one as
    the loop took them (C `pow`, which is not always the correctly rounded `x * x` numpy's
    array square computes: the two differ in about one value in 3,000): `_squares_by_pow`."""
    if len(returns) == 0:
        return np.zeros(0)
    first = max(float(np.var(returns[:warmup])), 1e-12)
    clipped = winsorize(returns, winsorize_k) if clipped is None else clipped
    drive = (1 - decay) * _squares_by_pow(clipped[:-1])
    rest, _ = lfilter([1.0], [1.0, -decay], drive, zi=[decay * first])
    variance = np.empty(len(returns))
    variance[0] = first
    variance[1:] = rest
    return np.sqrt(variance)


def _squares_by_pow(values: np.ndarray) -> np.ndarray:
    """`[value ** 2 for value in values.tolist()]` as float64: Python's float power (C `pow`
    of |value| and 2.0) on each value, the loop run by numpy's object power (it calls
    `PyNumber_Power(value, 2.0)` on the Python floats `astype(object)` makes, the exponent a
    Python float: the int 2 of `value ** 2` is converted to that 2.0 before `pow`), a fifth
    faster than `map(operator.pow, ...)`."""
    return np.power(values.astype(object), 2.0).astype(np.float64)


@dataclass(frozen=True, kw_only=True)
class EwmaVolatility:
    """RiskMetrics EWMA; `decay` 0.94 per day is about 0.9975 per hour."""

    decay_per_hour: float = DEFAULT_VOLATILITY.ewma_decay_per_hour

    def forecast_hourly(self, returns: np.ndarray) -> float:
        weights = self.decay_per_hour ** np.arange(len(returns))[::-1]
        return _ewma_forecast(weights, returns**2)


def _ewma_forecast(weights: np.ndarray, squares: np.ndarray) -> float:
    return float(np.sqrt(np.sum(weights * squares) / np.sum(weights)))


# ------------------------------------------------------------------ GARCH(1,1)

_GARCH11 = GARCH(p=1, o=0, q=1)  # arch's own helpers: backcast, variance bounds, bounds, constraints
_LOG_2PI = np.log(2 * np.pi)  # as arch's Normal likelihood computes it
_FD_STEP = np.finfo(np.float64).eps ** 0.5  # scipy's SLSQP finite-difference step (absolute)
# The (alpha, beta) grid arch searches for starting values, in its order: arch's grid is
# alpha x gamma x (alpha + beta) and gamma plays no part in GARCH(1,1), so each of these 16
# points appears 4 times there; the first best is the same point.
_START_GRID = [(alpha, persistence) for alpha in (0.01, 0.05, 0.1, 0.2) for persistence in (0.5, 0.7, 0.9, 0.98)]
# arch's GARCH(1,1) constraints (omega, alpha, beta >= 0; alpha + beta <= 1) have
# coefficients in {-1, 0, 1} and at most two non-zero per row: every product is exact and an
# exact zero changes no sum, so `a @ x` equals each row's `np.dot` whatever the order of
# additions, and scipy may take them as one vector constraint (a quarter of the calls).
_ONE_MATRIX_PRODUCT = bool(np.isin(_GARCH11.constraints()[0], (-1.0, 0.0, 1.0)).all()
                           and (np.count_nonzero(_GARCH11.constraints()[0], axis=1) <= 2).all())


class _Garch11Likelihood:
    """The negative Gaussian log-likelihood arch minimises for a zero-mean GARCH(1,1),
    computed with the same operations on the same arrays (arch's compiled recursion)."""

    def __init__(self, resids: np.ndarray) -> None:
        self.resids = np.ascontiguousarray(resids, dtype=np.float64)
        self.nobs = len(self.resids)
        self.fresids = np.absolute(self.resids) ** 2.0
        self.sresids = np.sign(self.resids)
        self.squares = self.resids**2.0
        self.backcast = _GARCH11.backcast(self.resids)
        self.var_bounds = _GARCH11.variance_bounds(self.resids)
        self.sigma2 = np.zeros(self.nobs)
        self._log_sigma2 = np.empty(self.nobs)
        self._ratio = np.empty(self.nobs)
        self._last: tuple[bytes, float] = (b"", 0.0)

    def loglikelihood(self, params: np.ndarray) -> float:
        """sum(-0.5 * (log(2 pi) + log(sigma2) + resid**2 / sigma2)), in arch's order of
        operations (written into reused buffers)."""
        garch_recursion(params, self.fresids, self.sresids, self.sigma2, 1, 0, 1, self.nobs, self.backcast,
                        self.var_bounds)
        terms = np.log(self.sigma2, out=self._log_sigma2)
        np.add(_LOG_2PI, terms, out=terms)
        np.add(terms, np.divide(self.squares, self.sigma2, out=self._ratio), out=terms)
        np.multiply(-0.5, terms, out=terms)
        return float(np.sum(terms))

    def negative(self, params: np.ndarray, *args: object) -> float:
        key = params.tobytes()
        if key != self._last[0]:
            self._last = (key, -self.loglikelihood(params))
        return self._last[1]

    def starting_values(self) -> np.ndarray:
        """arch's GARCH.starting_values: the grid point with the highest likelihood."""
        target = np.mean(self.fresids)
        scale = np.mean(self.resids**2) / (target ** (2.0 / 2.0))
        target *= scale ** (2.0 / 2)
        candidates, values = [], np.zeros(len(_START_GRID))
        for i, (alpha, persistence) in enumerate(_START_GRID):
            sv = (1.0 - persistence) * target * np.ones(3, dtype=float)
            sv[1] = alpha / 1
            sv[2] = (persistence - alpha) / 1
            candidates.append(sv)
            values[i] = self.loglikelihood(sv)
        return candidates[int(np.argmax(values))]


def _forward_steps(x0: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """The steps scipy's `approx_derivative(method='2-point', abs_step=eps, bounds=...)`
    takes from x0 (its `_adjust_scheme_to_bounds`, one-sided)."""
    sign_x0 = (x0 >= 0).astype(float) * 2 - 1
    dx = (x0 + _FD_STEP) - x0
    h = np.where(dx == 0, _FD_STEP * sign_x0 * np.maximum(1.0, np.abs(x0)), _FD_STEP)
    adjusted = h.copy()
    lower_dist, upper_dist = x0 - lower, upper - x0
    x = x0 + h
    violated = (x < lower) | (x > upper)
    fitting = np.abs(h) <= np.maximum(lower_dist, upper_dist)
    adjusted[violated & fitting] *= -1
    forward = (upper_dist >= lower_dist) & ~fitting
    adjusted[forward] = upper_dist[forward] / 1
    backward = (upper_dist < lower_dist) & ~fitting
    adjusted[backward] = -lower_dist[backward] / 1
    return adjusted


def _forward_difference(function, x0: np.ndarray, f0: float, steps: np.ndarray) -> np.ndarray:
    gradient = np.empty(len(x0))
    for i in range(len(x0)):
        x1 = np.copy(x0)
        x1[i] = x0[i] + steps[i]
        gradient[i] = (function(x1) - f0) / ((x0[i] + steps[i]) - x0[i])
    return gradient


def garch11_fit(resids: np.ndarray) -> np.ndarray:
    """(omega, alpha, beta) of `arch_model(resids, mean="Zero", vol="GARCH", p=1, q=1,
    rescale=False).fit(disp="off")`, bit for bit, several times faster: same starting
    values, same SLSQP run (same bounds, constraints and finite-difference derivatives).
    A sample that never moved (a pegged feed between rounds) has nothing to fit: all zero."""
    if not np.any(resids):
        return np.zeros(3)
    likelihood = _Garch11Likelihood(resids)
    bounds = _GARCH11.bounds(likelihood.resids)
    lower = np.array([b[0] for b in bounds], dtype=float)
    upper = np.array([b[1] for b in bounds], dtype=float)
    a, b = _GARCH11.constraints()
    steps_at: dict[bytes, np.ndarray] = {}

    def steps(x0: np.ndarray) -> np.ndarray:
        key = x0.tobytes()
        if key not in steps_at:
            steps_at.clear()
            steps_at[key] = _forward_steps(x0, lower, upper)
        return steps_at[key]

    def gradient(x: np.ndarray, *args: object) -> np.ndarray:
        x0 = np.asarray(x, dtype=np.float64)
        return _forward_difference(likelihood.negative, x0, likelihood.negative(x0), steps(x0))

    def linear_constraint(coeff: np.ndarray, value: np.ndarray):
        """arch's constraints `coeff . x - value >= 0` (scipy differences each numerically).
        arch passes one row per constraint; with `_ONE_MATRIX_PRODUCT` the rows go as one
        vector constraint, `a @ x - b`, which is each row's `np.dot` bit for bit."""

        def fun(params: np.ndarray, *args: object) -> np.ndarray:
            return coeff @ params - value

        def jac(x: np.ndarray, *args: object) -> np.ndarray:
            # scipy clips x into the bounds before differencing a constraint (gh-11403).
            if (x < lower).any() or (x > upper).any():
                x = np.clip(x, lower, upper)
            x0 = np.asarray(x, dtype=np.float64)
            f0, h = fun(x0), steps(x0)
            jacobian = np.empty((len(np.atleast_1d(f0)), len(x0)))
            for i in range(len(x0)):
                x1 = np.copy(x0)
                x1[i] = x0[i] + h[i]
                jacobian[:, i] = (fun(x1) - f0) / ((x0[i] + h[i]) - x0[i])
            return jacobian if coeff.ndim == 2 else jacobian[0]

        return {"type": "ineq", "fun": fun, "jac": jac}

    constraints = ([linear_constraint(a, b)] if _ONE_MATRIX_PRODUCT
                   else [linear_constraint(a[i], b[i]) for i in range(a.shape[0])])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Values in x were outside bounds during a minimize step", RuntimeWarning)
        result = minimize(likelihood.negative, likelihood.starting_values(), jac=gradient, method="SLSQP",
                          bounds=bounds, constraints=constraints, options={"disp": False})
    return result.x


def garch11_one_step_variance(resids: np.ndarray, params: np.ndarray) -> float:
    """The next observation's variance as arch's analytic one-step forecast computes it: the
    recursion over the sample extended by one zero residual."""
    extended = np.concatenate((np.ascontiguousarray(resids, dtype=np.float64), np.array([0.0])))
    var_bounds = np.concatenate((_GARCH11.variance_bounds(resids, 2.0), np.array([[0, np.inf]])))
    sigma2 = np.zeros(len(extended))
    garch_recursion(np.asarray(params, dtype=np.float64), np.absolute(extended) ** 2.0, np.sign(extended), sigma2,
                    1, 0, 1, len(extended), _GARCH11.backcast(resids), var_bounds)
    return float(sigma2[-1])


@dataclass(frozen=True, kw_only=True)
class GarchVolatility:
    """GARCH(1,1) with zero mean on percent returns; fit on at most `max_hours` of history."""

    max_hours: int = DEFAULT_VOLATILITY.garch_max_hours

    def forecast_hourly(self, returns: np.ndarray, horizon_hours: int = 1) -> float:
        sample = returns[-self.max_hours :] * 100
        if not np.any(sample):
            return 0.0  # a price that never moved (a pegged feed between rounds): nothing to fit
        if horizon_hours == 1:
            return float(np.sqrt(garch11_one_step_variance(sample, garch11_fit(sample))) / 100)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = arch_model(sample, mean="Zero", vol="GARCH", p=1, q=1, rescale=False).fit(
                disp="off", show_warning=False
            )
        variance = result.forecast(horizon=horizon_hours, reindex=False).variance.values[-1]
        return float(np.sqrt(np.mean(variance)) / 100)


# ------------------------------------------------------------------ HAR


def least_squares_fit(features: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, float]:
    """(coefficients, intercept) as scikit-learn's LinearRegression().fit computes them for a
    dense float64 matrix: centre both sides on their means, `scipy.linalg.lstsq` (gelsd)
    with cond = its tol 1e-6, intercept = y mean - x means . coefficients."""
    x_offset = np.average(features, axis=0)
    y_offset = np.average(targets, axis=0)
    coefficients = scipy.linalg.lstsq(features - x_offset, targets - y_offset, cond=1e-6)[0]
    return coefficients, y_offset - x_offset @ coefficients


def har_features(daily_rv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows t = 30 .. days-1: (yesterday's RV, mean of the last 7 days, of the last 30 days)
    and the target RV of day t. Each mean is numpy's mean of the same contiguous values as
    `daily_rv[t-7:t].mean()`, so the rows are the per-row loop's, bit for bit."""
    days = len(daily_rv)
    if days <= HAR_MONTH_DAYS:
        return np.zeros((0, 3)), np.zeros(0)
    t = np.arange(HAR_MONTH_DAYS, days)
    weekly = np.ascontiguousarray(sliding_window_view(daily_rv, HAR_WEEK_DAYS)[t - HAR_WEEK_DAYS]).mean(axis=1)
    monthly = np.ascontiguousarray(sliding_window_view(daily_rv, HAR_MONTH_DAYS)[t - HAR_MONTH_DAYS]).mean(axis=1)
    return np.column_stack([daily_rv[t - 1], weekly, monthly]), daily_rv[t].copy()


def _har_latest(daily_rv: np.ndarray) -> np.ndarray:
    return np.array([[daily_rv[-1], daily_rv[-HAR_WEEK_DAYS:].mean(), daily_rv[-HAR_MONTH_DAYS:].mean()]])


def _har_forecast(features: np.ndarray, targets: np.ndarray, latest: np.ndarray) -> float:
    coefficients, intercept = least_squares_fit(features, targets)
    predicted = (latest @ coefficients + intercept)[0]
    return float(max(predicted, 1e-6) / np.sqrt(HOURS_PER_DAY))


@dataclass(frozen=True, kw_only=True)
class HarVolatility:
    """Corsi's HAR: tomorrow's realized volatility from daily, weekly and monthly averages;
    EWMA when there are fewer than `min_days` days."""

    min_days: int = DEFAULT_VOLATILITY.har_min_days
    ewma_decay_per_hour: float = DEFAULT_VOLATILITY.ewma_decay_per_hour

    def _features(self, daily_rv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return har_features(daily_rv)

    def forecast_hourly(self, returns: np.ndarray) -> float:
        daily_rv = _daily_realized_vol(returns)
        if len(daily_rv) < self.min_days:
            return EwmaVolatility(decay_per_hour=self.ewma_decay_per_hour).forecast_hourly(returns)
        features, targets = har_features(daily_rv)
        return _har_forecast(features, targets, _har_latest(daily_rv))


def _daily_realized_vol(returns: np.ndarray) -> np.ndarray:
    days = len(returns) // HOURS_PER_DAY
    trimmed = returns[len(returns) - days * HOURS_PER_DAY :].reshape(days, HOURS_PER_DAY)
    return np.sqrt(np.sum(trimmed**2, axis=1))


# ------------------------------------------------------------------ selection


@dataclass(frozen=True)
class VolatilityForecast:
    hourly_sigma: float
    model: str
    oos_errors: dict[str, float]


MODELS = {"ewma": EwmaVolatility(), "garch": GarchVolatility(), "har": HarVolatility()}


def models_for(config: VolatilityConfig) -> dict[str, EwmaVolatility | GarchVolatility | HarVolatility]:
    return {
        "ewma": EwmaVolatility(decay_per_hour=config.ewma_decay_per_hour),
        "garch": GarchVolatility(max_hours=config.garch_max_hours),
        "har": HarVolatility(min_days=config.har_min_days, ewma_decay_per_hour=config.ewma_decay_per_hour),
    }


def select_and_forecast(returns: np.ndarray, config: VolatilityConfig | None = None) -> VolatilityForecast:
    """Scores each model by its error forecasting each of the last `selection_holdout_days`
    days' realized volatility from data before that day only (GARCH refit weekly to bound
    cost), then forecasts with the winner on all data."""
    config = config or DEFAULT_VOLATILITY
    models = models_for(config)
    holdout_days = config.selection_holdout_days
    returns = winsorize(returns, config.winsorize_robust_sigmas)
    days_available = len(returns) // HOURS_PER_DAY
    if days_available < holdout_days + config.har_min_days:
        return VolatilityForecast(models["ewma"].forecast_hourly(returns), "ewma", {})
    n = len(returns)
    squares = returns**2
    weights = config.ewma_decay_per_hour ** np.arange(n)[::-1]
    # Data before holdout day d ends d whole days before the end, so its daily RVs are the
    # first (all - d) of the full series' (the days are cut from the end), and its HAR rows
    # a prefix of the full series' rows.
    daily_rv = _daily_realized_vol(returns)
    features, targets = har_features(daily_rv)
    har = models["har"]
    errors: dict[str, list[float]] = {name: [] for name in models}
    garch_sigma = 0.0
    for day in range(holdout_days, 0, -1):
        end = n - day * HOURS_PER_DAY
        train = returns[:end]
        realized = float(np.sqrt(np.sum(returns[end : end + HOURS_PER_DAY] ** 2)))
        if day % 7 == 0 or garch_sigma == 0.0:
            garch_sigma = models["garch"].forecast_hourly(train)
        known_days = len(daily_rv) - day
        if known_days < har.min_days:
            har_sigma = EwmaVolatility(decay_per_hour=har.ewma_decay_per_hour).forecast_hourly(train)
        else:
            rows = max(known_days - HAR_MONTH_DAYS, 0)
            har_sigma = _har_forecast(features[:rows], targets[:rows], _har_latest(daily_rv[:known_days]))
        forecasts = {
            "ewma": _ewma_forecast(weights[n - end :], squares[:end]),
            "garch": garch_sigma,
            "har": har_sigma,
        }
        for name, hourly in forecasts.items():
            errors[name].append((hourly * np.sqrt(HOURS_PER_DAY) - realized) ** 2)
    rmse = {name: float(np.sqrt(np.mean(values))) for name, values in errors.items()}
    best = min(sorted(rmse), key=lambda name: rmse[name])
    if best == "har" and len(daily_rv) >= har.min_days:
        return VolatilityForecast(_har_forecast(features, targets, _har_latest(daily_rv)), best, rmse)
    if best == "ewma":
        return VolatilityForecast(_ewma_forecast(weights, squares), best, rmse)
    return VolatilityForecast(models[best].forecast_hourly(returns), best, rmse)


# ------------------------------------------------------------------ day-anchored selection (proposal)
#
# `select_and_forecast` above scores the models on the 30 days before `as_of`, each model
# trained on everything before the day it forecasts. Hourly decisions shift every training
# set by an hour, so nothing can be reused and every decision refits: ~5 GARCH fits per asset.
# The variant below anchors the training to UTC day boundaries: the fit at a boundary uses
# the fixed-length span of returns before it only, so it is the same for every decision that
# looks back at that boundary and can be cached (keyed by the SHA-256 of its data and the
# hyperparameters: a fresh process computes the same records). GARCH is refit at the first
# boundary of each UTC week (day number divisible by 7), as the current selection refits it
# weekly, and its parameters are run over each day's span (the current selection reuses the
# week's stale forecast instead). A decision then needs, per asset, one new daily record per
# UTC day (a GARCH fit one day in seven) and a forward filter from the last boundary to
# `as_of`. It changes outputs (other training spans, filtered GARCH forecasts, each span
# winsorized by its own median/MAD): it is not wired in; see the perf report for the figures.

SECONDS_PER_DAY = 86_400
DAYS_PER_WEEK = 7


@dataclass(frozen=True)
class DailyFit:
    """What the three models know at one UTC day boundary, from the span before it only
    (GARCH: the parameters of the week's fit, run over this span)."""

    lower: float  # winsorizing bounds of the span (infinite when its MAD is 0)
    upper: float
    ewma_sigma: float
    garch_params: tuple[float, float, float]
    garch_sigma: float
    har_coefficients: tuple[float, ...] | None  # None: fewer than `har_min_days` days (EWMA)
    har_intercept: float
    har_sigma: float


def _winsorizing_bounds(returns: np.ndarray, k: float) -> tuple[float, float]:
    median = order_statistics.median(returns)  # np.median's value
    mad_sigma = 1.4826 * order_statistics.median(np.abs(returns - median))
    if mad_sigma <= 0:
        return -np.inf, np.inf
    return float(median - k * mad_sigma), float(median + k * mad_sigma)


def weekly_garch_fit(span: np.ndarray, config: VolatilityConfig) -> tuple[float, float, float]:
    """GARCH(1,1) parameters (percent returns) fit on a week boundary's span, winsorized."""
    lower, upper = _winsorizing_bounds(span, config.winsorize_robust_sigmas)
    return tuple(float(p) for p in garch11_fit(np.clip(span, lower, upper)[-config.garch_max_hours :] * 100))


def daily_fit(span: np.ndarray, garch_params: tuple[float, float, float], config: VolatilityConfig) -> DailyFit:
    """The three models at a boundary from `span` (valid hourly returns before it, oldest
    first); GARCH with the given parameters."""
    lower, upper = _winsorizing_bounds(span, config.winsorize_robust_sigmas)
    clipped = np.clip(span, lower, upper)
    ewma = EwmaVolatility(decay_per_hour=config.ewma_decay_per_hour).forecast_hourly(clipped)
    sample = clipped[-config.garch_max_hours :] * 100
    garch = float(np.sqrt(garch11_one_step_variance(sample, np.array(garch_params))) / 100)
    daily_rv = _daily_realized_vol(clipped)
    if len(daily_rv) < config.har_min_days:
        return DailyFit(lower, upper, ewma, garch_params, garch, None, 0.0, ewma)
    features, targets = har_features(daily_rv)
    coefficients, intercept = least_squares_fit(features, targets)
    har = float(max((_har_latest(daily_rv) @ coefficients + intercept)[0], 1e-6) / np.sqrt(HOURS_PER_DAY))
    return DailyFit(lower, upper, ewma, garch_params, garch, tuple(coefficients), float(intercept), har)


class DailyFitCache:
    """Fits by content: SHA-256 of the span's bytes, the GARCH parameters a daily record
    uses, and the hyperparameters. Bounded (least recently used out); thread-safe. Only a
    cache: a miss computes the same record."""

    def __init__(self, max_entries: int = 8_192) -> None:
        import threading
        from collections import OrderedDict

        self._entries: OrderedDict[bytes, object] = OrderedDict()
        self._lock = threading.Lock()
        self.max_entries = max_entries
        self.hits = self.misses = 0

    def _cached(self, key: bytes, compute):
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                self.hits += 1
                return self._entries[key]
        value = compute()
        with self._lock:
            self.misses += 1
            self._entries[key] = value
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value

    @staticmethod
    def span_digest(span: np.ndarray) -> bytes:
        """SHA-256 of the span's float64 bytes, read in place (no copy when it is contiguous)."""
        return hashlib.sha256(np.ascontiguousarray(span, dtype=np.float64)).digest()

    @staticmethod
    def _settings(config: VolatilityConfig, extra: tuple = ()) -> bytes:
        return repr((config.winsorize_robust_sigmas, config.ewma_decay_per_hour, config.garch_max_hours,
                     config.har_min_days, *extra)).encode()

    @staticmethod
    def _key(kind: bytes, digest: bytes, config: VolatilityConfig, extra: tuple = ()) -> bytes:
        return kind + digest + DailyFitCache._settings(config, extra)

    @staticmethod
    def _daily_extra(garch_params: tuple[float, float, float]) -> tuple:
        return tuple(float(p).hex() for p in garch_params)

    def garch(self, span: np.ndarray, config: VolatilityConfig,
              digest: bytes | None = None) -> tuple[float, float, float]:
        digest = digest or self.span_digest(span)
        return self._cached(self._key(b"garch", digest, config), lambda: weekly_garch_fit(span, config))

    def daily(self, span: np.ndarray, garch_params: tuple[float, float, float], config: VolatilityConfig,
              digest: bytes | None = None) -> DailyFit:
        digest = digest or self.span_digest(span)
        return self._cached(self._key(b"daily", digest, config, self._daily_extra(garch_params)),
                            lambda: daily_fit(span, garch_params, config))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0


DAILY_FITS = DailyFitCache()


def _forecast_forward(fit: DailyFit, model: str, sequence: np.ndarray, config: VolatilityConfig) -> float:
    """The winner's forecast for the hour after `as_of`: the boundary's fit run over the span
    and the returns since the boundary (clipped with the span's bounds)."""
    if model == "ewma" or (model == "har" and fit.har_coefficients is None):
        return EwmaVolatility(decay_per_hour=config.ewma_decay_per_hour).forecast_hourly(sequence)
    if model == "garch":
        sample = sequence[-config.garch_max_hours :] * 100
        return float(np.sqrt(garch11_one_step_variance(sample, np.array(fit.garch_params))) / 100)
    daily_rv = _daily_realized_vol(sequence)
    predicted = (_har_latest(daily_rv) @ np.array(fit.har_coefficients) + fit.har_intercept)[0]
    return float(max(predicted, 1e-6) / np.sqrt(HOURS_PER_DAY))


class _DayDigests:
    """Cache keys for the spans of one window (returns without gaps), cheaper than hashing
    each span whole (31 spans of ~2,000 returns an asset, overlapping but for a few days).
    A span ending at a day boundary `end` (24 x k hours before `last`) is its first
    `span_hours % 24` returns (the head) and `span_hours // 24` whole days; its key is
    SHA-256 over a tag, the head's digest and the days' digests, oldest first. The days are
    those of the UTC calendar, so the same span in the next hour's window (or next week's)
    gets the same key, and two spans get the same key only if their days and heads hash the
    same: a key still names the content. Each day of the window is hashed once.
    `digest` answers None for a span that starts before the data (then hashed whole)."""

    TAG = b"days/sha256:"

    def __init__(self, returns: np.ndarray, last: int, span_hours: int) -> None:
        self.returns, self.last, self.span_hours = returns, last, span_hours
        self.whole_days, self.head_hours = divmod(span_hours, HOURS_PER_DAY)
        # The digests of every whole day of returns[:last], oldest first, in one string.
        self.first_day_start = last % HOURS_PER_DAY
        self.days = b"".join(hashlib.sha256(returns[day : day + HOURS_PER_DAY]).digest()
                             for day in range(self.first_day_start, last - HOURS_PER_DAY + 1, HOURS_PER_DAY))

    def digest(self, end: int) -> bytes | None:
        start = end - self.span_hours
        if start < 0 or end > self.last or (self.last - end) % HOURS_PER_DAY:
            return None
        days_start = start + self.head_hours
        first = (days_start - self.first_day_start) // HOURS_PER_DAY
        days = self.days[first * 32 : (first + self.whole_days) * 32]
        if len(days) != self.whole_days * 32:  # never for a span inside the window; a key must cover it all
            return None
        return hashlib.sha256(self.TAG + hashlib.sha256(self.returns[start:days_start]).digest() + days).digest()


def _holdout_realized(returns: np.ndarray, start: int, bounds: list[tuple[float, float]]) -> list[float]:
    """The realized volatility of each holdout day (day i: returns[start + 24 i :][:24], its
    valid values clipped to bounds[i]), sqrt(sum(r**2)). Without gaps the days are rows of
    one array: each row's clip, squares and sum are the same operations on the same 24
    contiguous values as the day's own (numpy sums a row as it sums the row alone)."""
    days = len(bounds)
    block = returns[start : start + days * HOURS_PER_DAY] if start >= 0 else np.zeros(0)
    if start >= 0 and len(block) == days * HOURS_PER_DAY and np.isfinite(block).all():
        lower = np.array([[b[0]] for b in bounds])
        upper = np.array([[b[1]] for b in bounds])
        return np.sqrt(np.sum(np.clip(block.reshape(days, HOURS_PER_DAY), lower, upper) ** 2, axis=1)).tolist()
    realized = []
    for i, (lower_bound, upper_bound) in enumerate(bounds):
        end = start + i * HOURS_PER_DAY
        following = returns[end : end + HOURS_PER_DAY]
        following = np.clip(following[np.isfinite(following)], lower_bound, upper_bound)
        realized.append(float(np.sqrt(np.sum(following**2))))
    return realized


def select_and_forecast_daily(prices_usd: np.ndarray, as_of_s: int, config: VolatilityConfig | None = None,
                              cache: DailyFitCache | None = None) -> VolatilityForecast:
    """Model selection anchored to UTC days. `prices_usd` is the hourly grid ending at
    `as_of_s` (NaN: no price). B0 is the last grid hour at or before the UTC midnight before
    `as_of`, B_d = B0 - d days. Each boundary's span is the `len(prices_usd) - 1 - 24 x
    (holdout + 7)` hourly returns before it, which lie inside every window that looks back
    at it or at a boundary up to 6 days later (the week's GARCH fit). A model's error on day
    d is its forecast at B_d against the day after B_d (24 returns, clipped with the span's
    bounds). The winner forecasts with its fit at B0, run over the span and the returns since
    B0. Fewer than holdout + HAR days of returns: EWMA, as in `select_and_forecast`."""
    config = config or DEFAULT_VOLATILITY
    cache = cache if cache is not None else DAILY_FITS
    holdout = config.selection_holdout_days
    returns = np.diff(np.log(prices_usd))
    valid = np.isfinite(returns)
    if int(valid.sum()) // HOURS_PER_DAY < holdout + config.har_min_days:
        clipped = winsorize(returns[valid], config.winsorize_robust_sigmas)
        return VolatilityForecast(EwmaVolatility(decay_per_hour=config.ewma_decay_per_hour).forecast_hourly(clipped),
                                  "ewma", {})
    span_hours = max(len(returns) - HOURS_PER_DAY * (holdout + DAYS_PER_WEEK), HOURS_PER_DAY)
    hours_after_midnight = -(-(as_of_s % SECONDS_PER_DAY) // 3_600)  # grid marks after B0 (ceil)
    last = len(returns) - hours_after_midnight  # returns[:last] end at or before B0
    first_day = as_of_s // SECONDS_PER_DAY  # UTC day number of B0's midnight

    # The keys `cache.garch` / `cache.daily` would build, their constant parts built once: the
    # same lookups (hits and misses counted alike), without re-deriving them per record.
    garch_settings = cache._settings(config)
    daily_settings: dict[tuple[float, float, float], bytes] = {}
    all_valid = bool(valid.all())  # then a span is a slice, hashed in place
    # Spans of one window overlap all but a few days: without gaps, each of the window's days
    # is hashed once and a span's key is the digest of its days' digests (`_DayDigests`).
    days = _DayDigests(returns, last, span_hours) if all_valid else None
    spans: dict[int, tuple[np.ndarray, bytes]] = {}

    def span_before(end: int) -> tuple[np.ndarray, bytes]:
        """The valid returns of the span ending at returns[end], and their digest (once each)."""
        if end not in spans:
            span = returns[max(end - span_hours, 0) : end]
            if not all_valid:
                span = span[np.isfinite(span)]
            digest = days.digest(end) if days is not None else None
            spans[end] = (span, digest if digest is not None else cache.span_digest(span))
        return spans[end]

    def record(days_back: int) -> DailyFit:
        end = last - days_back * HOURS_PER_DAY
        week_end = end - ((first_day - days_back) % DAYS_PER_WEEK) * HOURS_PER_DAY
        week_span, week_digest = span_before(week_end)
        params = cache._cached(b"garch" + week_digest + garch_settings, lambda: weekly_garch_fit(week_span, config))
        if params not in daily_settings:
            daily_settings[params] = cache._settings(config, cache._daily_extra(params))
        span, digest = span_before(end)
        return cache._cached(b"daily" + digest + daily_settings[params], lambda: daily_fit(span, params, config))

    fits = [record(day) for day in range(holdout, 0, -1)]
    realized_by_day = _holdout_realized(returns, last - holdout * HOURS_PER_DAY, [(f.lower, f.upper) for f in fits])
    errors: dict[str, list[float]] = {"ewma": [], "garch": [], "har": []}
    root_day = np.sqrt(HOURS_PER_DAY)  # the same float64 each time, taken once
    for fit, realized in zip(fits, realized_by_day, strict=True):
        for name, hourly in (("ewma", fit.ewma_sigma), ("garch", fit.garch_sigma), ("har", fit.har_sigma)):
            errors[name].append((hourly * root_day - realized) ** 2)
    rmse = {name: float(np.sqrt(np.mean(values))) for name, values in errors.items()}
    best = min(sorted(rmse), key=lambda name: rmse[name])
    fit = record(0)
    sequence = returns[max(last - span_hours, 0) :]
    if not all_valid:
        sequence = sequence[np.isfinite(sequence)]
    sequence = np.clip(sequence, fit.lower, fit.upper)
    return VolatilityForecast(_forecast_forward(fit, best, sequence, config), best, rmse)
