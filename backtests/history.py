"""Building a strategy's `MarketHistory` from loaded price series, with data up to the
decision time only (the engine cuts the window; strategies never see past `as_of`)."""

from __future__ import annotations

import pandas as pd

from backtests.data import STABLECOINS, PriceSeries
from strategies.types import AssetHistory, MarketHistory

DEFAULT_WINDOW_HOURS = 24 * 120


def asset_history(
    series: PriceSeries,
    as_of: pd.Timestamp,
    *,
    window_hours: int = DEFAULT_WINDOW_HOURS,
    liquidity_depth_usd: float = 5e6,
    supplied_tokens: float = 0.0,
    borrowed_tokens: float = 0.0,
    utilization_history: tuple[float, ...] = (),
) -> AssetHistory:
    window = series.prices_usd.loc[as_of - pd.Timedelta(hours=window_hours) : as_of]
    return AssetHistory(
        symbol=series.symbol,
        timestamps_s=tuple(int(t.timestamp()) for t in window.index),
        prices_usd=tuple(float(p) for p in window.to_numpy()),
        liquidity_depth_usd=liquidity_depth_usd,
        supplied_tokens=supplied_tokens,
        borrowed_tokens=borrowed_tokens,
        utilization_history=utilization_history,
        is_stablecoin=series.symbol in STABLECOINS,
    )


def market_history(series: list[PriceSeries], as_of: pd.Timestamp, **kwargs) -> MarketHistory:
    return MarketHistory(as_of_s=int(as_of.timestamp()), assets=tuple(asset_history(s, as_of, **kwargs) for s in series))
