"""Backtest figures for the notes: one year of hourly data x 10 assets x 10,000 positions
(static parameters, the engine alone, and with the agent deciding daily), and a sweep on a
local Dask cluster with 1 and 2 workers; and the crash comparisons (agent vs static).

Run by hand: `python benchmarks/backtest_bench.py`."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from backtests.baselines import v3_params
from backtests.data import synthetic_gbm_with_jumps
from backtests.report import metrics_table
from backtests.run import BacktestSpec, run_backtest
from backtests.simulator import MarketPath, SimulationConfig, simulate
from backtests.sweep import grid, run_sweep


def engine_speed() -> None:
    paths = []
    for i in range(10):
        series = synthetic_gbm_with_jumps(8_760, seed=i, annual_volatility=0.9).prices_usd
        paths.append(MarketPath(f"A{i}", np.array([int(t.timestamp()) for t in series.index]), series.to_numpy(), 10e6))
    initial = {p.symbol: v3_params("WETH") for p in paths}
    config = SimulationConfig(positions_per_asset=10_000, warmup_hours=0)
    start = time.perf_counter()
    result = simulate(paths, initial, None, config)
    print(f"engine, 1 y hourly x 10 assets x 10,000 positions (static): {time.perf_counter() - start:.2f} s, "
          f"{result.liquidations:,} liquidations")


def sweep_speed() -> None:
    base = BacktestSpec(("ETH",), "", "", positions_per_asset=1_000)
    specs = grid(base, ["static-v3", "static-v2", "smart-ltv", "agent"], [("2020-03-01", "2020-03-31")], [1, 2])
    for workers in (1, 2):
        start = time.perf_counter()
        run_sweep(specs, workers=workers)
        print(f"sweep of {len(specs)} one-month backtests on a local Dask cluster, {workers} worker(s): "
              f"{time.perf_counter() - start:.1f} s")


def crashes() -> None:
    for start, end in (("2020-03-01", "2020-03-31"), ("2021-05-01", "2021-05-31")):
        spec = BacktestSpec(("ETH",), start, end)
        results = [run_backtest(replace(spec, strategy=name)) for name in ("agent", "agent-no-delay", "static-v3", "static-v2")]
        print(f"\nETH {start} to {end}, 1,000 positions, depth $20M at 2% slippage")
        print(metrics_table(results).to_string(float_format=lambda v: f"{v:,.2f}"))


if __name__ == "__main__":
    engine_speed()
    crashes()
    sweep_speed()
