"""One backtest from a spec: load the data, cut the period (plus the strategy's own history
window before it, from the strategy config), build the paths, simulate. Shared by the CLI,
sweeps and the benchmark. The strategy sees each source's own prints (gaps stay gaps, as in
the enclave); the liquidation engine needs a price every hour and carries the last one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from backtests.baselines import strategy_for
from backtests.data import STABLECOINS, DataError, hourly, load_any, load_bundled
from backtests.data import DATA_DIR
from backtests.market_dynamics import BorrowerDynamics, dex_depth_hourly, dex_depth_series, fit_dynamics
from backtests.realism import RELEVER_SPEED_PER_HOUR, book_hhi, dynamics_from
from backtests.simulator import BacktestResult, DebtReserve, MarketPath, SimulationConfig, simulate
from strategies.config import StrategyConfig, load_config
from strategies.inputs import Observations

DEFAULT_DEPTH_USD = {"ETH": 20e6, "WETH": 20e6, "BTC": 15e6, "WBTC": 15e6, "USDC": 50e6, "LINK": 3e6, "CRV": 2e6}


@dataclass(frozen=True)
class BacktestSpec:
    assets: tuple[str, ...]
    start: str
    end: str
    strategy: str = "agent"
    seed: int = 1
    data_file: Path | None = None  # one asset from a file of any supported format
    depth_scale: float = 1.0
    positions_per_asset: int = 1_000
    delay_hours: int = 24
    config_file: Path | None = None  # another strategy config to try (default: the measured one)
    market: str = "dynamic"  # "dynamic": fitted borrower dynamics and DEX depth over time; "fixed": neither

    def strategy_config(self) -> StrategyConfig:
        return load_config(self.config_file)


def load_paths(spec: BacktestSpec) -> tuple[list[MarketPath], int]:
    if spec.data_file is not None and len(spec.assets) != 1:
        raise DataError("--data takes one file for exactly one asset")
    start, end = pd.Timestamp(spec.start, tz="UTC"), pd.Timestamp(spec.end, tz="UTC")
    if end <= start:
        raise DataError(f"empty range: --to {spec.end} is not after --from {spec.start}")
    window = pd.Timedelta(hours=spec.strategy_config().window.history_hours)
    frames, raw = {}, {}
    for symbol in spec.assets:
        series = load_any(spec.data_file, symbol) if spec.data_file else load_bundled(symbol)
        prices = hourly(series).loc[start - window: end]
        if prices.loc[start:end].empty:
            first, last = series.prices_usd.index[0], series.prices_usd.index[-1]
            raise DataError(f"no {symbol} data between {spec.start} and {spec.end} (the data covers {first:%Y-%m-%d} to {last:%Y-%m-%d})")
        frames[symbol] = prices
        own = series.prices_usd.loc[start - window - pd.Timedelta(hours=4): end]
        raw[symbol] = Observations(series.observation_source, own.index.as_unit("s").asi8.astype(np.int64),
                                   own.to_numpy(dtype=float))
    aligned = pd.concat(frames, axis=1, join="inner").dropna()
    start_hour = int(np.searchsorted(aligned.index, start))
    timestamps = np.array([int(t.timestamp()) for t in aligned.index])
    paths = [MarketPath(symbol, timestamps, aligned[symbol].to_numpy(dtype=float),
                        DEFAULT_DEPTH_USD.get(symbol, 5e6) * spec.depth_scale, symbol in STABLECOINS,
                        observations=raw[symbol])
             for symbol in spec.assets]
    return paths, start_hour


MARKETS = ("dynamic", "fixed")
DEBT_SYMBOL = "USDC"


def with_market(paths: list[MarketPath], spec: BacktestSpec) -> tuple[list[MarketPath], BorrowerDynamics | None, dict[str, str]]:
    """The market a spec asks for: with "dynamic", each path's depth follows the bundled DEX
    reserves where they cover the dates (the default depth before and after) and borrowers
    follow the dynamics fitted to the bundled Aave v2 data (backtests.realism); with "fixed",
    constant depth and a fixed population. Returns the paths, the dynamics and how each depth
    was made (for the report)."""
    if spec.market not in MARKETS:
        raise DataError(f"unknown market model {spec.market!r} (known: {', '.join(MARKETS)})")
    if spec.market == "fixed":
        return paths, None, {p.symbol: f"constant ${p.liquidity_depth_usd / 1e6:.0f}M" for p in paths}
    notes, out = {}, []
    for path in paths:
        try:
            series = dex_depth_series(path.symbol, DATA_DIR)
            depth, before = dex_depth_hourly(path.timestamps_s, series * spec.depth_scale, path.liquidity_depth_usd)
            notes[path.symbol] = f"DEX reserves ({before} h before their start at the default)"
            out.append(replace(path, depth_usd=depth))
        except (ValueError, DataError, FileNotFoundError):
            notes[path.symbol] = f"constant ${path.liquidity_depth_usd / 1e6:.0f}M (no DEX history for it)"
            out.append(path)
    try:
        dynamics = dynamics_from(fit_dynamics(DATA_DIR, book_hhi()), RELEVER_SPEED_PER_HOUR)
    except (DataError, FileNotFoundError, ValueError):
        dynamics = None  # no bundled Aave data: the fixed population
    return out, dynamics, notes


def run_backtest(spec: BacktestSpec, progress: Callable[[int], None] | None = None,
                 record_inputs: bool = False) -> BacktestResult:
    config = spec.strategy_config()
    strategy, initial_params, delayed = strategy_for(spec.strategy, config)
    paths, start_hour = load_paths(spec)
    paths, dynamics, depth_notes = with_market(paths, spec)
    initial = {p.symbol: initial_params(p.symbol) for p in paths}
    simulation = SimulationConfig(delay_hours=spec.delay_hours if delayed else 0, warmup_hours=0,
                                  positions_per_asset=spec.positions_per_asset, seed=spec.seed, start_hour=start_hour,
                                  record_inputs=record_inputs, dynamics=dynamics)
    debt = None
    if spec.market == "dynamic" and DEBT_SYMBOL not in {p.symbol for p in paths}:
        # The stablecoin the positions borrow is a governed reserve too: its rate curve is
        # decided and its utilization simulated (pegged at $1 here).
        debt = DebtReserve(DEBT_SYMBOL, paths[0].timestamps_s, np.ones(len(paths[0].timestamps_s)), 0.0)
        initial[DEBT_SYMBOL] = initial_params(DEBT_SYMBOL)
    result = simulate(paths, initial, strategy, simulation, progress, name=spec.strategy, strategy_config=config, debt=debt)
    result.market_notes = {"model": spec.market, "depth": depth_notes, "strategy_config": config.config_hash_hex,
                           "debt_reserve": DEBT_SYMBOL if debt is not None else "fixed curve"}
    return result


def with_strategy(spec: BacktestSpec, name: str) -> BacktestSpec:
    return replace(spec, strategy=name)
