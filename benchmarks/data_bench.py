"""Load time of the largest bundled price files through `load_prices` (read, hash, detect,
parse, check, sort, deduplicate, gaps): median and best of a few runs each.

Run by hand on an idle machine: `python benchmarks/data_bench.py [--runs N] [--files N]`."""

from __future__ import annotations

import argparse
import statistics
import time

from backtests.data import DATA_DIR
from backtests.loaders import load_prices


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="loads per file")
    parser.add_argument("--files", type=int, default=4, help="how many of the largest price files")
    args = parser.parse_args()
    files = sorted((p for p in (DATA_DIR / "prices").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size,
                   reverse=True)[: args.files]
    if not files:
        raise SystemExit(f"no price files under {DATA_DIR / 'prices'} (set RISK_AGENT_DATA_DIR)")
    print(f"{'file':<48}{'MB':>6}{'rows':>9}{'median ms':>11}{'best ms':>9}{'rows/s':>11}")
    for path in files:
        seconds = []
        for _ in range(args.runs):
            start = time.perf_counter()
            loaded = load_prices(path)
            seconds.append(time.perf_counter() - start)
        median = statistics.median(seconds)
        rows = loaded.findings.rows_read
        print(f"{path.name:<48}{path.stat().st_size / 1e6:>6.2f}{rows:>9,}{median * 1e3:>11.1f}"
              f"{min(seconds) * 1e3:>9.1f}{rows / median:>11,.0f}")


if __name__ == "__main__":
    main()
