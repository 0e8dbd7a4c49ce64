"""VaR calibration table for the notes and `make bench`: Kupiec (pof), Christoffersen
independence (ind) and conditional coverage (cc) for every bundled asset at every horizon the
strategy uses: 1 h; 24 h at 95% (the LTV buffer); 24 h and 72 h at 99% (the LT horizon runs
from 24 h up, 72 h shows a longer one). At 24 h and 72 h the old sqrt(time) scaling of the
one-hour tail ("before") and the strategy's horizon tail ("after") side by side. Then the
pegged assets (USDC, DAI, USDT, UST over the dollar, stETH over ETH): the volatile tail and
the peg model (strategies/peg.py) on the same series.

Non-overlapping windows, each VaR from the 120 days before it only. Results are cached under
var/calibration/ by a hash of the code that produces them; `--fresh` recomputes.

Run: `python benchmarks/calibration_report.py [--fresh]`."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from backtests.calibration import PEGGED, peg_calibration, pegged_hourly
from backtests.data import BINANCE, COINGECKO, load_bundled
from backtests.validation import CoverageTest, coverage_test, horizon_backtest, hourly_grid, peg_forecasts
from strategies.peg import peg_deviation

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "var" / "calibration"
ASSETS = (*BINANCE, *COINGECKO)
FALLBACK_SEVERITY = 0.10  # only used before any depeg is on record (none of the bundled dates)
PEG_CHECKS = ((24, 0.95), (24, 0.99), (1, 0.99))
# (horizon hours, confidence, what uses it)
CHECKS = ((1, 0.99, "1 h"), (1, 0.95, "1 h"), (24, 0.95, "LTV buffer"), (24, 0.99, "LT horizon"),
          (72, 0.99, "LT horizon, longer"))


def _code_hash() -> str:
    sources = [ROOT / "backtests" / "validation.py", ROOT / "backtests" / "calibration.py",
               ROOT / "strategies" / "collateral.py", ROOT / "strategies" / "volatility.py", ROOT / "strategies" / "peg.py"]
    return hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:16]


def _run(symbol: str, horizon: int, confidence: float, scaling: str, fresh: bool) -> dict:
    path = CACHE / f"{_code_hash()}-{symbol}-{horizon}-{confidence}-{scaling}.json"
    if path.exists() and not fresh:
        return json.loads(path.read_text())
    grid, carried = hourly_grid(load_bundled(symbol).prices_usd)
    result = horizon_backtest(symbol, grid, horizon, confidence, scaling)
    row = {"first": f"{result.first:%Y-%m-%d}", "last": f"{result.last:%Y-%m-%d}", "carried_hours": carried,
           "observations": result.test.observations, "exceedances": result.test.exceedances,
           "lr_pof": result.test.lr_pof, "lr_ind": result.test.lr_ind}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(row))
    return row


def _peg_run(symbol: str, horizon: int, confidence: float, model: str, fresh: bool) -> dict:
    """The peg model, or the volatile tail, on the pegged series (price over its peg), both
    judged on the filtered (3-hour trailing median) price."""
    path = CACHE / f"{_code_hash()}-peg-{symbol}-{horizon}-{confidence}-{model}.json"
    if path.exists() and not fresh:
        return json.loads(path.read_text())
    series = pegged_hourly(symbol)
    filtered = pd.Series(1 + peg_deviation(series.to_numpy()), index=series.index)
    if model == "volatile":
        result = horizon_backtest(symbol, filtered, horizon, confidence, "strategy")
        row = {"observations": result.test.observations, "exceedances": result.test.exceedances,
               "lr_pof": result.test.lr_pof, "lr_ind": result.test.lr_ind}
    else:
        calibrations = {s: peg_calibration(s) for s in PEGGED}
        pooled = tuple(e for c in calibrations.values() for e in c.events)
        stamps = np.asarray(series.index.as_unit("s").asi8)
        forecasts = peg_forecasts(stamps, series.to_numpy(), calibrations[symbol], pooled, horizon, confidence,
                                  FALLBACK_SEVERITY)
        test = coverage_test(forecasts.hits, confidence)
        row = {"observations": test.observations, "exceedances": test.exceedances, "lr_pof": test.lr_pof,
               "lr_ind": test.lr_ind, "median_var_drop": float(np.median(-np.expm1(-forecasts.var_log)))}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(row))
    return row


def peg_table(fresh: bool = False) -> list[str]:
    lines = ["| asset (over its peg) | horizon, confidence | volatile tail | peg model | peg model median VaR |",
             "|---|---|---|---|---|"]
    for symbol in PEGGED:
        peg = PEGGED[symbol].peg
        for horizon, confidence in PEG_CHECKS:
            volatile = _peg_run(symbol, horizon, confidence, "volatile", fresh)
            model = _peg_run(symbol, horizon, confidence, "peg", fresh)
            lines.append(f"| {symbol}/{peg} | {horizon} h {confidence:.0%} | {_cell(volatile, confidence)} | "
                         f"{_cell(model, confidence)} | {model['median_var_drop']:.2%} |")
    return lines


def _cell(row: dict, confidence: float) -> str:
    test = CoverageTest(confidence, row["observations"], row["exceedances"], row["lr_pof"], row["lr_ind"])
    verdict = "pass" if test.passes else "FAIL"
    return (f"{test.exceedances}/{test.expected:.1f} ({test.exceedances / test.expected:.2f}x) "
            f"p_pof={test.p_pof:.3f} p_ind={test.p_ind:.3f} p_cc={test.p_cc:.3f} {verdict}")


def calibration_table(fresh: bool = False, assets: tuple[str, ...] = ASSETS) -> list[str]:
    lines = ["| asset | data | horizon, confidence (use) | windows | before: sqrt(time) | after: horizon tail |",
             "|---|---|---|---|---|---|"]
    for symbol in assets:
        for horizon, confidence, use in CHECKS:
            after = _run(symbol, horizon, confidence, "strategy", fresh)
            before = after if horizon == 1 else _run(symbol, horizon, confidence, "sqrt_time", fresh)
            note = " (pegged: see the peg table)" if symbol in PEGGED and PEGGED[symbol].peg == "USD" else ""
            lines.append(f"| {symbol}{note} | {after['first']}..{after['last']} | {horizon} h {confidence:.0%} ({use}) | "
                         f"{after['observations']} | {'same' if horizon == 1 else _cell(before, confidence)} | "
                         f"{_cell(after, confidence)} |")
    return lines


if __name__ == "__main__":
    fresh = "--fresh" in sys.argv
    for line in [*calibration_table(fresh), "", *peg_table(fresh)]:
        print(line, flush=True)
