"""Backtest figures for the notes (issue 11, item 6).

- `engine`: the static liquidation engine (`backtests.simulator.simulate`, no strategy) against
  a naive loop over every position every hour (written here as the baseline, with the
  engine's own arithmetic: both give the same liquidations and bad debt, checked), on the same
  market: 10 assets x 10,000 positions; and the engine alone over a year. The engine's month
  is timed as the median of 5 runs (the first run's figure is printed too), the naive loop once.
- `agent-1`: the agent deciding daily for a year on the bundled ETH history (1,000 positions).
- `agent-10`: the agent deciding daily for a year, 10 synthetic assets x 10,000 positions.
- `sweep`: a grid of agent backtests on a local Dask cluster with 1 and 2 workers, for growing
  grids, to show how big a grid must be before the second worker pays for the start-up.
- `crashes`: the crash comparisons (agent vs static) for the notes' table.

`--daily-fits` runs the agent with the day-anchored model selection wired in (a proposal that
changes outputs; see benchmarks/daily_fits.py). `--days N` shortens the agent runs (the
figure is then extrapolated to a year and says so). Timing under load is noisy: the load
average is printed with every figure.

    python benchmarks/backtest_bench.py [engine] [agent-1] [agent-10] [sweep] [crashes] [--daily-fits] [--days N]"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

HOURS_PER_YEAR = 8_760
ENGINE_RUNS = 5


def _load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def synthetic_paths(assets: int, hours: int, seed: int = 0):
    from backtests.data import synthetic_gbm_with_jumps
    from backtests.simulator import MarketPath

    paths = []
    for i in range(assets):
        series = synthetic_gbm_with_jumps(hours, seed=seed + i, annual_volatility=0.9).prices_usd
        paths.append(MarketPath(f"A{i}", series.index.as_unit("s").asi8.astype(np.int64), series.to_numpy(), 10e6))
    return paths


# ------------------------------------------------------------------ the naive baseline


def naive_static(paths, initial, config) -> dict[str, float]:
    """Hour by hour, position by position, in Python: every position's health checked every
    hour, liquidated with the engine's arithmetic (close factor, bonus, slippage, bad debt),
    and the engine's hourly aggregates (debt, utilization, borrowing power, capital
    efficiency) summed position by position."""
    from backtests.simulator import _slippage, _stable_borrow_rate, make_population

    hours = min(len(p.prices_usd) for p in paths)
    tokens, debts = {}, {}
    for i, p in enumerate(paths):
        book = make_population(p, initial[p.symbol], config, config.seed + i)
        tokens[p.symbol], debts[p.symbol] = book.tokens.tolist(), book.debt_usd.tolist()
    out = {"bad_debt_usd": 0.0, "liquidated_debt_usd": 0.0, "liquidations": 0, "protocol_revenue_usd": 0.0,
           "skipped": 0}
    efficiency = []
    debt_index = 1.0
    stable_supply = sum(sum(d) for d in debts.values()) / config.stable_target_utilization
    for t in range(config.start_hour, hours):
        total_debt = sum(sum(d) for d in debts.values()) * debt_index
        utilization = min(total_debt / stable_supply, 1.0) if stable_supply else 0.0
        rate = _stable_borrow_rate(utilization, config)
        out["protocol_revenue_usd"] += total_debt * rate / HOURS_PER_YEAR * config.stable_reserve_factor
        debt_index *= 1 + rate / HOURS_PER_YEAR
        borrowing_power = 0.0
        for path in paths:
            price = float(path.prices_usd[t])
            params = initial[path.symbol]
            threshold, bonus = params.liquidation_threshold_bps / 1e4, params.liquidation_bonus_bps / 1e4
            limit = price * threshold / debt_index
            held, owed = tokens[path.symbol], debts[path.symbol]
            for i in range(len(held)):
                if held[i] <= 0 or owed[i] / held[i] < limit:
                    continue
                debt = owed[i] * debt_index
                if debt <= 0:
                    continue
                collateral_value = held[i] * price
                health = collateral_value * threshold / debt
                repay = debt * (1.0 if health <= config.close_factor_hf_threshold else 0.5)
                seized_value = min(repay * bonus, collateral_value)
                if seized_value < repay * bonus:
                    repay = seized_value / bonus
                slippage = _slippage(seized_value, path.liquidity_depth_usd, config.depth_slippage)
                if slippage >= bonus - 1 and collateral_value > 0:
                    out["skipped"] += 1
                    continue
                out["liquidations"] += 1
                out["liquidated_debt_usd"] += repay
                out["protocol_revenue_usd"] += (seized_value - repay) * config.liquidation_protocol_fee
                held[i] -= seized_value / price
                remaining = debt - repay
                if held[i] <= 1e-12 and remaining > 0:
                    out["bad_debt_usd"] += remaining
                    remaining = 0.0
                    held[i] = 0.0
                owed[i] = remaining / debt_index
            borrowing_power += sum(held) * price * params.ltv_bps / 1e4
        total_debt = sum(sum(d) for d in debts.values()) * debt_index
        efficiency.append(total_debt / borrowing_power if borrowing_power > 0 else 0.0)
    out["mean_capital_efficiency"] = float(np.mean(efficiency))
    return out


def engine(assets: int = 10, positions: int = 10_000, naive_hours: int = 24 * 30) -> None:
    from backtests.baselines import v3_params
    from backtests.simulator import SimulationConfig, simulate

    year = synthetic_paths(assets, HOURS_PER_YEAR)
    initial = {p.symbol: v3_params("WETH") for p in year}
    config = SimulationConfig(positions_per_asset=positions, warmup_hours=0)
    month = [replace(p, timestamps_s=p.timestamps_s[:naive_hours], prices_usd=p.prices_usd[:naive_hours]) for p in year]
    runs = []
    for _ in range(ENGINE_RUNS):  # one run is ~0.06 s: on a loaded machine mostly scheduling noise
        started = time.perf_counter()
        fast = simulate(month, initial, None, config)
        runs.append(time.perf_counter() - started)
    engine_s = statistics.median(runs)
    started = time.perf_counter()
    slow = naive_static(month, initial, config)
    naive_s = time.perf_counter() - started
    same = (fast.liquidations == slow["liquidations"] and fast.skipped_unprofitable_liquidations == slow["skipped"]
            and np.isclose(fast.bad_debt_usd, slow["bad_debt_usd"], rtol=1e-9, atol=1e-6)
            and np.isclose(fast.liquidated_debt_usd, slow["liquidated_debt_usd"], rtol=1e-9)
            and np.isclose(fast.mean_capital_efficiency, slow["mean_capital_efficiency"], rtol=1e-9))
    print(f"engine vs naive loop, {assets} assets x {positions:,} positions x {naive_hours} h: "
          f"engine {engine_s:.3f} s (median of {ENGINE_RUNS} runs; first {runs[0]:.3f} s = {naive_s / runs[0]:.0f}x, "
          f"fastest {min(runs):.3f} s), naive {naive_s:.1f} s (one run): {naive_s / engine_s:.0f}x "
          f"({fast.liquidations:,} liquidations, bad debt ${fast.bad_debt_usd:,.0f}; same results: {same}) [{_load()}]")
    started = time.perf_counter()
    result = simulate(year, initial, None, config)
    print(f"engine alone, 1 y hourly x {assets} assets x {positions:,} positions (static): "
          f"{time.perf_counter() - started:.2f} s, {result.liquidations:,} liquidations [{_load()}]")


# ------------------------------------------------------------------ the agent


@contextlib.contextmanager
def _maybe_daily_fits(enabled: bool):
    if not enabled:
        yield
        return
    from daily_fits import daily_fits_wired
    from strategies.volatility import DAILY_FITS

    DAILY_FITS.clear()
    with daily_fits_wired():
        yield


def _scaled(seconds: float, days: int, decisions: int) -> str:
    """A shorter run extrapolated to a year by its number of decisions (a year: 366)."""
    if days >= 365:
        return f"{seconds:.1f} s"
    return f"{seconds:.1f} s for {days} days = {seconds * 366 / max(decisions, 1):.0f} s per year"


def agent_one_asset(days: int, daily_fits: bool) -> None:
    from backtests.run import BacktestSpec, run_backtest

    import pandas as pd

    start = pd.Timestamp("2020-06-01")
    spec = BacktestSpec(("ETH",), str(start.date()), str((start + pd.Timedelta(days=days)).date()), strategy="agent")
    with _maybe_daily_fits(daily_fits):
        started = time.perf_counter()
        result = run_backtest(spec)
        elapsed = time.perf_counter() - started
    print(f"agent, ETH (bundled), {days} days of daily decisions, 1,000 positions"
          f"{', day-anchored fits' if daily_fits else ''}: "
          f"{_scaled(elapsed, days, len(result.recommendations))} ({len(result.recommendations)} decisions, "
          f"{result.updates} updates) [{_load()}]")


def agent_ten_assets(days: int, daily_fits: bool, assets: int = 10, positions: int = 10_000) -> None:
    from backtests.baselines import v3_params
    from backtests.simulator import SimulationConfig, simulate
    from strategies.config import default_config
    from strategies.strategy import RiskStrategy

    config = default_config()
    history = config.window.history_hours
    paths = synthetic_paths(assets, history + 24 * days + 1, seed=100)
    initial = {p.symbol: v3_params("WETH") for p in paths}
    simulation = SimulationConfig(positions_per_asset=positions, warmup_hours=0, start_hour=history)
    with _maybe_daily_fits(daily_fits):
        started = time.perf_counter()
        result = simulate(paths, initial, RiskStrategy(config=config), simulation)
        elapsed = time.perf_counter() - started
    print(f"agent, {assets} synthetic assets x {positions:,} positions, {days} days of daily decisions"
          f"{', day-anchored fits' if daily_fits else ''}: {_scaled(elapsed, days, len(result.recommendations))} "
          f"({len(result.recommendations)} decisions, {result.updates} updates) [{_load()}]")


# ------------------------------------------------------------------ sweeps


def sweep(sizes: tuple[int, ...] = (2, 4, 8, 16)) -> None:
    from backtests.run import BacktestSpec
    from backtests.sweep import grid, run_sweep

    base = BacktestSpec(("ETH",), "", "", positions_per_asset=1_000)
    months = [("2020-03-01", "2020-03-31"), ("2020-05-01", "2020-05-31"), ("2020-09-01", "2020-09-30"),
              ("2021-01-01", "2021-01-31")]
    for size in sizes:
        seeds = list(range(1, max(size // len(months), 1) + 1))
        specs = grid(base, ["agent"], months[: min(size, len(months))], seeds)
        seconds, work = {}, {}
        for workers in (1, 2):
            started = time.perf_counter()
            table = run_sweep(specs, workers=workers)
            seconds[workers] = time.perf_counter() - started
            work[workers] = float(table["seconds"].sum())  # time inside the backtests themselves
        print(f"sweep of {len(specs)} one-month agent backtests (ETH, 1,000 positions): 1 worker {seconds[1]:.1f} s, "
              f"2 workers {seconds[2]:.1f} s: {seconds[1] / seconds[2]:.2f}x; backtest time summed over tasks "
              f"{work[1]:.1f} s / {work[2]:.1f} s, the rest (cluster start-up, imports, scheduling) "
              f"{seconds[1] - work[1]:.1f} s / {seconds[2] - work[2] / 2:.1f} s [{_load()}]")


def crashes() -> None:
    from backtests.report import metrics_table
    from backtests.run import BacktestSpec, run_backtest

    for start, end in (("2020-03-01", "2020-03-31"), ("2021-05-01", "2021-05-31")):
        spec = BacktestSpec(("ETH",), start, end)
        results = [run_backtest(replace(spec, strategy=name))
                   for name in ("agent", "agent-no-delay", "static-v3", "static-v2")]
        print(f"\nETH {start} to {end}, 1,000 positions, depth $20M at 2% slippage")
        print(metrics_table(results).to_string(float_format=lambda v: f"{v:,.2f}"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parts", nargs="*", default=["engine", "agent-1", "agent-10", "sweep"],
                        choices=["engine", "agent-1", "agent-10", "sweep", "crashes"])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--daily-fits", action="store_true")
    parser.add_argument("--naive-hours", type=int, default=24 * 30)
    parser.add_argument("--sweep-sizes", default="2,4,8,16")
    args = parser.parse_args()
    import strategies

    print(f"source tree {Path(strategies.__file__).resolve().parent.parent}; {os.cpu_count()} cores; {_load()}")
    for part in args.parts:
        if part == "engine":
            engine(naive_hours=args.naive_hours)
        elif part == "agent-1":
            agent_one_asset(args.days, args.daily_fits)
        elif part == "agent-10":
            agent_ten_assets(args.days, args.daily_fits)
        elif part == "sweep":
            sweep(tuple(int(s) for s in args.sweep_sizes.split(",")))
        else:
            crashes()
    return 0


if __name__ == "__main__":
    sys.exit(main())
