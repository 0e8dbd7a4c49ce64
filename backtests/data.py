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
