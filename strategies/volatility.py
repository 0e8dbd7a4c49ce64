"""Volatility forecasts of hourly log returns: EWMA (RiskMetrics), GARCH(1,1) (`arch`), and a
HAR-style regression on past realized volatility (scikit-learn). The forecast used is the one
with the lowest out-of-sample error on the history given; all are deterministic."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from arch import arch_model
from sklearn.linear_model import LinearRegression

from strategies.config import VolatilityConfig

HOURS_PER_DAY = 24


def log_returns(prices_usd: np.ndarray) -> np.ndarray:
    return np.diff(np.log(prices_usd))


def winsorize(returns: np.ndarray, k: float = 12.0) -> np.ndarray:
    """Clips returns beyond k robust sigmas (MAD): one bad print must not set the volatility."""
    median = np.median(returns)
    mad_sigma = 1.4826 * np.median(np.abs(returns - median))
    if mad_sigma <= 0:
        return returns
    return np.clip(returns, median - k * mad_sigma, median + k * mad_sigma)


def ewma_sigma_series(returns: np.ndarray, decay: float = 0.9975, warmup: int = 24 * 30, winsorize_k: float = 12.0) -> np.ndarray:
    """sigma[t] forecasts return t from returns[:t] only (no look-ahead); winsorized inputs."""
    variance = np.empty(len(returns))
    variance[0] = max(float(np.var(returns[:warmup])), 1e-12)
    clipped = winsorize(returns, winsorize_k)
    for t in range(1, len(returns)):
        variance[t] = decay * variance[t - 1] + (1 - decay) * clipped[t - 1] ** 2
    return np.sqrt(variance)


@dataclass(frozen=True, kw_only=True)
class EwmaVolatility:
    """RiskMetrics EWMA; `decay` 0.94 per day is about 0.9975 per hour."""

    decay_per_hour: float = 0.9975

    def forecast_hourly(self, returns: np.ndarray) -> float:
        weights = self.decay_per_hour ** np.arange(len(returns))[::-1]
        return float(np.sqrt(np.sum(weights * returns**2) / np.sum(weights)))


@dataclass(frozen=True, kw_only=True)
class GarchVolatility:
    """GARCH(1,1) with zero mean on percent returns; fit on at most `max_hours` of history."""

    max_hours: int = 24 * 180

    def forecast_hourly(self, returns: np.ndarray, horizon_hours: int = 1) -> float:
        sample = returns[-self.max_hours :] * 100
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = arch_model(sample, mean="Zero", vol="GARCH", p=1, q=1, rescale=False).fit(
                disp="off", show_warning=False
            )
        variance = result.forecast(horizon=horizon_hours, reindex=False).variance.values[-1]
        return float(np.sqrt(np.mean(variance)) / 100)


@dataclass(frozen=True, kw_only=True)
class HarVolatility:
    """Corsi's HAR: tomorrow's realized volatility from daily, weekly and monthly averages."""

    def _features(self, daily_rv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows, targets = [], []
        for t in range(30, len(daily_rv)):
            rows.append([daily_rv[t - 1], daily_rv[t - 7 : t].mean(), daily_rv[t - 30 : t].mean()])
            targets.append(daily_rv[t])
        return np.array(rows), np.array(targets)

    def forecast_hourly(self, returns: np.ndarray) -> float:
        daily_rv = _daily_realized_vol(returns)
        if len(daily_rv) < 45:
            return EwmaVolatility().forecast_hourly(returns)
        features, targets = self._features(daily_rv)
        model = LinearRegression().fit(features, targets)
        latest = np.array([[daily_rv[-1], daily_rv[-7:].mean(), daily_rv[-30:].mean()]])
        return float(max(model.predict(latest)[0], 1e-6) / np.sqrt(HOURS_PER_DAY))


def _daily_realized_vol(returns: np.ndarray) -> np.ndarray:
    days = len(returns) // HOURS_PER_DAY
    trimmed = returns[len(returns) - days * HOURS_PER_DAY :].reshape(days, HOURS_PER_DAY)
    return np.sqrt(np.sum(trimmed**2, axis=1))


@dataclass(frozen=True)
class VolatilityForecast:
    hourly_sigma: float
    model: str
    oos_errors: dict[str, float]


MODELS = {"ewma": EwmaVolatility(), "garch": GarchVolatility(), "har": HarVolatility()}


def select_and_forecast(returns: np.ndarray, config: VolatilityConfig | None = None) -> VolatilityForecast:
    """Scores each model by its error forecasting each of the last `selection_holdout_days`
    days' realized volatility from data before that day only (GARCH refit weekly to bound
    cost), then forecasts with the winner on all data."""
    holdout_days = config.selection_holdout_days if config else 30
    har_min_days = config.har_min_days if config else 45
    returns = winsorize(returns, config.winsorize_robust_sigmas if config else 12.0)
    days_available = len(returns) // HOURS_PER_DAY
    if days_available < holdout_days + har_min_days:
        return VolatilityForecast(EwmaVolatility().forecast_hourly(returns), "ewma", {})
    errors: dict[str, list[float]] = {name: [] for name in MODELS}
    garch_sigma = 0.0
    for day in range(holdout_days, 0, -1):
        end = len(returns) - day * HOURS_PER_DAY
        train = returns[:end]
        realized = float(np.sqrt(np.sum(returns[end : end + HOURS_PER_DAY] ** 2)))
        if day % 7 == 0 or garch_sigma == 0.0:
            garch_sigma = MODELS["garch"].forecast_hourly(train)
        forecasts = {
            "ewma": MODELS["ewma"].forecast_hourly(train),
            "garch": garch_sigma,
            "har": MODELS["har"].forecast_hourly(train),
        }
        for name, hourly in forecasts.items():
            errors[name].append((hourly * np.sqrt(HOURS_PER_DAY) - realized) ** 2)
    rmse = {name: float(np.sqrt(np.mean(values))) for name, values in errors.items()}
    best = min(sorted(rmse), key=lambda name: rmse[name])
    return VolatilityForecast(MODELS[best].forecast_hourly(returns), best, rmse)
