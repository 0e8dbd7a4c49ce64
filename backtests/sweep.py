"""Grids of backtests (strategies x settings x periods x seeds) on Dask: a local cluster by
default, an existing one by scheduler address. Results come back as one table."""

from __future__ import annotations

import itertools
import time
from dataclasses import asdict, replace

import pandas as pd

from backtests.run import BacktestSpec, run_backtest


def grid(base: BacktestSpec, strategies: list[str], periods: list[tuple[str, str]], seeds: list[int],
         settings: list[dict] | None = None) -> list[BacktestSpec]:
    return [replace(base, strategy=s, start=start, end=end, seed=seed, **extra)
            for s, (start, end), seed, extra in itertools.product(strategies, periods, seeds, settings or [{}])]


def _run(spec: BacktestSpec) -> dict:
    started = time.perf_counter()
    result = run_backtest(spec)
    row = {k: v for k, v in asdict(spec).items() if k not in ("data_file",)}
    row["assets"] = ",".join(spec.assets)
    return {**row, **result.metrics(), "seconds": time.perf_counter() - started}


def run_sweep(specs: list[BacktestSpec], *, workers: int = 2, scheduler: str | None = None, progress=None) -> pd.DataFrame:
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    else:
        client = Client(scheduler)
    try:
        futures = client.map(_run, specs, pure=False)
        rows = []
        for future in as_completed(futures):
            rows.append(future.result())
            if progress is not None:
                progress(len(rows))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return pd.DataFrame(rows).sort_values(["strategy", "start", "seed"]).reset_index(drop=True)
