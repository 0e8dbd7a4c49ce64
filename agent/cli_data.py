"""`risk-agent data ...`: look at a price file the way the backtests and the service will read
it (format, symbol, span, cadence, duplicates, gaps) before using it.

Bad input prints `error: <one line>` on stderr and exits 2, with nothing on stdout."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

import typer

data_app = typer.Typer(no_args_is_help=True, help="Price files: what a file holds, as the loaders read it.")

GAPS_SHOWN = 20
DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d)?\s*$", re.IGNORECASE)
SECONDS_PER = {"s": 1, "m": 60, "min": 60, "h": 3_600, "d": 86_400}


def parse_duration_s(text: str) -> int:
    """'90m', '3h', '2d' or plain seconds -> whole seconds (> 0)."""
    from backtests.formats import DataError

    match = DURATION.match(text)
    seconds = round(float(match.group(1)) * SECONDS_PER[(match.group(2) or "s").lower()]) if match else 0
    if seconds <= 0:
        raise DataError(f"--gap-threshold {text!r} is not a positive duration (e.g. 90m, 3h, 2d or seconds)")
    return seconds


def parse_decimals(text: str | None) -> int | None:
    """--decimals as a whole number (typer's own type error would print a multi-line box)."""
    from backtests.formats import DataError

    if text is None:
        return None
    if not text.strip().isdigit():
        raise DataError(f"--decimals {text!r} is not a whole number")
    return int(text)


def duration(seconds: int | None) -> str:
    """3602 -> '1 h 2 s'; 86400 -> '1 d'."""
    if seconds is None:
        return "n/a"
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {unit}")
    return " ".join(parts) or "0 s"


def _when(seconds: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def describe(summary: dict, format_given: bool) -> list[str]:
    """The human-readable report of `PriceFile.summary()`."""
    s = summary
    symbol = s["symbol"]
    if s["file_symbol"] and s["file_symbol"] != s["symbol"]:
        symbol += f" (file says {s['file_symbol']})"
    if s["symbol_from"] == "file name":
        symbol += " (from the file name; give --symbol)"
    units = " and ".join("ISO 8601" if u == "iso" else f"unix {u}" for u in s["timestamp_units"])
    candles = s["timestamps_are"].startswith("candle")
    meaning = "candle close at the candle's open time" if candles else "price at its time"
    rows = f"{s['rows_read']:,} read; {s['observations']:,} observations"
    if s["rows_other_symbols"]:
        rows += f"; {s['rows_other_symbols']:,} rows of other symbols skipped"
    order = {"ascending": "oldest first", "descending": "newest first; sorted",
             "unordered": f"unordered ({s['out_of_order_steps']:,} steps backwards); sorted"}[s["input_order"]]
    lines = [
        f"file        {s['path']}",
        f"sha256      {s['sha256']}",
        f"format      {s['format']} ({'--format' if format_given else 'detected'}; {s['container']})",
        f"symbol      {symbol}",
        f"columns     time {s['time_column']} ({units}), price {s['price_column']} ({meaning})",
        f"rows        {rows}",
        f"span        {_when(s['first_s'])} -> {_when(s['last_s'])} ({duration(s['span_s'])})",
        f"prices      first {s['first_price_usd']:,.6g}, last {s['last_price_usd']:,.6g}",
        f"cadence     {duration(s['native_cadence_s'])} (median step)",
        f"order       {order}",
    ]
    conflicts = s["conflicting_duplicates"]
    dup = f"duplicates  {s['duplicates_dropped']:,} dropped"
    lines.append(dup + (f"; {len(conflicts):,} with a different price (kept the row nearest the file's newest end):"
                        if conflicts else ""))
    for c in conflicts[:GAPS_SHOWN]:
        dropped = ", ".join(f"{p:,.6g}" for p in c["dropped_prices_usd"])
        lines.append(f"              {_when(c['timestamp_s'])} kept {c['kept_price_usd']:,.6g}, dropped {dropped}")
    if len(conflicts) > GAPS_SHOWN:
        lines.append(f"              ... {len(conflicts) - GAPS_SHOWN:,} more (--json lists all)")
    gaps = s["gaps"]
    head = f"gaps        {len(gaps):,} longer than {duration(s['gap_threshold_s'])}"
    lines.append(head + (f" ({duration(s['gap_missing_s'])} missing beyond one {duration(s['native_cadence_s'])} "
                         f"step each), never filled:" if gaps else ""))
    for g in gaps[:GAPS_SHOWN]:
        lines.append(f"              {_when(g['after_s'])} -> {_when(g['before_s'])} ({duration(g['length_s'])})")
    if len(gaps) > GAPS_SHOWN:
        lines.append(f"              ... {len(gaps) - GAPS_SHOWN:,} more (--json lists all)")
    return lines


@data_app.command("inspect")
def inspect(
    file: Annotated[Path, typer.Argument(help="Price file (.csv, .txt, .json or .parquet); its format is detected.")],
    format_name: Annotated[str | None, typer.Option("--format", help=(
        "Read as this format instead of detecting it: cryptodatadownload, chainlink-rounds, coingecko-daily, "
        "coingecko-hourly, ohlcv, ohlcv-array, symbol-price, timestamp-price."))] = None,
    symbol: Annotated[str | None, typer.Option(
        help="Asset name; must match the file's symbol, picks one symbol's rows in a multi-symbol file.")] = None,
    decimals: Annotated[str | None, typer.Option(help="Decimals of a Chainlink feed's answers (required when the "
                                                      "dump does not state them).")] = None,
    gap_threshold: Annotated[str | None, typer.Option(help="Report steps longer than this (90m, 3h, 2d or seconds); "
                                                           "default 1.5x the native cadence.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the same report as JSON.")] = False,
) -> None:
    """Load a price file and report its format, symbol, rows, span, cadence, duplicates and gaps."""
    from backtests.formats import DataError
    from backtests.loaders import load_prices

    try:
        threshold = parse_duration_s(gap_threshold) if gap_threshold is not None else None
        loaded = load_prices(file, format_name=format_name, symbol=symbol, decimals=parse_decimals(decimals),
                             gap_threshold_s=threshold)
    except DataError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from None
    summary = loaded.summary()
    if as_json:
        typer.echo(json.dumps({**summary, "format_from": "option" if format_name else "detected"}, indent=1))
        return
    typer.echo("\n".join(describe(summary, format_name is not None)))
