"""Decision inputs from loaded price series, with data up to the decision time only (the
caller cuts the window; strategies never see past `as_of`). Used by tests, benchmarks and
analysts who call the strategy directly; the backtest engine builds its inputs the same way
(`strategies.inputs`), so every caller goes through the one hourly builder."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from backtests.data import PriceSeries
from strategies.bounds import Bounds
from strategies.config import StrategyConfig, default_config
from strategies.inputs import (
    HOUR_S,
    Anchor,
    AssetInputs,
    DecisionInputs,
    MarketHistory,
    Observations,
    PairReserves,
    PositionBook,
    build_history,
)
from strategies.params import AAVE_V3_OCT_2023, RiskParams

ALIASES = {"ETH": "WETH", "BTC": "WBTC"}


def default_params(symbol: str) -> RiskParams:
    """Aave's October-2023 parameters for the symbol (ETH/BTC as WETH/WBTC), else WETH's."""
    return AAVE_V3_OCT_2023.get(ALIASES.get(symbol, symbol), AAVE_V3_OCT_2023["WETH"])


def observations_until(series: PriceSeries, as_of: pd.Timestamp, window_hours: int, margin_hours: int = 4) -> Observations:
    """The series' observations in (as_of - window - margin, as_of], at their own cadence."""
    prices = series.prices_usd.loc[as_of - pd.Timedelta(hours=window_hours + margin_hours): as_of]
    times = (prices.index.as_unit("s").asi8 if hasattr(prices.index, "as_unit") else prices.index.asi8 // 10**9)
    return Observations(series.observation_source, np.asarray(times, dtype=np.int64), prices.to_numpy(dtype=float))


def synthetic_anchor(as_of_s: int, label: str = "history") -> Anchor:
    """A stand-in anchor for inputs that no chain holds (files, simulations): block number = hour."""
    return Anchor(as_of_s // HOUR_S, hashlib.sha256(f"{label}:{as_of_s}".encode()).digest(), as_of_s)


def decision_inputs(
    series: list[PriceSeries],
    as_of: pd.Timestamp,
    *,
    config: StrategyConfig | None = None,
    params: dict[str, RiskParams] | None = None,
    liquidity_depth_usd: float = 5e6,
    supplied_tokens: float = 0.0,
    borrowed_tokens: float = 0.0,
    bounds: dict[str, Bounds] | None = None,
    positions: PositionBook | None = None,
    reference_price_usd: float | None = None,
) -> DecisionInputs:
    config = config or default_config()
    as_of_s = int(as_of.timestamp())
    assets = []
    for index, s in enumerate(series):
        obs = observations_until(s, as_of, config.window.history_hours)
        if reference_price_usd is not None:
            # A pair whose mid price is the given reference, deep enough for `liquidity_depth_usd`.
            last = float(obs.values[-1]) if len(obs) else 1.0
            s_ = config.bonus.depth_slippage
            asset_reserve = liquidity_depth_usd * (1 - s_) / s_ / last
            pair = PairReserves("pair:test", asset_reserve, asset_reserve * reference_price_usd, "USDC")
        else:
            pair = PairReserves("config", fallback_depth_usd=liquidity_depth_usd)
        assets.append(AssetInputs(
            symbol=s.symbol, address="0x" + f"{index + 1:040x}", decimals=18,
            params=(params or {}).get(s.symbol, default_params(s.symbol)),
            supplied_tokens=supplied_tokens, borrowed_tokens=borrowed_tokens, prices=obs, pair=pair,
            bounds=(bounds or {}).get(s.symbol, Bounds()),
        ))
    return DecisionInputs(chain_id=0, steward="0x" + "00" * 20, enclave_nonce=0, anchor=synthetic_anchor(as_of_s),
                          assets=tuple(assets), positions=positions or PositionBook("none"))


def market_history(series: list[PriceSeries], as_of: pd.Timestamp, config: StrategyConfig | None = None,
                   **kwargs) -> MarketHistory:
    config = config or default_config()
    return build_history(decision_inputs(series, as_of, config=config, **kwargs), config)
