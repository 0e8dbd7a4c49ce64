"""Loaders for market history, each handling its source's quirks and reporting (never
silently filling) gaps and duplicates.

Formats: Binance hourly candles (newest first, mixed s/ms stamps, duplicated hours), CoinGecko
hourly (irregular spacing), Uniswap v2 / Sushiswap reserves (liquidity depth), and a generic
CSV/Parquet of timestamp and price. Data is read in place from ../shared/data (or
$RISK_AGENT_DATA_DIR); it is never copied into the project."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("RISK_AGENT_DATA_DIR", PROJECT_ROOT.parent / "shared" / "data"))
HOUR = pd.Timedelta(hours=1)


class DataError(Exception):
    """A data file that cannot be used as given; the message names the file and the problem."""


@dataclass(frozen=True)
class PriceSeries:
    """USD prices indexed by UTC time, ascending and unique, with what loading found."""

    symbol: str
    prices_usd: pd.Series
    source: str
    duplicates_dropped: int
    gaps: tuple[tuple[pd.Timestamp, pd.Timestamp], ...]

    def between(self, start: str | pd.Timestamp | None, end: str | pd.Timestamp | None) -> pd.Series:
        return self.prices_usd.loc[start:end]


def _find_gaps(index: pd.DatetimeIndex, max_step: pd.Timedelta) -> tuple[tuple[pd.Timestamp, pd.Timestamp], ...]:
    steps = index[1:] - index[:-1]
    return tuple((index[i], index[i + 1]) for i in np.flatnonzero(steps > max_step))


def _require(path: Path) -> Path:
    if not path.exists():
        raise DataError(f"data file not found: {path}")
    return path


def load_binance_hourly(path: Path, symbol: str) -> PriceSeries:
    """Binance candles: close price at the candle's open hour."""
    frame = pd.read_csv(_require(path), usecols=["unix", "close"])
    unix = frame["unix"].astype(float)
    seconds = np.where(unix > 1e11, unix / 1000.0, unix)  # milliseconds after 2020-11-20
    times = pd.to_datetime(seconds.round().astype("int64"), unit="s", utc=True)
    series = pd.Series(frame["close"].astype(float).to_numpy(), index=times).sort_index()
    duplicated = series.index.duplicated(keep="last")
    series = series[~duplicated]
    return PriceSeries(symbol, series, str(path), int(duplicated.sum()), _find_gaps(series.index, HOUR))


def load_coingecko_hourly(path: Path, symbol: str | None = None) -> PriceSeries:
    """CoinGecko aggregated prices at irregular ~hourly times (kept as they are)."""
    frame = pd.read_csv(_require(path))
    missing = {"timestamp", "USD_price"} - set(frame.columns)
    if missing:
        raise DataError(f"{path}: not a CoinGecko hourly file (missing columns {sorted(missing)})")
    times = pd.to_datetime(frame["timestamp"].astype("int64"), unit="ms", utc=True)
    series = pd.Series(frame["USD_price"].astype(float).to_numpy(), index=times).sort_index()
    duplicated = series.index.duplicated(keep="last")
    series = series[~duplicated]
    name = symbol or str(frame["symbol"].iloc[0])
    return PriceSeries(name, series, str(path), int(duplicated.sum()), _find_gaps(series.index, 3 * HOUR))


def load_generic(path: Path, symbol: str) -> PriceSeries:
    """A CSV or Parquet with a `timestamp` (unix s/ms or ISO) and a `price` column."""
    _require(path)
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
    elif path.suffix == ".csv":
        frame = pd.read_csv(path)
    else:
        raise DataError(f"{path}: unknown format {path.suffix!r} (expected .csv or .parquet)")
    if not {"timestamp", "price"} <= set(frame.columns):
        raise DataError(f"{path}: expected columns 'timestamp' and 'price', found {list(frame.columns)}")
    stamps = frame["timestamp"]
    if np.issubdtype(stamps.dtype, np.number):
        values = stamps.astype(float)
        times = pd.to_datetime(np.where(values > 1e11, values / 1000, values).round().astype("int64"), unit="s", utc=True)
    else:
        times = pd.to_datetime(stamps, utc=True)
    series = pd.Series(frame["price"].astype(float).to_numpy(), index=times).sort_index()
    duplicated = series.index.duplicated(keep="last")
    series = series[~duplicated]
    return PriceSeries(symbol, series, str(path), int(duplicated.sum()), _find_gaps(series.index, 3 * HOUR))


def load_dex_depth_usd(path: Path, slippage: float = 0.02) -> pd.Series:
    """USD that can be sold into a constant-product pair within `slippage`: one side's
    reserve (reserveUSD / 2) x s / (1 - s), indexed by time."""
    frame = pd.read_csv(_require(path), usecols=["datetime", "reserveUSD"])
    times = pd.to_datetime(frame["datetime"], utc=True)
    one_side = frame["reserveUSD"].astype(float).to_numpy() / 2
    series = pd.Series(one_side * slippage / (1 - slippage), index=times).sort_index()
    return series[~series.index.duplicated(keep="last")]


# The bundled history, by symbol.
BINANCE = {
    "ETH": "prices/exchange/binance_ETHUSDT_1h_2017-08_2021-06.csv",
    "BTC": "prices/exchange/binance_BTCUSDT_1h_2017-08_2021-06.csv",
}
COINGECKO = ("WETH", "WBTC", "LINK", "CRV", "stETH", "USDC", "DAI", "USDT", "AAVE", "UST")
STABLECOINS = frozenset({"USDC", "DAI", "USDT", "UST"})


def load_bundled(symbol: str, data_dir: Path = DATA_DIR) -> PriceSeries:
    """ETH/BTC from Binance (2017-2021); the CoinGecko set (2021-2023) for the others."""
    if symbol in BINANCE:
        return load_binance_hourly(data_dir / BINANCE[symbol], symbol)
    if symbol in COINGECKO:
        return load_coingecko_hourly(data_dir / f"prices/coingecko_hourly/{symbol}_usd_coingecko_1h_2021-2023.csv", symbol)
    known = ", ".join([*BINANCE, *COINGECKO])
    raise DataError(f"no bundled history for asset {symbol!r} (known: {known})")


def hourly(series: PriceSeries) -> pd.Series:
    """Onto the hour (last print of each hour). Missing hours are carried forward for the
    simulator, which needs a price every hour; how many were carried is in `series.gaps`."""
    return series.prices_usd.resample("1h").last().ffill()


def load_aave_hourly(path: Path) -> pd.DataFrame:
    """Aave v2 hourly market snapshots (Messari schema); forward-filled hours repeat their
    `timestamp`, which is kept so users can tell them apart. Adds `utilization`."""
    frame = pd.read_parquet(_require(path))
    frame["utilization"] = (frame["borrowed_USD"] / frame["supplied_USD"]).where(frame["supplied_USD"] > 0)
    return frame


def load_any(path: Path, symbol: str) -> PriceSeries:
    """Detects the format from the columns: Binance, CoinGecko, or generic timestamp/price."""
    _require(path)
    if path.suffix not in (".csv", ".parquet"):
        raise DataError(f"{path}: unknown format {path.suffix!r} (expected .csv or .parquet)")
    columns = set(pd.read_csv(path, nrows=0).columns) if path.suffix == ".csv" else set(pd.read_parquet(path).columns)
    if {"unix", "close"} <= columns:
        return load_binance_hourly(path, symbol)
    if {"timestamp", "USD_price"} <= columns:
        return load_coingecko_hourly(path, symbol)
    if {"timestamp", "price"} <= columns:
        return load_generic(path, symbol)
    raise DataError(f"{path}: unknown format (columns {sorted(columns)[:6]}...; expected Binance, CoinGecko or timestamp,price)")


def synthetic_gbm_with_jumps(hours: int, *, start_price: float = 2_000.0, annual_volatility: float = 0.8,
                             jumps_per_year: float = 6.0, jump_mean: float = -0.08, jump_std: float = 0.06,
                             seed: int = 0, start: str = "2024-01-01") -> PriceSeries:
    """Geometric Brownian motion with Poisson jumps (Merton), hourly, seeded."""
    rng = np.random.default_rng(seed)
    sigma = annual_volatility / np.sqrt(8_760)
    jumps = rng.poisson(jumps_per_year / 8_760, hours) * rng.normal(jump_mean, jump_std, hours)
    log_returns = rng.normal(-0.5 * sigma**2, sigma, hours) + jumps
    prices = start_price * np.exp(np.cumsum(log_returns))
    index = pd.date_range(start, periods=hours, freq="h", tz="UTC")
    return PriceSeries("SYN", pd.Series(prices, index=index), f"gbm+jumps seed={seed}", 0, ())


def synthetic_garch(hours: int, *, start_price: float = 2_000.0, omega: float = 2e-7, alpha: float = 0.08,
                    beta: float = 0.9, seed: int = 0, start: str = "2024-01-01") -> PriceSeries:
    """GARCH(1,1) returns with Student-t(4) shocks: volatility clusters, as in real hourly data."""
    rng = np.random.default_rng(seed)
    variance = omega / (1 - alpha - beta)
    returns = np.empty(hours)
    for t in range(hours):
        shock = rng.standard_t(4) / np.sqrt(2)
        returns[t] = np.sqrt(variance) * shock
        variance = omega + alpha * returns[t] ** 2 + beta * variance
    index = pd.date_range(start, periods=hours, freq="h", tz="UTC")
    return PriceSeries("SYN", pd.Series(start_price * np.exp(np.cumsum(returns)), index=index), f"garch seed={seed}", 0, ())


def load_chainlink_rounds(w3, aggregator_address: str, symbol: str, max_rounds: int = 10_000) -> PriceSeries:
    """Historical rounds of a Chainlink-style feed, read on chain by `getRoundData` walking back
    from `latestRoundData` (answers scaled by the feed's decimals)."""
    from chain.deploy import contract
    from chain.transact import call

    feed = contract(w3, "PushableAggregator", aggregator_address)
    decimals = call(feed.functions.decimals())
    latest_round = call(feed.functions.latestRoundData())[0]
    times, prices = [], []
    for round_id in range(latest_round, max(latest_round - max_rounds, 0), -1):
        _, answer, _, updated_at, _ = call(feed.functions.getRoundData(round_id))
        times.append(int(updated_at))
        prices.append(answer / 10**decimals)
    index = pd.to_datetime(times[::-1], unit="s", utc=True)
    series = pd.Series(prices[::-1], index=index)
    duplicated = series.index.duplicated(keep="last")
    series = series[~duplicated]
    return PriceSeries(symbol, series, f"chainlink:{aggregator_address}", int(duplicated.sum()), _find_gaps(series.index, 3 * HOUR))
