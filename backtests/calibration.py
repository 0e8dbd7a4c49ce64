"""Calibration the strategy config stores, computed once from the bundled history:
- stress records (strategies/stressed.py): the dated steps of each volatile asset's running
  maximum of 12-month realized volatility;
- peg calibrations (strategies/peg.py): each pegged asset's depeg events from the CoinGecko
  hourly series (2021-2023) and, before those start, the daily snapshots (2015-2022).

Both are dated, so a decision (or a backtest on a past date) uses only what had happened by
then. `python -m backtests.calibration` prints the TOML tables for strategies/config/.
The CoinGecko daily snapshot format is read here (no loader for it in backtests/data.py)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from backtests.data import DATA_DIR, DataError, load_bundled
from backtests.validation import hourly_grid
from strategies.peg import DepegEvent, PegCalibration, depeg_events, peg_deviation
from strategies.stressed import StressRecord, stress_records
from strategies.volatility import winsorize

STRESS_WINDOW_HOURS = 24 * 365  # Basel 2.5: a 12-month period of stress
# Each volatile asset's series, longest first; WETH/WBTC also take ETH/BTC's Binance history.
STRESS_SOURCES = {"WETH": ("ETH", "WETH"), "WBTC": ("BTC", "WBTC"), "ETH": ("ETH",), "BTC": ("BTC",),
                  "LINK": ("LINK",), "CRV": ("CRV",), "AAVE": ("AAVE",), "stETH": ("stETH",)}


@dataclass(frozen=True)
class PegSource:
    peg: str  # "USD" or the symbol tracked
    depeg_threshold: float  # above the series' routine noise (docs/methodology.md)
    daily_file: str | None = None


PEGGED = {
    "USDC": PegSource("USD", 0.02, "usdc-usd-max_coingecko_1d_2018-2022.csv"),
    "DAI": PegSource("USD", 0.02, "dai-usd-max_coingecko_1d_2019-2022.csv"),
    "USDT": PegSource("USD", 0.02, "usdt-usd-max_coingecko_1d_2015-2022.csv"),
    "UST": PegSource("USD", 0.02),
    # stETH trades at a routine discount of 0.5-2% to ETH (median -0.6%, quartile -1.6%).
    "stETH": PegSource("WETH", 0.05),
}
HOURLY_MIN_POINTS, HOURLY_RECOVERY_POINTS = 3, 24
DAILY_MIN_POINTS, DAILY_RECOVERY_POINTS = 2, 2


def _seconds(index: pd.DatetimeIndex) -> np.ndarray:
    return np.asarray(index.as_unit("s").asi8, dtype=np.int64)


def stress_calibration(symbol: str, data_dir: Path = DATA_DIR) -> tuple[StressRecord, ...]:
    """Records from every series of the asset, merged into one running maximum."""
    merged: list[StressRecord] = []
    for source in STRESS_SOURCES.get(symbol, (symbol,)):
        grid, _ = hourly_grid(load_bundled(source, data_dir).prices_usd)
        returns = winsorize(np.diff(np.log(grid.to_numpy(dtype=float))))
        merged += stress_records(_seconds(grid.index[1:]), returns, STRESS_WINDOW_HOURS)
    kept: list[StressRecord] = []
    for record in sorted(merged, key=lambda r: r.window_end_s):
        if not kept or record.hourly_sigma > kept[-1].hourly_sigma:
            kept.append(record)
    return tuple(kept)


def daily_snapshots(path: Path) -> pd.Series:
    frame = pd.read_csv(path, usecols=["snapped_at", "price"])
    times = pd.to_datetime(frame["snapped_at"], utc=True)
    series = pd.Series(frame["price"].astype(float).to_numpy(), index=times).sort_index()
    return series[~series.index.duplicated(keep="last")]


def pegged_hourly(symbol: str, data_dir: Path = DATA_DIR) -> pd.Series:
    """Price over the peg on the hourly grid (stETH in ETH; the dollar stables in USD)."""
    source = PEGGED[symbol]
    grid, _ = hourly_grid(load_bundled(symbol, data_dir).prices_usd)
    if source.peg == "USD":
        return grid
    peg, _ = hourly_grid(load_bundled(source.peg, data_dir).prices_usd)
    return (grid / peg).dropna()


def peg_calibration(symbol: str, data_dir: Path = DATA_DIR) -> PegCalibration:
    if symbol not in PEGGED:
        raise DataError(f"{symbol!r} is not a pegged asset (known: {', '.join(PEGGED)})")
    source = PEGGED[symbol]
    hourly = pegged_hourly(symbol, data_dir)
    events = list(depeg_events(_seconds(hourly.index), peg_deviation(hourly.to_numpy()), source.depeg_threshold,
                               HOURLY_MIN_POINTS, HOURLY_RECOVERY_POINTS))
    start = hourly.index[0]
    if source.daily_file:
        daily = daily_snapshots(data_dir / "prices" / "coingecko_daily" / source.daily_file)
        daily = daily[daily.index < hourly.index[0]]
        events = [*depeg_events(_seconds(daily.index), daily.to_numpy() - 1.0, source.depeg_threshold,
                                DAILY_MIN_POINTS, DAILY_RECOVERY_POINTS), *events]
        start = min(start, daily.index[0])
    return PegCalibration(source.peg, source.depeg_threshold, int(start.timestamp()), tuple(events))


def _toml_events(events: tuple[DepegEvent, ...]) -> str:
    rows = ", ".join(f"[{e.start_s}, {e.end_s}, {e.severity:.6f}, {str(e.finished).lower()}]" for e in events)
    return f"[{rows}]"


def config_tables(data_dir: Path = DATA_DIR) -> str:
    """TOML for the strategy config: [stress_records] <asset> = [[window end s, sigma], ...]
    and [depegs.<asset>] peg, depeg_threshold, history_start_s, events = [[start s, end s,
    severity, finished], ...]."""
    lines = ["[stress_records]",
             "# Generated by `python -m backtests.calibration` from ../shared/data (do not edit by hand):",
             "# the dated steps of each asset's running maximum of 12-month realized hourly volatility."]
    for symbol in STRESS_SOURCES:
        rows = ", ".join(f"[{r.window_end_s}, {r.hourly_sigma:.6f}]" for r in stress_calibration(symbol, data_dir))
        lines.append(f"{symbol} = [{rows}]")
    lines += ["", "# Generated by `python -m backtests.calibration`: depeg events found in each pegged asset's",
              "# history (CoinGecko hourly 2021-2023, daily snapshots before), [start s, end s, severity, finished].", ""]
    for symbol in PEGGED:
        calibration = peg_calibration(symbol, data_dir)
        lines += [f"[depegs.{symbol}]", f'peg = "{calibration.peg}"', f"depeg_threshold = {calibration.depeg_threshold}",
                  f"history_start_s = {calibration.history_start_s}", f"events = {_toml_events(calibration.events)}", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(config_tables())
