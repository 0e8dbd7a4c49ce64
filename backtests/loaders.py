"""One price file -> one checked record: observations at the file's own cadence (never
resampled, never filled), where they came from (format, path, sha256 of the bytes) and what
loading found (duplicates, order, gaps, the native cadence).

Putting observations on the hourly grid is the input builder's job (strategies/inputs.py);
this module only promises that what it returns is what the file says, or a `DataError`."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from backtests.formats import (
    KNOWN_EXTENSIONS,
    DataError,
    Format,
    Layout,
    Table,
    choose_format,
    preamble_decimals,
    read_table,
)

# Timestamps must fall in [2000-01-01, 2100-01-01) UTC. The unit of a unix number is the one
# that puts it in this window; the windows for s, ms, us and ns do not overlap, so the
# magnitude decides and one file may mix units (CryptoDataDownload switched s -> ms in 2020).
EARLIEST_S = 946_684_800
LATEST_S = 4_102_444_800
UNIX_UNITS = (("s", 1), ("ms", 10**3), ("us", 10**6), ("ns", 10**9))
GAP_FACTOR = 1.5  # default gap threshold: a step longer than 1.5x the native cadence
MAX_DECIMALS = 36
UTC_SUFFIX = re.compile(r"\s*(UTC|GMT)$", re.IGNORECASE)


@dataclass(frozen=True, eq=False)
class PriceObservations:
    """Prices at their own times: `timestamps_s` int64 unix seconds, strictly ascending;
    `prices_usd` float64, finite and > 0 (USDT-quoted files are taken as USD). Read-only."""

    timestamps_s: np.ndarray
    prices_usd: np.ndarray

    def __post_init__(self) -> None:
        times = np.array(self.timestamps_s, dtype=np.int64)
        prices = np.array(self.prices_usd, dtype=np.float64)
        if times.ndim != 1 or times.shape != prices.shape:
            raise DataError(f"timestamps {times.shape} and prices {prices.shape} are not two equal 1-D arrays")
        if len(times) > 1 and not (np.diff(times) > 0).all():
            raise DataError("timestamps are not strictly ascending")
        if not (np.isfinite(prices) & (prices > 0)).all():
            raise DataError("prices must be finite and positive")
        times.setflags(write=False)
        prices.setflags(write=False)
        object.__setattr__(self, "timestamps_s", times)
        object.__setattr__(self, "prices_usd", prices)

    def __len__(self) -> int:
        return len(self.timestamps_s)

    def until(self, as_of_s: int) -> PriceObservations:
        """Observations at or before `as_of_s`: what was known then (no look-ahead)."""
        end = int(np.searchsorted(self.timestamps_s, as_of_s, side="right"))
        return PriceObservations(self.timestamps_s[:end], self.prices_usd[:end])

    def between(self, start_s: int, end_s: int) -> PriceObservations:
        """Observations with start_s <= t <= end_s."""
        lo = int(np.searchsorted(self.timestamps_s, start_s, side="left"))
        hi = int(np.searchsorted(self.timestamps_s, end_s, side="right"))
        return PriceObservations(self.timestamps_s[lo:hi], self.prices_usd[lo:hi])


@dataclass(frozen=True)
class Source:
    """Where observations came from: enough to find the exact bytes again."""

    format: str
    container: str  # csv, json or parquet
    path: str  # absolute
    sha256: str  # of the file's bytes
    time_column: str
    price_column: str
    candles: bool  # True: each price is a candle's close, stamped at the candle's OPEN time


@dataclass(frozen=True)
class Gap:
    """A step between consecutive observations longer than the stated threshold."""

    after_s: int  # last observation before the gap
    before_s: int  # first observation after it

    @property
    def length_s(self) -> int:
        return self.before_s - self.after_s


@dataclass(frozen=True)
class ConflictingDuplicate:
    """One time given twice with different prices; the row nearest the newest end of the file kept."""

    timestamp_s: int
    kept_price_usd: float
    dropped_prices_usd: tuple[float, ...]


@dataclass(frozen=True)
class Findings:
    """What loading found, reported rather than repaired (only exact order and duplicates are)."""

    rows_read: int  # data rows for this symbol
    rows_other_symbols: int  # rows of other symbols in a multi-symbol file (not loaded)
    input_order: str  # ascending, descending (newest first) or unordered
    out_of_order_steps: int  # steps against the file's main direction (0 unless unordered)
    duplicates_dropped: int
    conflicting_duplicates: tuple[ConflictingDuplicate, ...]
    native_cadence_s: int | None  # median step; None with a single observation
    gap_threshold_s: int | None
    gaps: tuple[Gap, ...]
    timestamp_units: tuple[str, ...]  # which of iso, s, ms, us, ns the file used
    file_symbol: str | None  # the symbol as the file writes it (e.g. ETH/USDT)
    symbol_from: str  # option, file or file name

    @property
    def gap_total_s(self) -> int:
        """Sum of the gaps' step lengths."""
        return sum(g.length_s for g in self.gaps)

    @property
    def gap_missing_s(self) -> int:
        """Time the gaps leave uncovered beyond one normal step each (16 h for 16 missing hourly
        candles), the figure to compare with a source's 'hours missing'."""
        return sum(g.length_s - (self.native_cadence_s or 0) for g in self.gaps)


@dataclass(frozen=True)
class PriceFile:
    """One price file, loaded: the record every caller (CLI, backtests, the hourly builder) uses."""

    symbol: str
    observations: PriceObservations
    source: Source
    findings: Findings = field(repr=False)

    @property
    def first_s(self) -> int:
        return int(self.observations.timestamps_s[0])

    @property
    def last_s(self) -> int:
        return int(self.observations.timestamps_s[-1])

    def when_known(self) -> PriceObservations:
        """The observations stamped when each price became known: a candle's close at the
        candle's end (open time + the native cadence), any other price at its own time. A
        builder taking "the last observation at or before each hour mark" needs this to avoid
        reading an hourly candle's close an hour early."""
        if not self.source.candles:
            return self.observations
        cadence = self.findings.native_cadence_s
        if cadence is None:
            raise DataError("one candle only: its length, hence when its close was known, cannot be told",
                            path=self.source.path)
        return PriceObservations(self.observations.timestamps_s + cadence, self.observations.prices_usd)

    def summary(self) -> dict:
        """Plain JSON-able summary (what `risk-agent data inspect --json` prints)."""
        found = self.findings
        return {
            "path": self.source.path,
            "format": self.source.format,
            "container": self.source.container,
            "sha256": self.source.sha256,
            "symbol": self.symbol,
            "file_symbol": found.file_symbol,
            "symbol_from": found.symbol_from,
            "time_column": self.source.time_column,
            "price_column": self.source.price_column,
            "timestamps_are": "candle open time; price is the candle close" if self.source.candles else "price time",
            "timestamp_units": list(found.timestamp_units),
            "rows_read": found.rows_read,
            "rows_other_symbols": found.rows_other_symbols,
            "observations": len(self.observations),
            "first": _iso(self.first_s),
            "last": _iso(self.last_s),
            "first_s": self.first_s,
            "last_s": self.last_s,
            "span_s": self.last_s - self.first_s,
            "first_price_usd": float(self.observations.prices_usd[0]),
            "last_price_usd": float(self.observations.prices_usd[-1]),
            "native_cadence_s": found.native_cadence_s,
            "input_order": found.input_order,
            "out_of_order_steps": found.out_of_order_steps,
            "duplicates_dropped": found.duplicates_dropped,
            "conflicting_duplicates": [
                {"at": _iso(c.timestamp_s), "timestamp_s": c.timestamp_s, "kept_price_usd": c.kept_price_usd,
                 "dropped_prices_usd": list(c.dropped_prices_usd)} for c in found.conflicting_duplicates],
            "gap_threshold_s": found.gap_threshold_s,
            "gap_count": len(found.gaps),
            "gap_total_s": found.gap_total_s,
            "gap_missing_s": found.gap_missing_s,
            "gaps": [{"after": _iso(g.after_s), "before": _iso(g.before_s), "after_s": g.after_s,
                      "before_s": g.before_s, "length_s": g.length_s} for g in found.gaps],
        }


def _iso(seconds: int) -> str:
    return pd.Timestamp(seconds, unit="s", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


# -- loading ----------------------------------------------------------------------------------

def read_bytes(path: Path | str) -> tuple[Path, bytes]:
    """The file's bytes, read once (so the hash is of exactly what was parsed)."""
    path = Path(path)
    if path.is_dir():
        raise DataError("is a directory, not a file", path=path)
    if not path.exists():
        raise DataError("data file not found", path=path)
    if path.suffix.lower() not in KNOWN_EXTENSIONS:
        expected = ", ".join(KNOWN_EXTENSIONS)
        if not path.suffix:
            raise DataError(f"unknown format: the file name has no extension (expected {expected})", path=path)
        raise DataError(f"unknown format {path.suffix!r}: the extension is not one of {expected}", path=path)
    try:
        return path.resolve(), path.read_bytes()
    except OSError as error:
        raise DataError(f"cannot read the file ({error.strerror})", path=path) from None


def load_prices(path: Path | str, *, format_name: str | None = None, symbol: str | None = None,
                decimals: int | None = None, gap_threshold_s: int | None = None) -> PriceFile:
    """Load one price file of any supported format (detected from its content unless
    `format_name` is given). `symbol` names the asset (or picks it in a multi-symbol file);
    `decimals` scales Chainlink answers; `gap_threshold_s` defaults to 1.5x the native cadence."""
    if gap_threshold_s is not None and gap_threshold_s <= 0:
        raise DataError(f"the gap threshold must be positive, not {gap_threshold_s} s")
    path, data = read_bytes(path)
    table = read_table(path, data)
    chosen, layout = choose_format(table, format_name)
    if decimals is not None and not layout.integer_prices:
        raise table.error(f"--decimals applies to Chainlink round dumps only (this file is {chosen.name})")
    if table.row_count == 0:
        raise table.error("no data rows (header only)")
    table = table.load([c for c in (layout.time, layout.price, layout.symbol, layout.decimals_column) if c])
    table, symbol, file_symbol, symbol_from, other_rows = _pick_symbol(table, layout, symbol)
    times, units = parse_timestamps(table, layout.time)
    prices = parse_prices(table, layout.price)
    if layout.integer_prices:
        prices = _scale_answers(table, layout, prices, decimals)
    return _assemble(table, chosen, layout, times, prices, units, symbol, file_symbol, symbol_from, other_rows,
                     hashlib.sha256(data).hexdigest(), gap_threshold_s)


def _pick_symbol(table: Table, layout: Layout, wanted: str | None) -> tuple[Table, str, str | None, str, int]:
    """The asset's name. With a symbol column: the file's (the base of a pair such as
    ETH/USDT); --symbol must agree with it, and picks the rows in a multi-symbol file.
    Without one: --symbol, else the file name's first word (reported as such)."""
    if layout.symbol is None:
        if wanted:
            return table, wanted, None, "option", 0
        stem = re.split(r"[-_. ]", table.path.stem, maxsplit=1)[0]
        return table, stem.upper(), None, "file name", 0
    column = table.values[layout.symbol]
    cleaned = {v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip()
               for v in pd.unique(column)}  # a handful of distinct values, however many rows
    present = list(dict.fromkeys(cleaned.values()))
    if len(present) == 1:
        file_symbol = present[0]
        if not file_symbol:
            raise table.error(f"the {layout.symbol} column is empty", 0)
        if wanted and wanted.upper() not in {file_symbol.upper(), _base(file_symbol).upper()}:
            raise table.error(f"the file's symbol is {file_symbol}, not {wanted} "
                              f"(drop --symbol or pick the right file)")
        return table, _base(file_symbol), file_symbol, "file", 0
    if not wanted:
        shown_symbols = ", ".join(s or "''" for s in present[:8]) + (", ..." if len(present) > 8 else "")
        raise table.error(f"the file holds {len(present)} symbols ({shown_symbols}); choose one with --symbol")
    matching = [raw for raw, clean in cleaned.items() if wanted.upper() in {clean.upper(), _base(clean).upper()}]
    if not matching:
        raise table.error(f"no rows for symbol {wanted!r} (the file has {', '.join(present[:8])})")
    keep = np.isin(column, np.array(matching, dtype=column.dtype))
    file_symbol = cleaned[matching[0]]
    return table.select(np.flatnonzero(keep)), _base(file_symbol), file_symbol, "option", int((~keep).sum())


def _base(pair: str) -> str:
    return re.split(r"[/:]", pair, maxsplit=1)[0]


def parse_timestamps(table: Table, column: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Unix seconds (floored) for every row: numbers by magnitude, text as ISO 8601 (naive =
    UTC, `Z`, offsets, fractional seconds, date-only). The first bad row is named."""
    values = table.values[column]
    if np.issubdtype(values.dtype, np.datetime64) or isinstance(values.dtype, pd.DatetimeTZDtype):
        times = pd.Series(values)
        if times.isna().any():
            row = int(np.flatnonzero(times.isna())[0])
            raise table.error(f"timestamp is missing ({table.name_of(column)})", row)
        seconds = _datetimes_to_seconds(pd.to_datetime(times, utc=True))
        _check_window(table, seconds, values, column)
        return seconds, ("datetime",)
    raw, missing, numbers = _cells(values)
    if missing.any():
        raise table.error(f"timestamp is missing ({table.name_of(column)})", int(np.flatnonzero(missing)[0]))
    is_number = np.isfinite(numbers)
    seconds = np.zeros(len(raw), dtype=np.int64)
    units: list[str] = []
    if is_number.any():
        seconds[is_number], used = _unix_to_seconds(table, numbers, is_number, values)
        units += used
    text = ~is_number
    if text.any():
        strings = pd.Series(raw[text], dtype=object).map(lambda v: UTC_SUFFIX.sub("+00:00", v) if isinstance(v, str)
                                                         else "")
        parsed = pd.to_datetime(strings, format="ISO8601", utc=True, errors="coerce")
        bad = parsed.isna().to_numpy()
        if bad.any():
            row = int(np.flatnonzero(text)[np.flatnonzero(bad)[0]])
            raise table.error(f"malformed date {raw[row]!r} ({table.name_of(column)}; "
                              f"expected ISO 8601 or unix s/ms)", row)
        seconds[text] = _datetimes_to_seconds(parsed)
        _check_window(table, seconds, values, column)
        units.append("iso")
    return seconds, tuple(units)


def _cells(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each cell as the file has it (text stripped), whether it is missing (empty, null), and
    its number (NaN when it is not one; JSON booleans are not numbers). Text columns, i.e.
    every CSV, take the vectorised path."""
    if values.dtype.kind in "iuf":  # already numbers (pandas parsed a clean column)
        return values, np.zeros(len(values), dtype=bool), values.astype(np.float64)
    series = pd.Series(values, dtype=object)
    if pd.api.types.infer_dtype(series, skipna=False) == "string":
        stripped = series.str.strip()
        missing = (stripped == "").to_numpy(dtype=bool)
        numbers = pd.to_numeric(stripped, errors="coerce")
        return stripped.to_numpy(dtype=object), missing, np.array(numbers, dtype=np.float64)
    # JSON or Parquet objects: few enough rows for plain Python (pandas' map would turn None into NaN)
    cells = np.array([v.strip() if isinstance(v, str) else v for v in values], dtype=object)
    missing = np.array([v is None or (isinstance(v, str) and not v) for v in cells], dtype=bool)
    numbers = pd.to_numeric(pd.Series([None if isinstance(v, bool) else v for v in cells], dtype=object),
                            errors="coerce")
    return cells, missing, np.array(numbers, dtype=np.float64)


def _datetimes_to_seconds(times: pd.Series) -> np.ndarray:
    """Floored unix seconds. pandas 3 keeps the parsed resolution (s, ms, us or ns), so the
    integer view is never assumed to be nanoseconds."""
    naive = times.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    return naive.astype("datetime64[s]").astype(np.int64)


def _unix_to_seconds(table: Table, numbers: np.ndarray, is_number: np.ndarray,
                     raw: np.ndarray) -> tuple[np.ndarray, list[str]]:
    values = numbers[is_number]
    exact = raw[is_number] if raw.dtype.kind == "i" else None  # integers divide exactly (ns in float64 would not)
    seconds = np.full(len(values), -1, dtype=np.int64)
    used = []
    for unit, per_second in UNIX_UNITS:
        fits = (values >= EARLIEST_S * per_second) & (values < LATEST_S * per_second)
        if fits.any():
            seconds[fits] = exact[fits] // per_second if exact is not None else np.floor(
                values[fits] / per_second).astype(np.int64)
            used.append(unit)
    unfit = seconds < 0
    if unfit.any():
        row = int(np.flatnonzero(is_number)[np.flatnonzero(unfit)[0]])
        raise table.error(f"timestamp '{shown(raw[row])}' fits no unit "
                          f"(unix s, ms, us or ns between 2000 and 2100)", row)
    return seconds, used


def _check_window(table: Table, seconds: np.ndarray, values, column: str) -> None:
    outside = (seconds < EARLIEST_S) | (seconds >= LATEST_S)
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        raise table.error(f"timestamp '{shown(values[row])}' is outside 2000..2100 ({table.name_of(column)})", row)


def parse_prices(table: Table, column: str) -> np.ndarray:
    """float64 prices; a missing, non-numeric, NaN, infinite, zero or negative one refuses the
    file, naming the first such row and how many there are."""
    values = table.values[column]
    if np.issubdtype(values.dtype, np.number) and values.dtype != np.bool_:
        prices = values.astype(np.float64)
    else:
        _, missing, prices = _cells(values)
        prices[missing] = np.nan
    bad = ~(np.isfinite(prices) & (prices > 0))
    if bad.any():
        rows = np.flatnonzero(bad)
        row = int(rows[0])
        more = f" (first of {len(rows)} bad prices)" if len(rows) > 1 else ""
        raise table.error(f"price {_price_problem(prices[row], values[row])} ({table.name_of(column)}); "
                          f"refusing the file{more}", row)
    return prices


def shown(value) -> str:
    """A cell as the file writes it, for messages."""
    if isinstance(value, np.generic):
        value = value.item()
    return value.strip() if isinstance(value, str) else str(value)


def _price_problem(value: float, raw) -> str:
    """How a bad price reads in the message; `raw` is the file's cell (text or number)."""
    text = None if raw is None else shown(raw)
    if np.isnan(value):
        if text is None or text.lower() in {"", "null", "none", "na", "n/a"}:
            return "is missing"
        if text.lower() == "nan":
            return "is NaN"
        return f"'{text}' is not a number"
    if np.isinf(value):
        return "is infinite"
    if value == 0:
        return "is zero"
    return f"is negative ({text})"


def _scale_answers(table: Table, layout: Layout, answers: np.ndarray, option: int | None) -> np.ndarray:
    """Chainlink answers are integers in units of 10^-decimals; the decimals come from
    --decimals, a `decimals` column or a `decimals N` comment line, and must agree."""
    fractional = answers != np.floor(answers)
    if fractional.any():
        row = int(np.flatnonzero(fractional)[0])
        raise table.error(f"answer '{shown(table.values[layout.price][row])}' is not an integer "
                          f"(Chainlink answers are scaled integers; is this file already in USD?)", row)
    stated: dict[str, int] = {}
    if option is not None:
        stated["--decimals"] = option
    if layout.decimals_column is not None:
        column = pd.to_numeric(pd.Series(table.values[layout.decimals_column]), errors="coerce")
        distinct = column.dropna().unique()
        if column.isna().any() or len(distinct) != 1 or distinct[0] != int(distinct[0]):
            raise table.error(f"the {layout.decimals_column} column must hold one integer for every row")
        stated[f"the {layout.decimals_column} column"] = int(distinct[0])
    from_comment = preamble_decimals(table)
    if from_comment is not None:
        stated["the comment line"] = from_comment
    if not stated:
        raise table.error("Chainlink answers need the feed's decimals, which the file does not state: "
                          "give --decimals N (8 for most USD feeds, 18 for ETH-quoted ones)")
    if len(set(stated.values())) > 1:
        raise table.error("decimals disagree: " + ", ".join(f"{k} says {v}" for k, v in stated.items()))
    decimals = next(iter(stated.values()))
    if not 0 <= decimals <= MAX_DECIMALS:
        raise table.error(f"decimals {decimals} outside 0..{MAX_DECIMALS}")
    return answers / float(10**decimals)


def _assemble(table: Table, chosen: Format, layout: Layout, times: np.ndarray, prices: np.ndarray,
              units: tuple[str, ...], symbol: str, file_symbol: str | None, symbol_from: str, other_rows: int,
              sha256: str, gap_threshold_s: int | None) -> PriceFile:
    """Orient oldest -> newest, sort (stably), drop repeated times keeping the row nearest the
    file's newest end, then measure cadence and gaps. Nothing is filled or resampled."""
    steps = np.diff(times)
    forward, backward = int((steps > 0).sum()), int((steps < 0).sum())
    if backward == 0:
        order, against = "ascending", 0
    elif forward == 0:
        order, against = "descending", 0
    else:
        order, against = "unordered", min(forward, backward)
    if backward > forward:
        times, prices = times[::-1], prices[::-1]
    permutation = np.argsort(times, kind="stable")
    times, prices = times[permutation], prices[permutation]
    last_of_run = np.r_[times[1:] != times[:-1], True]
    conflicts: list[ConflictingDuplicate] = []
    if not last_of_run.all():
        starts = np.flatnonzero(np.r_[True, times[1:] != times[:-1]])
        ends = np.r_[starts[1:], len(times)]
        group = np.repeat(np.arange(len(starts)), ends - starts)
        kept = prices[ends - 1][group]
        for g in np.unique(group[prices != kept]):
            members = prices[starts[g]:ends[g]]
            conflicts.append(ConflictingDuplicate(int(times[starts[g]]), float(members[-1]),
                                                  tuple(float(p) for p in members[:-1] if p != members[-1])))
    unique_times, unique_prices = times[last_of_run], prices[last_of_run]
    unique_steps = np.diff(unique_times)
    cadence = int(round(float(np.median(unique_steps)))) if len(unique_steps) else None
    threshold = gap_threshold_s if gap_threshold_s is not None else (
        int(round(GAP_FACTOR * cadence)) if cadence else None)
    gap_at = np.flatnonzero(unique_steps > threshold) if threshold else np.array([], dtype=int)
    findings = Findings(
        rows_read=table.row_count, rows_other_symbols=other_rows, input_order=order, out_of_order_steps=against,
        duplicates_dropped=int((~last_of_run).sum()), conflicting_duplicates=tuple(conflicts),
        native_cadence_s=cadence, gap_threshold_s=threshold,
        gaps=tuple(Gap(int(unique_times[i]), int(unique_times[i + 1])) for i in gap_at),
        timestamp_units=units, file_symbol=file_symbol, symbol_from=symbol_from)
    source = Source(chosen.name, table.container, str(table.path), sha256, layout.time, layout.price, chosen.candles)
    return PriceFile(symbol, PriceObservations(unique_times, unique_prices), source, findings)
