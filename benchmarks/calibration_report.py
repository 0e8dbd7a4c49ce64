"""VaR calibration table for the notes and `make bench`: Kupiec (pof), Christoffersen
independence (ind) and conditional coverage (cc) for every bundled asset at every horizon the
strategy uses: 1 h; 24 h at 95% (the LTV buffer); 24 h and 72 h at 99% (the LT horizon runs
from 24 h up, 72 h shows a longer one). At 24 h and 72 h the old sqrt(time) scaling of the
one-hour tail ("before") and the strategy's horizon tail ("after") side by side.

Non-overlapping windows, each VaR from the 120 days before it only. Results are cached under
var/calibration/ by a hash of the code that produces them; `--fresh` recomputes.

Run: `python benchmarks/calibration_report.py [--fresh]`."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from backtests.data import BINANCE, COINGECKO, load_bundled
from backtests.validation import CoverageTest, horizon_backtest, hourly_grid

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "var" / "calibration"
ASSETS = (*BINANCE, *COINGECKO)
PEGGED = frozenset({"USDC", "DAI", "USDT", "UST"})
# (horizon hours, confidence, what uses it)
CHECKS = ((1, 0.99, "1 h"), (1, 0.95, "1 h"), (24, 0.95, "LTV buffer"), (24, 0.99, "LT horizon"),
          (72, 0.99, "LT horizon, longer"))


def _code_hash() -> str:
    sources = [ROOT / "backtests" / "validation.py", ROOT / "strategies" / "collateral.py",
               ROOT / "strategies" / "volatility.py"]
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
            note = " (pegged: the peg model applies, see peg table)" if symbol in PEGGED else ""
            lines.append(f"| {symbol}{note} | {after['first']}..{after['last']} | {horizon} h {confidence:.0%} ({use}) | "
                         f"{after['observations']} | {'same' if horizon == 1 else _cell(before, confidence)} | "
                         f"{_cell(after, confidence)} |")
    return lines


if __name__ == "__main__":
    for line in calibration_table(fresh="--fresh" in sys.argv):
        print(line, flush=True)
