"""Strategy figures for the notes: the calibration table (benchmarks/calibration_report.py),
what the model proposed for ETH in the two weeks before the 2020-03-12 and 2021-05-19 crashes (data before each date only), and
propose() timing for 1 and 20 assets with one year of hourly history; Monte Carlo paths/s.

Run by hand: `python benchmarks/strategy_report.py`."""

from __future__ import annotations

import statistics
import time
from dataclasses import replace

import pandas as pd

from backtests.data import load_bundled
from backtests.history import market_history
from calibration_report import calibration_table  # a sibling script
from strategies.bounds import Bounds
from strategies.montecarlo import bad_debt, simulate_paths, synthetic_population
from strategies.strategy import RiskStrategy
from strategies.types import RiskParams

WETH = RiskParams(8_050, 8_300, 10_500, 1_800_000, 1_400_000, 1_500, 8_000, 0, 280, 8_000)


def crash_windows() -> None:
    eth = load_bundled("ETH")
    strategy = RiskStrategy()
    for crash in ("2020-03-12", "2021-05-19"):
        print(f"\nETH, two weeks before {crash} (current = Aave v3 Oct 2023 WETH: LTV 8050, LT 8300, LB 10500)")
        print("| as of | vol/h | ES drop | LT target | LTV target | LB target | proposed step |")
        print("|---|---|---|---|---|---|---|")
        end = pd.Timestamp(crash, tz="UTC")
        for day in range(14, -1, -2):
            as_of = end - pd.Timedelta(days=day)
            asset = strategy.propose(market_history([eth], as_of, supplied_tokens=5e5, borrowed_tokens=2e5), {"ETH": WETH}).asset("ETH")
            step = ", ".join(f"{c.param.name} {c.current}->{c.proposed}" for c in asset.changes if c.param <= 2) or asset.reason
            m = asset.metrics
            print(f"| {as_of:%Y-%m-%d} | {m.get('hourly_volatility', 0):.4f} | {m.get('expected_shortfall_drop', 0):.3f} | "
                  f"{asset.targets.get('LIQUIDATION_THRESHOLD')} | {asset.targets.get('LTV')} | {asset.targets.get('LIQUIDATION_BONUS')} | {step} |")


def timing() -> None:
    eth = load_bundled("ETH")
    history = market_history([eth], pd.Timestamp("2021-05-10", tz="UTC"), window_hours=24 * 365, supplied_tokens=5e5, borrowed_tokens=2e5)
    strategy = RiskStrategy()
    for count in (1, 20):
        assets = tuple(replace(history.assets[0], symbol=f"ETH{i}") for i in range(count))
        many = replace(history, assets=assets)
        current = {a.symbol: WETH for a in assets}
        times = []
        for _ in range(3 if count == 20 else 7):
            start = time.perf_counter()
            strategy.propose(many, current, {a.symbol: Bounds() for a in assets})
            times.append(time.perf_counter() - start)
        print(f"propose(), {count:>2} asset(s), 1 y hourly: median {statistics.median(times):.2f} s")
    collateral, debt = synthetic_population(1e8, 0.83, 1_000, 1)
    start = time.perf_counter()
    paths = simulate_paths(0.01, 24, 10_000, 1)
    bad_debt(paths, collateral, debt, 0.83, 1.05)
    elapsed = time.perf_counter() - start
    print(f"Monte Carlo: 10,000 paths x 24 h x 1,000 positions in {elapsed:.2f} s = {10_000 / elapsed:,.0f} paths/s")


if __name__ == "__main__":
    for line in calibration_table():
        print(line)
    crash_windows()
    timing()
