"""The day-anchored model selection (`strategies.volatility.select_and_forecast_daily`, fits
cached per UTC day) is a proposal: it changes outputs, so the strategy does not call it. This
module wires it in for a measurement (`daily_fits_wired()`, used by the decide and backtest
benchmarks) and shows what it changes on the bundled ETH/BTC history against the current
selection (`python benchmarks/daily_fits.py`): model chosen, hourly sigma, and the
recommendation's targets and changes, decision by decision.

The call-site change it stands for, in `RiskStrategy._propose_asset`:
    forecast = select_and_forecast_daily(asset.prices_usd, history.as_of_s, config.volatility)
instead of `select_and_forecast(returns, config.volatility)`."""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator

import numpy as np
import pandas as pd

_current = threading.local()


@contextlib.contextmanager
def daily_fits_wired(seconds: list[float] | None = None) -> Iterator[None]:
    """Inside: the strategy's volatility forecast is the day-anchored one (each call's
    duration appended to `seconds` when given)."""
    import strategies.strategy as strategy_module
    from strategies.volatility import select_and_forecast_daily

    original_propose, original_select = strategy_module.RiskStrategy._propose_asset, strategy_module.select_and_forecast

    def propose_asset(self, asset, history, params, bounds):
        _current.grid = (asset.prices_usd, history.as_of_s)
        try:
            return original_propose(self, asset, history, params, bounds)
        finally:
            _current.grid = None

    def select(returns, config=None):
        prices_usd, as_of_s = _current.grid
        started = time.perf_counter()
        forecast = select_and_forecast_daily(prices_usd, as_of_s, config)
        if seconds is not None:
            seconds.append(time.perf_counter() - started)
        return forecast

    strategy_module.RiskStrategy._propose_asset = propose_asset
    strategy_module.select_and_forecast = select
    try:
        yield
    finally:
        strategy_module.RiskStrategy._propose_asset = original_propose
        strategy_module.select_and_forecast = original_select


def _relative(a: float, b: float) -> float:
    return abs(a - b) / abs(b) if b else float(a != b)


def compare(symbols: tuple[str, ...], start: str, end: str, step_days: int, hour: int) -> None:
    """Day-anchored vs current selection at each decision time t; and, for scale, the current
    selection against itself an hour later (t + 1 h): how much it moves on its own."""
    from backtests.data import load_bundled
    from backtests.history import decision_inputs, default_params
    from strategies.config import default_config
    from strategies.decision import recommend

    config = default_config()
    pairs = {"daily(t) vs current(t)": [], "current(t+1h) vs current(t)": []}
    target_changes, change_sets = Counter(), Counter()
    started = time.perf_counter()
    for symbol in symbols:
        series = load_bundled(symbol)
        for as_of in pd.date_range(start, end, freq=f"{step_days}D", tz="UTC") + pd.Timedelta(hours=hour):
            def asset_at(when, daily=False):
                inputs = decision_inputs([series], when, config=config, params={symbol: default_params(symbol)},
                                         supplied_tokens=5e5, borrowed_tokens=2e5)
                if not daily:
                    return recommend(inputs, config).asset(symbol)
                with daily_fits_wired():
                    return recommend(inputs, config).asset(symbol)

            current, later, daily = asset_at(as_of), asset_at(as_of + pd.Timedelta(hours=1)), asset_at(as_of, True)
            if not all("volatility_model" in a.metrics for a in (current, later, daily)):
                continue  # held by the guard: no forecast
            for label, other in (("daily(t) vs current(t)", daily), ("current(t+1h) vs current(t)", later)):
                mine, theirs = other.metrics, current.metrics
                pairs[label].append((mine["volatility_model"] == theirs["volatility_model"],
                                     _relative(mine["hourly_volatility"], theirs["hourly_volatility"]),
                                     abs(other.targets["LIQUIDATION_THRESHOLD"]
                                         - current.targets["LIQUIDATION_THRESHOLD"])))
            for name in sorted(set(current.targets) | set(daily.targets)):
                if current.targets.get(name) != daily.targets.get(name):
                    target_changes[name] += 1
            change_sets["same changes" if current.changes == daily.changes else "other changes"] += 1
    rows = len(pairs["daily(t) vs current(t)"])
    print(f"{rows} decisions ({', '.join(symbols)}, {start} to {end}, every {step_days} days at {hour:02d}:00 UTC) "
          f"in {time.perf_counter() - started:.0f} s")
    for label, values in pairs.items():
        same = np.array([v[0] for v in values])
        sigma = np.array([v[1] for v in values])
        threshold = np.array([v[2] for v in values])
        print(f"{label:<28} same model {same.mean():.0%}; hourly sigma moves median {np.median(sigma):.1%}, "
              f"p90 {np.percentile(sigma, 90):.1%}; LT target moves median {np.median(threshold):.0f} bps, "
              f"p90 {np.percentile(threshold, 90):.0f} bps")
    print("targets that differ, daily vs current (decisions):", dict(sorted(target_changes.items())) or "none")
    print("changes proposed, daily vs current:", dict(change_sets))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", default="ETH,BTC")
    parser.add_argument("--start", default="2018-03-01")
    parser.add_argument("--end", default="2021-06-01")
    parser.add_argument("--step-days", type=int, default=5)
    parser.add_argument("--hour", type=int, default=0, help="UTC hour of the decisions")
    args = parser.parse_args()
    compare(tuple(args.symbols.split(",")), args.start, args.end, args.step_days, args.hour)
    return 0


if __name__ == "__main__":
    sys.exit(main())
