"""Decision figures for the notes (issue 11, item 6): one decision for a whole market, 20
assets x 1 year of hourly history, on the one decision path (`strategies.decision.recommend`).

Measured, each as p50 / p90 over repeated runs in one process:
- `encode`: the canonical input encoding (deterministic CBOR) and its keccak, once per decision;
- `build`: the hourly builder (`build_history`);
- `decide`: `recommend` from inputs to recommendation, model fitting included;
- `decide, fits excluded`: the same with each asset's volatility forecast taken from a table
  filled by an earlier run (what is left when fitting costs nothing), for the rolling and
  the day-anchored selection alike (the measured config's is day-anchored: its repeated
  `decide` figure is already the warm cache's, fits looked up by the hash of their spans).
Two strategy configs: the measured one (a 120-day window: the 1 year of inputs is encoded and
hashed, the builder keeps 120 days) and the same with a 1-year window.

The inputs are synthetic and seeded (GARCH paths, hourly prints at odd seconds, utilization,
a DEX pair or a configured depth, 4,000 accounts holding ~2 of the assets each), so the figure can be taken
before and after a change on any tree: `PYTHONPATH=/tmp/main-src python
benchmarks/decide_bench.py`. Figures taken on a loaded machine are noisy; the load average is
printed with them.

With `--daily-fits`, also 24 hourly decisions around a UTC midnight with the day-anchored
selection wired in (a proposal that changes outputs: see benchmarks/daily_fits.py): the
first with an empty cache (a fresh process), the others as a long-running service sees them.

    python benchmarks/decide_bench.py [--assets 20] [--repeats 7] [--profile] [--daily-fits]"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

HOUR_S = 3_600
YEAR_HOURS = 8_760
AS_OF_S = 1_717_200_000 + 1_234  # an anchor time 20 min 34 s past an hour mark


def synthetic_prices(hours: int, seed: int, end_s: int) -> tuple[np.ndarray, np.ndarray]:
    """GARCH(1,1) hourly log returns with Student-t(4) shocks, printed once an hour at a
    seeded second past the mark (a feed's own cadence), the last print before `end_s`."""
    rng = np.random.default_rng(seed)
    alpha, beta = rng.uniform(0.03, 0.12), rng.uniform(0.80, 0.88)
    omega = rng.uniform(5e-8, 4e-7) * (1 - alpha - beta) / 0.02
    shocks = rng.standard_t(4, hours) / np.sqrt(2)
    returns = np.empty(hours)
    variance = omega / (1 - alpha - beta)
    for t in range(hours):
        returns[t] = np.sqrt(variance) * shocks[t]
        variance = omega + alpha * returns[t] ** 2 + beta * variance
    prices = rng.uniform(0.5, 5_000) * np.exp(np.cumsum(returns))
    last_mark = end_s - end_s % HOUR_S
    times = last_mark - HOUR_S * np.arange(hours - 1, -1, -1) + int(rng.integers(1, 600))
    return times.astype(np.int64), prices


class Market:
    """A seeded synthetic market whose inputs can be cut at any time up to `end_s`: `asset_count`
    assets with hourly prints and utilization, a DEX pair or a configured depth each, and
    `accounts` borrowers holding ~2 of the assets each."""

    def __init__(self, asset_count: int = 20, hours: int = YEAR_HOURS, accounts: int = 4_000, seed: int = 7,
                 extra_hours: int = 48) -> None:
        from strategies.params import AAVE_V3_OCT_2023

        rng = np.random.default_rng(seed)
        params = list(AAVE_V3_OCT_2023.values())
        self.hours = hours
        end_s = AS_OF_S + extra_hours * HOUR_S
        self.assets = []
        for i in range(asset_count):
            symbol = f"A{i:02d}"
            times, prices = synthetic_prices(hours + extra_hours, seed * 1_000 + i, end_s)
            utilization = np.clip(0.6 + np.cumsum(rng.normal(0, 0.01, len(times))), 0.05, 0.99)
            depth_usd = float(rng.choice([2e6, 2e7, 1e8]))
            self.assets.append({"symbol": symbol, "params": params[i % len(params)], "times": times, "prices": prices,
                                "utilization": utilization, "depth_usd": depth_usd, "pair": bool(i % 2),
                                "pair_skew": float(rng.normal(0, 0.002)), "supplied_usd": float(rng.uniform(1e5, 1e7)),
                                "borrowed_usd": float(rng.uniform(1e4, 5e6))})
        # Health factors 1.03-3.3 (borrowing power x 0.3-0.97), 1% of accounts already under 1.
        self.held = rng.random((accounts, asset_count)) < 2.0 / asset_count
        self.sizes_usd = (rng.pareto(1.3, (accounts, asset_count)) + 1) * 2e4
        self.usage = np.where(rng.random(accounts) < 0.01, rng.uniform(1.0, 1.1, accounts),
                              rng.uniform(0.3, 0.97, accounts))

    def inputs_at(self, as_of_s: int = AS_OF_S):
        """DecisionInputs with the last `hours` of prints at or before `as_of_s`."""
        from strategies.bounds import Bounds
        from strategies.inputs import Anchor, AssetInputs, DecisionInputs, Observations, PairReserves, PositionBook

        assets, collateral = [], {}
        borrowing_power = np.zeros(len(self.usage))
        for i, a in enumerate(self.assets):
            stop = int(np.searchsorted(a["times"], as_of_s, side="right"))
            cut = slice(max(stop - self.hours, 0), stop)
            times, prices = a["times"][cut], a["prices"][cut]
            last = float(prices[-1])
            if a["pair"]:
                reserve = a["depth_usd"] * 0.98 / 0.02 / last
                pair = PairReserves("pair:bench", reserve, reserve * last * (1 + a["pair_skew"]), "USDC")
            else:
                pair = PairReserves("config", fallback_depth_usd=a["depth_usd"])
            assets.append(AssetInputs(
                symbol=a["symbol"], address="0x" + f"{i + 1:040x}", decimals=18, params=a["params"],
                supplied_tokens=a["supplied_usd"] / last, borrowed_tokens=a["borrowed_usd"] / last,
                prices=(Observations(f"feed:{a['symbol']}", times, prices, tuple(range(cut.start + 1, stop + 1))),),
                pair=pair, bounds=Bounds(),
                utilization=Observations(f"reserve:{a['symbol']}", times, a["utilization"][cut]),
            ))
            tokens = np.where(self.held[:, i], self.sizes_usd[:, i] / last, 0.0)
            collateral[a["symbol"]] = tokens
            borrowing_power += tokens * last * a["params"].liquidation_threshold_bps / 1e4
        positions = PositionBook("bench", tuple(f"0x{i:040x}" for i in range(len(self.usage))), collateral,
                                 borrowing_power * self.usage)
        anchor = Anchor(20_000_000 + (as_of_s - AS_OF_S) // 12, bytes(range(32)), as_of_s)
        return DecisionInputs(chain_id=1, steward="0x" + "11" * 20, enclave_nonce=3, anchor=anchor,
                              assets=tuple(assets), positions=positions)


def market_inputs(asset_count: int = 20, hours: int = YEAR_HOURS, accounts: int = 4_000, seed: int = 7):
    """DecisionInputs for `asset_count` assets with `hours` of hourly prints each, at AS_OF_S."""
    return Market(asset_count, hours, accounts, seed).inputs_at(AS_OF_S)


def timed(function: Callable[[], object], repeats: int) -> list[float]:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return samples


def summary(label: str, samples: list[float]) -> str:
    ms = np.array(samples) * 1e3
    return (f"{label:<52} p50 {np.percentile(ms, 50):9.1f} ms   p90 {np.percentile(ms, 90):9.1f} ms   "
            f"(n={len(ms)}, load {os.getloadavg()[0]:.1f})")


class FrozenForecasts:
    """Stands in for `select_and_forecast`: answers from a table an earlier run filled, so a
    timed run does no model fitting (the figure 'excluding fitting')."""

    def __init__(self, real: Callable) -> None:
        self.real, self.table = real, {}

    def __call__(self, returns, config=None):
        key = (returns.tobytes(), config)
        if key not in self.table:
            self.table[key] = self.real(returns, config)
        return self.table[key]


class FrozenDailyForecasts(FrozenForecasts):
    """The same for `select_and_forecast_daily` (prices, as_of, config)."""

    def __call__(self, prices_usd, as_of_s, config=None):
        key = (prices_usd.tobytes(), as_of_s, config)
        if key not in self.table:
            self.table[key] = self.real(prices_usd, as_of_s, config)
        return self.table[key]


def profile_top(function: Callable[[], object], entries: int = 18) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    function()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(entries)
    return "\n".join(line for line in out.getvalue().splitlines() if line.strip())


def daily_fits_sequence(market: Market, config, label: str) -> None:
    """24 hourly decisions, 12 h before to 11 h after a UTC midnight, with the day-anchored
    selection wired in; the cache starts empty (a fresh process) at the first one."""
    from eth_utils import keccak

    from daily_fits import daily_fits_wired
    from strategies.decision import recommend
    from strategies.volatility import DAILY_FITS

    times = [AS_OF_S + (k - 12) * HOUR_S for k in range(24)]
    inputs = [market.inputs_at(t) for t in times]
    digests = [keccak(i.canonical_bytes()) for i in inputs]
    DAILY_FITS.clear()
    samples, selection = [], []
    for each, digest in zip(inputs, digests, strict=True):
        per_call: list[float] = []
        with daily_fits_wired(per_call):
            started = time.perf_counter()
            recommend(each, config, digest)
            samples.append(time.perf_counter() - started)
        selection.append(sum(per_call))
    crossing = next(i for i, t in enumerate(times) if t % 86_400 < HOUR_S)
    print(summary("decide, day-anchored fits, hourly (cache warm)", samples[1:]))
    print(summary("  of which the volatility selection, all assets", selection[1:]))
    print(f"{'  first decision, empty cache (fresh process)':<52} {samples[0] * 1e3:9.1f} ms")
    print(f"{'  first decision after UTC midnight (new fits)':<52} {samples[crossing] * 1e3:9.1f} ms   "
          f"(fits computed {DAILY_FITS.misses}, reused {DAILY_FITS.hits})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=20)
    parser.add_argument("--hours", type=int, default=YEAR_HOURS)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="print cProfile's top entries of one decision")
    parser.add_argument("--window", choices=("measured", "year", "both"), default="both")
    parser.add_argument("--daily-fits", action="store_true",
                        help="also: hourly decisions with the day-anchored selection (proposal) wired in")
    parser.add_argument("--skip-current", action="store_true", help="skip the current selection's figures")
    parser.add_argument("--default-allocator", action="store_true",
                        help="leave glibc's thresholds as they are (the service and enclave raise them: enclave.memory)")
    args = parser.parse_args()
    if not args.default_allocator:
        from enclave.memory import keep_freed_memory

        keep_freed_memory()

    import strategies
    import strategies.strategy as strategy_module
    from eth_utils import keccak
    from strategies.config import default_config
    from strategies.decision import recommend
    from strategies.inputs import build_history

    print(f"allocator: {'glibc defaults' if args.default_allocator else 'freed memory kept (as the service and enclave)'}")
    print(f"source tree {Path(strategies.__file__).resolve().parent.parent}; {os.cpu_count()} cores; "
          f"load {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f} {os.getloadavg()[2]:.1f}")
    started = time.perf_counter()
    market = Market(args.assets, args.hours)
    inputs = market.inputs_at(AS_OF_S)
    print(f"{args.assets} assets x {args.hours} h of hourly prints, {len(inputs.positions.debt_usd):,} accounts "
          f"(built in {time.perf_counter() - started:.1f} s)")

    encoded = inputs.canonical_bytes()
    print(summary(f"encode (CBOR, {len(encoded) / 1e6:.1f} MB) + keccak",
                  timed(lambda: keccak(inputs.canonical_bytes()), max(args.repeats, 15))))
    print(summary("  of which keccak", timed(lambda: keccak(encoded), max(args.repeats, 15))))
    configs = []
    measured = default_config()
    if args.window in ("measured", "both"):
        configs.append(("measured config (120-day window)", measured))
    if args.window in ("year", "both"):
        configs.append(("1-year window", replace(measured, window=replace(measured.window, history_hours=args.hours))))
    real, real_daily = strategy_module.select_and_forecast, strategy_module.select_and_forecast_daily
    for label, config in configs:
        print(f"-- {label}")
        print(summary("build_history", timed(lambda config=config: build_history(inputs, config), args.repeats)))
        digest = keccak(encoded)
        if not args.skip_current:
            decide = timed(lambda config=config: recommend(inputs, config, digest), args.repeats)
            print(summary("decide (recommend, fitting included)", decide))
        strategy_module.select_and_forecast = FrozenForecasts(real)
        strategy_module.select_and_forecast_daily = FrozenDailyForecasts(real_daily)
        try:
            recommend(inputs, config, digest)
            print(summary("decide, fits excluded", timed(lambda config=config: recommend(inputs, config, digest),
                                                          args.repeats)))
            if args.profile:
                print("profile of one decision, fits excluded:\n"
                      + profile_top(lambda: recommend(inputs, config, digest)))
        finally:
            strategy_module.select_and_forecast, strategy_module.select_and_forecast_daily = real, real_daily
        if args.profile and not args.skip_current:
            print("profile of one decision, fitting included:\n"
                  + profile_top(lambda: recommend(inputs, config, digest)))
        if args.daily_fits:
            daily_fits_sequence(market, config, label)
    return 0


if __name__ == "__main__":
    sys.exit(main())
