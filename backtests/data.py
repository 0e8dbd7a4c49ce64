"""Market history for backtests, the demo and the service: the bundled files by symbol, the
DEX-reserve and Aave-hourly loaders, seeded synthetic paths, and `PriceSeries`, the pandas
view the current callers use.

Price files of every format are read by `backtests.loaders.load_prices` (formats detected in
`backtests.formats`); this module only adapts its record. Data is read in place from
../shared/data (or $RISK_AGENT_DATA_DIR); it is never copied into the project."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from backtests.formats import DataError
from backtests.loaders import PriceFile, load_prices

__all__ = ["DATA_DIR", "DataError", "PriceFile", "PriceSeries", "load_any", "load_bundled", "load_prices"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("RISK_AGENT_DATA_DIR", PROJECT_ROOT.parent / "shared" / "data"))
HOUR = pd.Timedelta(hours=1)


@dataclass(frozen=True)
class PriceSeries:
    """USD prices indexed by UTC time, ascending and unique, with what loading found.
    `loaded` is the full record (source hash, cadence, conflicts) when it came from a file."""

    symbol: str
    prices_usd: pd.Series
    source: str
    duplicates_dropped: int
    gaps: tuple[tuple[pd.Timestamp, pd.Timestamp], ...]
    loaded: PriceFile | None = None

    @property
    def observation_source(self) -> str:
        """How decision inputs name this series: the file's SHA-256, so the inputs hash does
        not depend on where the file lies."""
        return f"file:sha256:{self.loaded.source.sha256}" if self.loaded is not None else self.source

    def between(self, start: str | pd.Timestamp | None, end: str | pd.Timestamp | None) -> pd.Series:
        return self.prices_usd.loc[start:end]


def _find_gaps(index: pd.DatetimeIndex, max_step: pd.Timedelta) -> tuple[tuple[pd.Timestamp, pd.Timestamp], ...]:
    steps = index[1:] - index[:-1]
    return tuple((index[i], index[i + 1]) for i in np.flatnonzero(steps > max_step))


def as_price_series(loaded: PriceFile) -> PriceSeries:
    """The pandas view of a loaded file, each price stamped when it became known (a candle's
    close at the candle's end, never at its open: that would be an hour of look-ahead); no
    resampling."""
    observations = loaded.when_known()
    index = pd.to_datetime(observations.timestamps_s, unit="s", utc=True)
    gaps = tuple((pd.Timestamp(g.after_s, unit="s", tz="UTC"), pd.Timestamp(g.before_s, unit="s", tz="UTC"))
                 for g in loaded.findings.gaps)
    return PriceSeries(loaded.symbol, pd.Series(np.array(observations.prices_usd), index=index), loaded.source.path,
                       loaded.findings.duplicates_dropped, gaps, loaded)


def load_binance_hourly(path: Path, symbol: str) -> PriceSeries:
    """CryptoDataDownload Binance candles: each close price at the candle's end."""
    return as_price_series(load_prices(path, format_name="cryptodatadownload", symbol=symbol))


def load_coingecko_hourly(path: Path, symbol: str | None = None) -> PriceSeries:
    """CoinGecko aggregated prices at irregular ~hourly times (kept as they are)."""
    return as_price_series(load_prices(path, format_name="coingecko-hourly", symbol=symbol))


def load_generic(path: Path, symbol: str) -> PriceSeries:
    """A CSV, JSON or Parquet of `timestamp` (unix s/ms or ISO) and `price`."""
    return as_price_series(load_prices(path, format_name="timestamp-price", symbol=symbol))


def load_any(path: Path, symbol: str) -> PriceSeries:
    """Any supported price format, detected from the file's content."""
    return as_price_series(load_prices(path, symbol=symbol))


def _require(path: Path | str, columns: list[str], frame_of) -> pd.DataFrame:
    """The file's frame with `columns`, or a one-line DataError (missing file, directory,
    unreadable content, missing columns)."""
    path = Path(path)
    if path.is_dir():
        raise DataError("is a directory, not a file", path=path)
    if not path.exists():
        raise DataError("data file not found", path=path)
    try:
        frame = frame_of(path)
    except (ValueError, OSError, UnicodeDecodeError) as error:
        raise DataError(f"cannot read it ({str(error).splitlines()[0]})", path=path) from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"missing columns {', '.join(missing)}", path=path)
    if frame.empty:
        raise DataError("no data rows", path=path)
    return frame


def load_dex_depth_usd(path: Path, slippage: float = 0.02) -> pd.Series:
    """USD that can be sold into a constant-product pair within `slippage`: one side's
    reserve (reserveUSD / 2) x s / (1 - s), indexed by time."""
    frame = _require(path, ["datetime", "reserveUSD"], pd.read_csv)
    times = pd.to_datetime(frame["datetime"], utc=True, format="ISO8601")
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
        path = data_dir / f"prices/coingecko_hourly/{symbol}_usd_coingecko_1h_2021-2023.csv"
        return load_coingecko_hourly(path, symbol)
    known = ", ".join([*BINANCE, *COINGECKO])
    raise DataError(f"no bundled history for asset {symbol!r} (known: {known})")


def hourly(series: PriceSeries) -> pd.Series:
    """Onto the hour (last print of each hour). Missing hours are carried forward for the
    simulator, which needs a price every hour; how many were carried is in `series.gaps`.
    Kept for backtests/run.py until the one hourly input builder (strategies/inputs.py)
    replaces it; loaders themselves never resample."""
    return series.prices_usd.resample("1h").last().ffill()


def load_aave_hourly(path: Path) -> pd.DataFrame:
    """Aave v2 hourly market snapshots (Messari schema); forward-filled hours repeat their
    `timestamp`, which is kept so users can tell them apart. Adds `utilization`."""
    frame = _require(path, ["borrowed_USD", "supplied_USD"], pd.read_parquet)
    frame["utilization"] = (frame["borrowed_USD"] / frame["supplied_USD"]).where(frame["supplied_USD"] > 0)
    return frame


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
    prices = pd.Series(start_price * np.exp(np.cumsum(returns)), index=index)
    return PriceSeries("SYN", prices, f"garch seed={seed}", 0, ())


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
    return PriceSeries(symbol, series, f"chainlink:{aggregator_address}", int(duplicated.sum()),
                       _find_gaps(series.index, 3 * HOUR))
