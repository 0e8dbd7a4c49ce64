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
def daily_fits_wired() -> Iterator[None]:
    """Inside: the strategy's volatility forecast is the day-anchored one."""
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
        return select_and_forecast_daily(prices_usd, as_of_s, config)

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
    from backtests.data import load_bundled
    from backtests.history import decision_inputs, default_params
    from strategies.config import default_config
    from strategies.decision import recommend

    config = default_config()
    models, sigma_changes, target_changes, change_sets, rows = Counter(), [], Counter(), Counter(), 0
    started = time.perf_counter()
    for symbol in symbols:
        series = load_bundled(symbol)
        for as_of in pd.date_range(start, end, freq=f"{step_days}D", tz="UTC") + pd.Timedelta(hours=hour):
            inputs = decision_inputs([series], as_of, config=config, params={symbol: default_params(symbol)},
                                     supplied_tokens=5e5, borrowed_tokens=2e5)
            current = recommend(inputs, config).asset(symbol)
            with daily_fits_wired():
                daily = recommend(inputs, config).asset(symbol)
            if "volatility_model" not in current.metrics:
                continue  # held by the guard: no forecast either way
            rows += 1
            models[(current.metrics["volatility_model"], daily.metrics["volatility_model"])] += 1
            sigma_changes.append(_relative(daily.metrics["hourly_volatility"], current.metrics["hourly_volatility"]))
            for name in sorted(set(current.targets) | set(daily.targets)):
                if current.targets.get(name) != daily.targets.get(name):
                    target_changes[name] += 1
            change_sets["same changes" if current.changes == daily.changes else "other changes"] += 1
    sigma = np.array(sigma_changes)
    print(f"{rows} decisions ({', '.join(symbols)}, {start} to {end}, every {step_days} days at {hour:02d}:00 UTC) "
          f"in {time.perf_counter() - started:.0f} s")
    print("model (current -> daily):", ", ".join(f"{a}->{b}: {n}" for (a, b), n in sorted(models.items())))
    print(f"hourly sigma, relative change: median {np.median(sigma):.2%}, p90 {np.percentile(sigma, 90):.2%}, "
          f"max {sigma.max():.2%}")
    print("targets that differ (decisions):", dict(sorted(target_changes.items())) or "none")
    print("signed changes:", dict(change_sets))


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
