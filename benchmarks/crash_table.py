"""The crash-window table of issue 13: on each bundled crash, the LT in force at the first
hour of the crash (00:00 UTC of the crash day) for the agent against static Aave and against
the agent's own LT 14 days before; bad debt and borrowers' liquidation losses (bonus paid),
agent against static, over the crash window (crash day to the end, 7 days later) and over
the whole run (from 60 days before: the agent starts from Aave's parameters and needs weeks
to reach its through-the-cycle level).

The engine runs with the fitted market dynamics (backtests.market_dynamics / realism: churn,
re-leverage 2%/h, liquidators needing profit after $50 of gas and the hour's slippage), depth
from the bundled DEX reserves where they cover the dates (else the engine's default depth,
carried after 2022-01-25), the default population (1,000 positions, $100M per asset). UST's
engine prices are the 5-hour trailing median (its series has lone bad prints; the strategy
sees the raw prints, as it would an oracle's).

The simulated market is random (the population, arrivals, departures): the same policy's bad
debt moves by a factor of two between seeds, more than agent and static differ by. Each window
therefore runs on 12 seeds (agent and static share each), and the table gives seed 1 (the
single run of earlier tables), the means and how many seeds meet every criterion.

Run: `python benchmarks/crash_table.py [--seeds 12] [--fresh] [UST ...]` (tens of minutes for
every window; results cached under var/crash/)."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from backtests.data import DATA_DIR
from backtests.market_dynamics import dex_depth_hourly, dex_depth_series, fit_dynamics
from backtests.realism import book_hhi, dynamics_from
from backtests.report import plot_parameter_path, write_parameter_path
from backtests.run import BacktestSpec, load_paths
from backtests.simulator import SimulationConfig, simulate
from strategies.config import load_config
from strategies.params import AAVE_V3_OCT_2023
from strategies.peg import peg_deviation
from strategies.strategy import RiskStrategy

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "crash"
RELEVER_SPEED = 0.02  # backtests/realism.py's fit
DEPTH_FALLBACK = {"UST": 50e6, "stETH": 20e6}
PEG_FILTERED = frozenset({"UST"})


@dataclass(frozen=True)
class CrashWindow:
    name: str
    assets: tuple[str, ...]
    focus: str
    crash_day: str
    baseline: dict[str, str]  # asset -> the Aave v3 Oct-2023 reserve whose parameters are its static baseline


WINDOWS = (
    CrashWindow("ETH 2020-03-12", ("ETH",), "ETH", "2020-03-12", {"ETH": "WETH"}),
    CrashWindow("ETH 2021-05-19", ("ETH",), "ETH", "2021-05-19", {"ETH": "WETH"}),
    CrashWindow("UST 2022-05-09", ("UST",), "UST", "2022-05-09", {"UST": "USDC"}),
    CrashWindow("stETH 2022-06-13", ("stETH", "WETH"), "stETH", "2022-06-13", {"stETH": "WETH", "WETH": "WETH"}),
    CrashWindow("WETH 2022-11-09", ("WETH",), "WETH", "2022-11-09", {"WETH": "WETH"}),
)


def _lt_at(path: list, asset: str, time_s: int) -> int:
    values = [v for t, a, p, v in path if a == asset and p == "LIQUIDATION_THRESHOLD" and t <= time_s]
    return values[-1]


def _window_sum(result, key: str, from_s: int) -> float:
    times = result.series["timestamps_s"]
    series = result.series[key]
    before = series[times < from_s]
    return float(series[-1] - (before[-1] if len(before) else 0.0))


def run_window(window: CrashWindow, fresh: bool = False, seeds: tuple[int, ...] = (1,)) -> dict:
    cache = OUT / f"{window.name.replace(' ', '_')}.json"
    if cache.exists() and not fresh:
        cached = json.loads(cache.read_text())
        if [run["seed"] for run in cached.get("seeds", [])] == list(seeds):
            return cached
    crash = pd.Timestamp(window.crash_day, tz="UTC")
    spec = BacktestSpec(window.assets, str((crash - pd.Timedelta(days=60)).date()), str((crash + pd.Timedelta(days=7)).date()))
    paths, start_hour = load_paths(spec)
    with_depth, depth_notes = [], {}
    for path in paths:
        fallback = DEPTH_FALLBACK.get(path.symbol, path.liquidity_depth_usd)
        try:
            depth, before = dex_depth_hourly(path.timestamps_s, dex_depth_series(path.symbol, DATA_DIR), fallback)
            last_dex = int(dex_depth_series(path.symbol, DATA_DIR).index[-1].timestamp())
            depth_notes[path.symbol] = (f"DEX reserves ({before} h before their start at the ${fallback / 1e6:.0f}M default"
                                        + (", carried after 2022-01-25" if path.timestamps_s[-1] > last_dex else "") + ")")
        except ValueError:
            depth, depth_notes[path.symbol] = np.full(len(path.timestamps_s), fallback), f"constant ${fallback / 1e6:.0f}M"
        prices = path.prices_usd
        if path.symbol in PEG_FILTERED:
            # The CoinGecko UST series has lone bad prints (0.094 on 2022-03-25 for one hour);
            # an oracle would not liquidate at them: the engine takes a trailing
            # median of five hours (the bad print is carried for two; real moves show 2 h later).
            prices = 1 + peg_deviation(prices, 1.0, 5)
        with_depth.append(replace(path, liquidity_depth_usd=fallback, depth_usd=depth, prices_usd=prices))
    fit = fit_dynamics(DATA_DIR, book_hhi())
    initial = {symbol: AAVE_V3_OCT_2023[base] for symbol, base in window.baseline.items()}
    config = load_config()
    crash_s = int(crash.timestamp())
    focus = window.focus
    row = {"window": window.name, "focus": focus, "depth": depth_notes, "lt_static": initial[focus].liquidation_threshold_bps,
           "seeds": []}
    for seed in seeds:
        # Seed 1 with the dynamics' default seed 7 is the single run of earlier tables.
        dynamics = replace(dynamics_from(fit, RELEVER_SPEED), seed=seed + 6)
        simulation = SimulationConfig(warmup_hours=0, start_hour=start_hour, seed=seed, dynamics=dynamics)
        agent = simulate(with_depth, initial, RiskStrategy(config=config), simulation, name="agent", strategy_config=config)
        static = simulate(with_depth, initial, None, simulation, name="static-v3")
        run = {"seed": seed, "lt_agent_at_crash": _lt_at(agent.parameter_path, focus, crash_s),
               "lt_agent_14d_before": _lt_at(agent.parameter_path, focus, crash_s - 14 * 86_400)}
        for label, result in (("agent", agent), ("static", static)):
            run[f"bad_debt_crash_{label}"] = _window_sum(result, "bad_debt_usd", crash_s)
            run[f"losses_crash_{label}"] = _window_sum(result, "borrower_bonus_losses_usd", crash_s)
            run[f"bad_debt_run_{label}"] = float(result.bad_debt_usd)
            run[f"losses_run_{label}"] = float(result.borrower_bonus_losses_usd)
            run[f"liquidations_{label}"] = result.liquidations
            run[f"unprofitable_{label}"] = result.skipped_unprofitable_liquidations
            run[f"capital_efficiency_{label}"] = result.mean_capital_efficiency
        row["seeds"].append(run)
        if seed == seeds[0]:
            row.update(run)
            row["ltv_agent_at_crash"] = [v for t, a, p, v in agent.parameter_path
                                         if a == focus and p == "LTV" and t <= crash_s][-1]
            row["lb_agent_at_crash"] = [v for t, a, p, v in agent.parameter_path
                                        if a == focus and p == "LIQUIDATION_BONUS" and t <= crash_s][-1]
            first_agent = agent
    for key in ("bad_debt_crash_agent", "bad_debt_crash_static", "losses_crash_agent", "losses_crash_static"):
        row[f"mean_{key}"] = float(np.mean([run[key] for run in row["seeds"]]))
    row["seeds_agent_no_worse"] = sum(
        run["lt_agent_at_crash"] <= min(row["lt_static"], run["lt_agent_14d_before"])
        and run["bad_debt_crash_agent"] <= run["bad_debt_crash_static"] and run["losses_crash_agent"] <= run["losses_crash_static"]
        for run in row["seeds"])
    agent = first_agent
    OUT.mkdir(parents=True, exist_ok=True)
    write_parameter_path(agent, OUT / f"{window.name.replace(' ', '_')}_parameter_path.json")
    plot_parameter_path(agent, OUT / f"{window.name.replace(' ', '_')}_parameter_path.png", f"{window.name}: agent")
    cache.write_text(json.dumps(row, indent=1))
    return row


def table(rows: list[dict]) -> list[str]:
    seeds = len(rows[0]["seeds"])
    lines = [f"Seed 1 (the single run of earlier tables), then the mean over {seeds} seeds (population and market"
             " dynamics; agent and static share each seed):", "",
             "| window | LT at crash: agent / static / agent 14 d before | LTV, LB at crash (agent) | "
             "bad debt crash window: agent / static | borrower losses crash window: agent / static | "
             f"mean of {seeds} seeds: bad debt; losses (agent / static) | seeds the agent meets every criterion | "
             "whole run: bad debt agent / static; losses agent / static | liquidations (unprofitable waits) agent / static | "
             "borrowing power used (debt / LTV capacity) agent / static |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['window']} ({r['focus']}) | {r['lt_agent_at_crash']} / {r['lt_static']} / {r['lt_agent_14d_before']} | "
            f"{r['ltv_agent_at_crash']}, {r['lb_agent_at_crash']} | "
            f"${r['bad_debt_crash_agent'] / 1e6:.2f}M / ${r['bad_debt_crash_static'] / 1e6:.2f}M | "
            f"${r['losses_crash_agent'] / 1e6:.2f}M / ${r['losses_crash_static'] / 1e6:.2f}M | "
            f"${r['mean_bad_debt_crash_agent'] / 1e6:.2f}M / ${r['mean_bad_debt_crash_static'] / 1e6:.2f}M; "
            f"${r['mean_losses_crash_agent'] / 1e6:.3f}M / ${r['mean_losses_crash_static'] / 1e6:.3f}M | "
            f"{r['seeds_agent_no_worse']} of {len(r['seeds'])} | "
            f"${r['bad_debt_run_agent'] / 1e6:.2f}M / ${r['bad_debt_run_static'] / 1e6:.2f}M; "
            f"${r['losses_run_agent'] / 1e6:.2f}M / ${r['losses_run_static'] / 1e6:.2f}M | "
            f"{r['liquidations_agent']} ({r['unprofitable_agent']}) / {r['liquidations_static']} ({r['unprofitable_static']}) | "
            f"{r['capital_efficiency_agent']:.2f} / {r['capital_efficiency_static']:.2f} |")
    return lines


if __name__ == "__main__":
    fresh = "--fresh" in sys.argv
    count = int(sys.argv[sys.argv.index("--seeds") + 1]) if "--seeds" in sys.argv else 12
    only = [a for a in sys.argv[1:] if not a.startswith("--") and not a.isdigit()]
    rows = []
    for window in WINDOWS:
        if only and not any(window.name.startswith(name) for name in only):
            continue
        rows.append(run_window(window, fresh, tuple(range(1, count + 1))))
        print(f"done {window.name}", file=sys.stderr, flush=True)
    for line in table(rows):
        print(line)
    for r in rows:
        print(f"- {r['window']}: depth {r['depth']}")
