"""Backtest reports: one PNG with price, the parameters over time, cumulative bad debt and
capital efficiency, strategy against baseline, and a small HTML page with the metrics table."""

from __future__ import annotations

import html
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from backtests.simulator import BacktestResult  # noqa: E402


def _times(result: BacktestResult) -> pd.DatetimeIndex:
    return pd.to_datetime(result.series["timestamps_s"], unit="s", utc=True)


def plot(results: list[BacktestResult], path: Path, title: str) -> Path:
    figure, axes = plt.subplots(4, 1, figsize=(11, 12), sharex=True)
    base = results[0]
    times = _times(base)
    for key in [k for k in base.series if k.startswith("price_")]:
        axes[0].plot(times, base.series[key], label=key.removeprefix("price_"), linewidth=1)
    axes[0].set_ylabel("price (USD)")
    axes[0].legend(loc="upper right")
    for result in results:
        for symbol, steps in result.parameters.items():
            if steps:
                frame = pd.DataFrame(steps, columns=["t", "ltv", "lt", "lb"])
                stamps = pd.to_datetime(frame["t"], unit="s", utc=True)
                axes[1].step(stamps, frame["lt"] / 100, where="post", label=f"{result.strategy} {symbol} LT")
                axes[1].step(stamps, frame["ltv"] / 100, where="post", linestyle="--", label=f"{result.strategy} {symbol} LTV")
        axes[2].plot(_times(result), result.series["bad_debt_usd"] / 1e6, label=result.strategy)
        axes[3].plot(_times(result), result.series["efficiency"], label=result.strategy, linewidth=1)
    axes[1].set_ylabel("parameter (%)")
    axes[1].legend(loc="lower left", fontsize=7)
    axes[2].set_ylabel("cumulative bad debt ($M)")
    axes[2].legend(loc="upper left")
    axes[3].set_ylabel("borrowing power used")
    axes[3].legend(loc="upper left")
    figure.suptitle(title)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def metrics_table(results: list[BacktestResult]) -> pd.DataFrame:
    return pd.DataFrame({r.strategy: r.metrics() for r in results}).T


def write_html(results: list[BacktestResult], directory: Path, title: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    image = plot(results, directory / "backtest.png", title)
    table = metrics_table(results).to_html(float_format=lambda v: f"{v:,.2f}")
    page = directory / "report.html"
    page.write_text(f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>"
                    f"<h1>{html.escape(title)}</h1>{table}<img src='{image.name}' style='max-width:100%'>")
    return page
