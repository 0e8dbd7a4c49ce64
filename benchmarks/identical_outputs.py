"""Proof that a speed-up changed no output: records a corpus of outputs to a file, then
compares another source tree's outputs with it, case by case.

The corpus covers the model functions at full precision (float.hex of every volatility
forecast, RMSE, EWMA sigma and Monte Carlo estimate on seeded synthetic data) and the
decision path at the byte level (canonical recommendation JSON from `recommend` on seeded
synthetic markets with and without positions, several assets at once, and the bundled ETH/BTC
history at several dates; the decide benchmark's 20-asset market, with the day-anchored fit
cache empty and warm, at several hours and both windows), the canonical input encoding of
each of those markets (its keccak), plus short agent backtests (every decision's canonical
bytes).

    # the reference, e.g. main's tree unpacked in /tmp/main-src (name the data directory: the
    # default is found next to the source tree):
    RISK_AGENT_DATA_DIR=$PWD/../shared/data PYTHONPATH=/tmp/main-src \
        python benchmarks/identical_outputs.py record /tmp/before.jsonl
    python benchmarks/identical_outputs.py compare /tmp/before.jsonl

`--quick` runs a third of the synthetic cases (for a check while working)."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

CASES_PER_KIND = 24


def _hex(value: float) -> str:
    return float(value).hex()


def _synthetic_returns(seed: int) -> np.ndarray:
    """Hourly log returns of varied length and regime (GARCH clusters, jumps, calm, short)."""
    from backtests.data import synthetic_garch, synthetic_gbm_with_jumps

    rng = np.random.default_rng(10_000 + seed)
    days = int(rng.choice([20, 60, 74, 75, 76, 90, 120, 121, 150, 200, 365]))
    hours = days * 24 + int(rng.integers(0, 24))
    if seed % 3 == 0:
        series = synthetic_gbm_with_jumps(hours + 1, seed=seed, annual_volatility=float(rng.uniform(0.2, 1.5)))
    else:
        alpha = float(rng.uniform(0.02, 0.15))
        series = synthetic_garch(hours + 1, seed=seed, omega=float(rng.uniform(5e-8, 5e-7)), alpha=alpha,
                                 beta=float(rng.uniform(0.6, 0.97 - alpha)))
    return np.diff(np.log(series.prices_usd.to_numpy()))


def volatility_cases(count: int) -> Iterator[tuple[str, str]]:
    from strategies.config import default_config
    from strategies.volatility import ewma_sigma_series, select_and_forecast

    vol = default_config().volatility
    for seed in range(count):
        returns = _synthetic_returns(seed)
        forecast = select_and_forecast(returns, vol)
        yield (f"select_and_forecast/{seed}", json.dumps(
            [_hex(forecast.hourly_sigma), forecast.model,
             {k: _hex(v) for k, v in sorted(forecast.oos_errors.items())}]))
        sigma = ewma_sigma_series(returns, vol.ewma_decay_per_hour, vol.ewma_warmup_hours, vol.winsorize_robust_sigmas)
        yield f"ewma_sigma_series/{seed}", hashlib.sha256(sigma.tobytes()).hexdigest()


def montecarlo_cases(count: int) -> Iterator[tuple[str, str]]:
    from strategies.montecarlo import bad_debt, simulate_paths, synthetic_population

    for seed in range(count):
        rng = np.random.default_rng(20_000 + seed)
        sigma = float(rng.uniform(0.002, 0.03))
        horizon = int(rng.integers(1, 97))
        paths = simulate_paths(sigma, horizon, int(rng.choice([50, 500, 2_000])), seed)
        yield f"simulate_paths/{seed}", hashlib.sha256(paths.tobytes()).hexdigest()
        threshold = float(rng.uniform(0.6, 0.93))
        count_positions = int(rng.choice([0, 1, 7, 400, 1_500]))
        collateral, debt = synthetic_population(float(rng.uniform(1e5, 1e9)), threshold, count_positions, seed)
        if seed % 4 == 1 and count_positions:  # some positions already under HF 1, some with zero debt
            debt[::5] *= 1.3
            debt[::7] = 0.0
        for lt, lb, delay in ((threshold, 1.05, 1), (threshold - 0.05, 1.10, 0), (threshold, 1.15, 3)):
            estimate = bad_debt(paths, collateral, debt, lt, lb, delay)
            yield (f"bad_debt/{seed}/{lt:.4f}/{lb}/{delay}",
                   json.dumps([_hex(estimate.mean_usd), _hex(estimate.var95_usd), _hex(estimate.liquidated_mean_usd)]))


def _positions_book(symbols: list[str], prices: dict[str, float], seed: int, count: int):
    from strategies.inputs import PositionBook

    rng = np.random.default_rng(30_000 + seed)
    accounts = tuple(f"acct{i}" for i in range(count))
    collateral = {}
    value = np.zeros(count)
    for symbol in symbols:
        held = rng.random(count) < 0.7
        tokens = np.where(held, rng.pareto(1.4, count) * 1e5 / prices[symbol], 0.0)
        collateral[symbol] = tokens
        value += tokens * prices[symbol]
    debt = value * rng.uniform(0.3, 0.95, count)
    return PositionBook(f"test:{seed}", accounts, collateral, debt)


def _recommendation_bytes(inputs) -> bytes:
    from strategies.config import default_config
    from strategies.decision import recommend

    return recommend(inputs, default_config()).to_canonical_json()


def decision_cases(count: int) -> Iterator[tuple[str, bytes]]:
    from dataclasses import replace

    from backtests.data import PriceSeries, load_bundled, synthetic_garch, synthetic_gbm_with_jumps
    from backtests.history import decision_inputs
    from strategies.bounds import Bounds
    from strategies.params import AAVE_V3_OCT_2023

    weth = AAVE_V3_OCT_2023["WETH"]
    for seed in range(count):
        rng = np.random.default_rng(40_000 + seed)
        symbols = ["ETH", "BTC", "LINK"][: 1 + seed % 3]
        series = []
        for i, symbol in enumerate(symbols):
            hours = int(rng.integers(20, 200)) * 24 if seed % 5 else 4_000
            if (seed + i) % 2:
                s = synthetic_garch(hours, seed=seed * 7 + i, alpha=float(rng.uniform(0.03, 0.12)), beta=0.85)
            else:
                s = synthetic_gbm_with_jumps(hours, seed=seed * 7 + i, annual_volatility=float(rng.uniform(0.3, 1.4)))
            series.append(PriceSeries(symbol, s.prices_usd, s.source, 0, ()))
        as_of = min(s.prices_usd.index[-1] for s in series) - pd.Timedelta(seconds=int(rng.integers(0, 3_000)))
        prices = {s.symbol: float(s.prices_usd.loc[:as_of].iloc[-1]) for s in series}
        positions = _positions_book(symbols, prices, seed, int(rng.choice([1, 50, 500, 2_000]))) if seed % 2 else None
        params = {s: weth.with_changes({}) for s in symbols}
        inputs = decision_inputs(series, as_of, params=params, supplied_tokens=float(rng.uniform(1e3, 1e6)),
                                 borrowed_tokens=float(rng.uniform(0, 1e3)),
                                 liquidity_depth_usd=float(rng.choice([1e5, 5e6, 5e7])), positions=positions,
                                 bounds={s: Bounds() for s in symbols})
        yield f"inputs/synthetic/{seed}", inputs.inputs_hash.hex()
        yield f"recommend/synthetic/{seed}", _recommendation_bytes(inputs)
        if seed == 0:
            yield "recommend/synthetic/0/twice", _recommendation_bytes(replace(inputs))

    try:
        eth, btc = load_bundled("ETH"), load_bundled("BTC")
    except Exception as error:  # noqa: BLE001 - the data set is optional for this script
        print(f"bundled data not available ({error}); skipping ETH/BTC cases", file=sys.stderr)
        return
    for as_of in ("2019-06-01", "2020-03-11", "2020-03-13 07:00", "2021-01-05 13:30:10", "2021-05-10",
                  "2021-05-19 12:00"):
        stamp = pd.Timestamp(as_of, tz="UTC")
        inputs = decision_inputs([eth], stamp, params={"ETH": weth}, supplied_tokens=5e5, borrowed_tokens=2e5)
        yield f"recommend/ETH/{as_of}", _recommendation_bytes(inputs)
        both_prices = {symbol: float(series.prices_usd.loc[:stamp].iloc[-1])
                       for symbol, series in (("ETH", eth), ("BTC", btc))}
        both = decision_inputs([eth, btc], stamp, params={"ETH": weth, "BTC": AAVE_V3_OCT_2023["WBTC"]},
                               supplied_tokens=1e4, borrowed_tokens=1e3,
                               positions=_positions_book(["ETH", "BTC"], both_prices, 99, 800))
        yield f"inputs/ETH+BTC/{as_of}", both.inputs_hash.hex()
        yield f"recommend/ETH+BTC/{as_of}", _recommendation_bytes(both)


def bench_market_cases(quick: bool) -> Iterator[tuple[str, bytes | str]]:
    """The decide benchmark's market (benchmarks/decide_bench.py: 20 assets x 1 year, 4,000
    accounts) and a small one, at several hours; the first decision with an empty fit cache
    (a fresh process), the others warm, and the 1-year window too."""
    from dataclasses import replace

    from decide_bench import AS_OF_S, HOUR_S, Market
    from strategies.config import default_config
    from strategies.decision import recommend
    from strategies.volatility import DAILY_FITS

    measured = default_config()
    year = replace(measured, window=replace(measured.window, history_hours=8_760))
    markets = [("20x8760", Market(), (0, 5) if quick else (0, 5, -13, 30))]
    if not quick:
        markets.append(("5x3000", Market(asset_count=5, hours=3_000, accounts=300, seed=3), (0, 17)))
    for label, market, offsets in markets:
        DAILY_FITS.clear()
        for k in offsets:
            inputs = market.inputs_at(AS_OF_S + k * HOUR_S)
            digest = inputs.inputs_hash
            yield f"inputs/bench/{label}/{k}", digest.hex()
            yield f"recommend/bench/{label}/{k}", recommend(inputs, measured, digest).to_canonical_json()
            if k == 0:
                yield f"recommend/bench/{label}/{k}/warm", recommend(inputs, measured, digest).to_canonical_json()
                yield f"recommend/bench/{label}/{k}/year", recommend(inputs, year, digest).to_canonical_json()


def backtest_cases() -> Iterator[tuple[str, bytes]]:
    from backtests.baselines import v3_params
    from backtests.data import synthetic_garch
    from backtests.simulator import MarketPath, SimulationConfig, simulate
    from strategies.config import default_config
    from strategies.strategy import RiskStrategy

    config = default_config()
    hours = config.window.history_hours + 24 * 12
    paths = []
    for i, symbol in enumerate(("ETH", "BTC")):
        series = synthetic_garch(hours, seed=500 + i, alpha=0.1, beta=0.85).prices_usd
        paths.append(MarketPath(symbol, np.array([int(t.timestamp()) for t in series.index]), series.to_numpy(), 10e6))
    initial = {p.symbol: v3_params(p.symbol) for p in paths}
    simulation = SimulationConfig(positions_per_asset=2_000, warmup_hours=0, start_hour=config.window.history_hours)
    result = simulate(paths, initial, RiskStrategy(config=config), simulation)
    for when, canonical in sorted(result.recommendations.items()):
        yield f"backtest/synthetic/{when}", canonical
    yield "backtest/synthetic/metrics", json.dumps({k: _hex(v) for k, v in sorted(result.metrics().items())}).encode()
    try:
        from backtests.run import BacktestSpec, run_backtest

        bundled = run_backtest(BacktestSpec(("ETH", "BTC"), "2020-03-01", "2020-03-21", positions_per_asset=2_000))
    except Exception as error:  # noqa: BLE001 - the data set is optional for this script
        print(f"bundled data not available ({error}); skipping the ETH/BTC backtest", file=sys.stderr)
        return
    for when, canonical in sorted(bundled.recommendations.items()):
        yield f"backtest/ETH+BTC/{when}", canonical


def all_cases(quick: bool, count: int = CASES_PER_KIND) -> Iterator[tuple[str, bytes | str]]:
    count = count // 3 if quick else count
    yield from volatility_cases(count)
    yield from montecarlo_cases(count)
    yield from decision_cases(count)
    yield from bench_market_cases(quick)
    if not quick:
        yield from backtest_cases()


def _entries(quick: bool, echo: Callable[[str], None], count: int = CASES_PER_KIND) -> Iterator[dict]:
    for name, output in all_cases(quick, count):
        data = output if isinstance(output, bytes) else output.encode()
        echo(name)
        yield {"case": name, "sha256": hashlib.sha256(data).hexdigest(), "output": data.decode()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("record", "compare"))
    parser.add_argument("file", type=Path)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--cases", type=int, default=CASES_PER_KIND, help="seeded cases per kind")
    args = parser.parse_args()
    import strategies

    print(f"source tree: {Path(strategies.__file__).resolve().parent.parent}", file=sys.stderr)
    started = time.perf_counter()
    if args.mode == "record":
        with args.file.open("w") as out:
            for entry in _entries(args.quick, lambda name: print(name, file=sys.stderr), args.cases):
                out.write(json.dumps(entry) + "\n")
        print(f"recorded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        return 0
    reference = {e["case"]: e for e in map(json.loads, args.file.read_text().splitlines())}
    compared, differing, unmatched = 0, [], []
    for entry in _entries(args.quick, lambda name: None, args.cases):
        expected = reference.pop(entry["case"], None)
        if expected is None:
            unmatched.append(entry["case"])
            continue
        compared += 1
        if expected["sha256"] != entry["sha256"]:
            differing.append(entry["case"])
            print(f"DIFFERS {entry['case']}\n  before {expected['output'][:400]}\n  after  {entry['output'][:400]}")
    for name in unmatched + sorted(reference):
        print(f"ONLY {'AFTER' if name in unmatched else 'BEFORE'} {name}")
    print(f"{compared} cases compared, {len(differing)} differ, {len(unmatched) + len(reference)} not in both "
          f"({time.perf_counter() - started:.0f} s)")
    return 1 if differing or unmatched or reference or compared == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
