"""Backtest reports: one PNG with price, the parameters over time, cumulative bad debt and
capital efficiency, strategy against baseline; the parameter path (JSON, one record per value
in force: time, asset, parameter, value) with its plot over the price; and a small HTML page
with the metrics table."""

from __future__ import annotations

import html
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from backtests.simulator import BacktestResult  # noqa: E402



def _save(figure, title: str, path: Path) -> Path:
    """Title, layout, write the PNG (its folder made) and free the figure."""
    figure.suptitle(title)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


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
    return _save(figure, title, path)


def metrics_table(results: list[BacktestResult]) -> pd.DataFrame:
    return pd.DataFrame({r.strategy: r.metrics() for r in results}).T


def parameter_path_records(result: BacktestResult) -> list[dict]:
    """One record per value in force, the start values first: time (ISO and seconds), asset,
    parameter (the registry's name), value (the pool's unit: bps or whole tokens)."""
    return [{"time": pd.Timestamp(t, unit="s", tz="UTC").isoformat(), "time_s": int(t), "asset": asset,
             "parameter": parameter, "value": int(value)}
            for t, asset, parameter, value in result.parameter_path]


def write_parameter_path(result: BacktestResult, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"strategy": result.strategy, "records": parameter_path_records(result)}, indent=1))
    return path


# Rows of the parameter-path plot: the parameters on one scale share a panel.
PATH_PANELS = (("LTV / LT / LB (%)", ("LTV", "LIQUIDATION_THRESHOLD", "LIQUIDATION_BONUS"), 100.0),
               ("caps (tokens)", ("SUPPLY_CAP", "BORROW_CAP"), 1.0),
               ("rates (%/year), uOpt (%)", ("OPTIMAL_USAGE_RATIO", "BASE_VARIABLE_BORROW_RATE",
                                             "VARIABLE_RATE_SLOPE1", "VARIABLE_RATE_SLOPE2"), 100.0))


def plot_parameter_path(result: BacktestResult, path: Path, title: str, assets: tuple[str, ...] | None = None) -> Path:
    """The price of each asset on top, then each parameter's value in force as steps over the
    same time axis (to the end of the run)."""
    records = pd.DataFrame(parameter_path_records(result))
    times = _times(result)
    symbols = assets or tuple(sorted(records["asset"].unique()))
    figure, axes = plt.subplots(1 + len(PATH_PANELS), 1, figsize=(11, 3 + 2.6 * len(PATH_PANELS)), sharex=True)
    for key in [k for k in result.series if k.startswith("price_") and k.removeprefix("price_") in symbols]:
        axes[0].plot(times, result.series[key], label=key.removeprefix("price_"), linewidth=1)
    axes[0].set_ylabel("price (USD)")
    axes[0].legend(loc="upper right", fontsize=8)
    end = times[-1]
    for axis, (label, names, divisor) in zip(axes[1:], PATH_PANELS):
        for symbol in symbols:
            for name in names:
                rows = records[(records["asset"] == symbol) & (records["parameter"] == name)]
                if rows.empty:
                    continue
                stamps = pd.to_datetime(rows["time_s"], unit="s", utc=True)
                values = rows["value"].to_numpy() / divisor
                axis.step([*stamps, end], [*values, values[-1]], where="post", label=f"{symbol} {name}", linewidth=1)
        axis.set_ylabel(label)
        if axis.get_legend_handles_labels()[0]:
            axis.legend(loc="best", fontsize=7)
    return _save(figure, title, path)


def write_html(results: list[BacktestResult], directory: Path, title: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    image = plot(results, directory / "backtest.png", title)
    for result in results:
        write_parameter_path(result, directory / f"parameter_path_{result.strategy}.json")
        plot_parameter_path(result, directory / f"parameter_path_{result.strategy}.png", f"{title}: {result.strategy}")
    table = metrics_table(results).to_html(float_format=lambda v: f"{v:,.2f}")
    notes = "".join(
        f"<li>{html.escape(r.strategy)}: strategy config {html.escape(str(r.market_notes.get('strategy_config', '-')))}, "
        f"market {html.escape(str(r.market_notes.get('model', '-')))}, depth "
        f"{html.escape('; '.join(f'{k}: {v}' for k, v in r.market_notes.get('depth', {}).items()) or '-')}</li>"
        for r in results)
    paths = "".join(f"<h2>{html.escape(r.strategy)}: parameters in force</h2>"
                    f"<img src='parameter_path_{html.escape(r.strategy)}.png' style='max-width:100%'>"
                    f"<p><a href='parameter_path_{html.escape(r.strategy)}.json'>parameter path (JSON)</a></p>"
                    for r in results)
    page = directory / "report.html"
    page.write_text(f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>"
                    f"<h1>{html.escape(title)}</h1>{table}<ul>{notes}</ul>"
                    f"<img src='{image.name}' style='max-width:100%'>{paths}")
    return page
