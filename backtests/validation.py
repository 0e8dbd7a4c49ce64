"""Statistical checks of the risk models on real history: Kupiec's proportion-of-failures test
of the VaR model's exceedances, with the VaR forecast for each hour made from earlier hours only."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from strategies.collateral import TAIL_WINDOW_HOURS
from strategies.volatility import ewma_sigma_series


@dataclass(frozen=True)
class KupiecResult:
    symbol: str
    confidence: float
    observations: int
    exceedances: int
    expected: float
    likelihood_ratio: float
    p_value: float

    @property
    def passes(self) -> bool:
        return self.p_value >= 0.05


def kupiec(symbol: str, hourly_prices: pd.Series, confidence: float, warmup: int = 24 * 30,
           residual_window: int = TAIL_WINDOW_HOURS) -> KupiecResult:
    """One-hour VaR as the strategy computes it: filtered historical simulation, the EWMA
    sigma times the quantile of past standardized returns (both from earlier hours only)."""
    returns = np.diff(np.log(hourly_prices.to_numpy()))
    sigma = ewma_sigma_series(returns, warmup=warmup)
    standardized = pd.Series(returns / sigma)
    # Quantile of the standardized returns strictly before each hour.
    quantile = standardized.rolling(residual_window, min_periods=warmup).quantile(1 - confidence).shift(1).to_numpy()
    observed = returns[warmup:]
    threshold = quantile[warmup:] * sigma[warmup:]
    n = len(observed)
    x = int(np.sum(observed < threshold))
    p = 1 - confidence
    phat = x / n
    log_null = (n - x) * math.log(1 - p) + x * math.log(p)
    log_alt = (n - x) * math.log(1 - phat) + (x * math.log(phat) if x else 0.0)
    ratio = -2 * (log_null - log_alt)
    return KupiecResult(symbol, confidence, n, x, n * p, ratio, float(stats.chi2.sf(ratio, 1)))


def hourly_grid(prices: pd.Series) -> pd.Series:
    """Irregular prints onto the hour (last print of each hour); empty hours stay out."""
    return prices.resample("1h").last().dropna()
