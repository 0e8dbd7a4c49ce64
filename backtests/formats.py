"""Price-file formats: reading a file's bytes into a table (CSV, JSON or Parquet, chosen from
the content) and recognising which export it is from its columns and the shape of its values.

Only layout lives here (which column is the time, the price, the symbol); turning values into
checked numbers is `backtests.loaders`. Every refusal is a `DataError` whose text is one line
naming the file and, where there is one, the row."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

KNOWN_EXTENSIONS = (".csv", ".txt", ".json", ".parquet")
PARQUET_MAGIC = b"PAR1"
# Column names that may hold the time, most specific first (the first one present is used).
TIME_COLUMNS = ("timestamp", "unix", "time", "datetime", "date", "open_time", "opentime", "ts")
# A unit in the name (timestamp_ms, time_s) marks a time column; the unit itself is still
# decided by each value's magnitude, never by the name.
TIME_COLUMN_WITH_UNIT = re.compile(r"^(" + "|".join(TIME_COLUMNS) + r")_(s|sec|seconds|ms|millis|us|ns|utc)$")
NOT_A_PRICE = re.compile(r"vol|amount|count|cap|supply|balance|size|qty|quantity|trades|reserve|liquidity")
PREAMBLE = re.compile(r"^\s*(#|https?://|www\.)", re.IGNORECASE)
PREAMBLE_DECIMALS = re.compile(r"decimals\W{0,3}(\d+)", re.IGNORECASE)
NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")
ISO_DATE = re.compile(r"^\s*\d{4}-\d{2}-\d{2}")


class DataError(Exception):
    """A data file that cannot be used as given. `str(error)` is one line: the file, the row
    when there is one, and what is wrong."""

    def __init__(self, message: str, *, path: Path | str | None = None, where: str | None = None):
        self.path, self.where, self.reason = path, where, message
        super().__init__(": ".join(str(part) for part in (path, where, message) if part is not None))


@dataclass(frozen=True)
class Table:
    """A file's rows as columns of raw values (text, or typed values where the parser already
    knew them). `columns` are the file's own names ("0", "1", ... when it has no header);
    `positions[i]` is where row i sits in the file (its line, JSON element or Parquet row).

    A large plain CSV parses only the columns its format needs: `load(names)` fills them in."""

    path: Path
    container: str  # "csv", "json" or "parquet"
    has_header: bool
    columns: tuple[str, ...]
    values: dict[str, np.ndarray]
    positions: np.ndarray
    preamble: tuple[str, ...] = ()
    loader: Callable[[list[str]], dict[str, np.ndarray]] | None = field(default=None, repr=False, compare=False)

    @property
    def row_count(self) -> int:
        return len(self.positions)

    def normalised(self) -> dict[str, str]:
        """normalised name -> the file's own name ("Volume USDT" -> "volume_usdt")."""
        return {normalise(c): c for c in self.columns}

    def name_of(self, column: str) -> str:
        """How messages name a column: 'column close', or 'field 5' in a file without a header."""
        return f"column {column}" if self.has_header else f"field {int(column) + 1}"

    def where(self, row: int) -> str:
        position = int(self.positions[row])
        return {"csv": f"line {position}", "json": f"element [{position}]"}.get(self.container, f"row {position}")

    def error(self, message: str, row: int | None = None) -> DataError:
        return DataError(message, path=self.path, where=None if row is None else self.where(row))

    def load(self, names: list[str]) -> Table:
        """The table with these columns' values present."""
        missing = [n for n in dict.fromkeys(names) if n not in self.values]
        if not missing:
            return self
        if self.loader is None:
            raise KeyError(missing)
        return replace(self, values={**self.values, **self.loader(missing)})

    def select(self, rows: np.ndarray) -> Table:
        """The table restricted to some rows (by position); only loaded columns are kept."""
        return replace(self, values={name: column[rows] for name, column in self.values.items()},
                       positions=self.positions[rows], loader=None)


def normalise(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


def is_number(text: str) -> bool:
    return bool(NUMBER.match(text))


# -- containers -------------------------------------------------------------------------------

def read_table(path: Path, data: bytes) -> Table:
    """The file's content as a table; the container is chosen from the bytes, not the name."""
    if data.startswith(PARQUET_MAGIC):
        return _parquet_table(path, data)
    if path.suffix.lower() == ".parquet":
        raise DataError("not a Parquet file (it does not start with the PAR1 magic bytes)", path=path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataError(f"not UTF-8 text (byte {error.start} cannot be decoded)", path=path) from None
    if not text.strip():
        raise DataError("file is empty", path=path)
    if text.lstrip()[0] in "[{":
        return _json_table(path, text)
    return _csv_table(path, text)


def _csv_table(path: Path, text: str) -> Table:
    fast = _plain_csv_table(path, text)
    return fast if fast is not None else _exact_csv_table(path, text)


def _plain_csv_table(path: Path, text: str) -> Table | None:
    """The common case, read by pandas' C parser, one column at a time as needed: no quotes,
    no blank line between rows, the same number of fields on every line. Anything else
    (None) goes to the exact reader, which names the offending line."""
    if '"' in text:
        return None
    lines = text.rstrip().split("\n")
    start = 0
    while start < len(lines) and start < 10 and PREAMBLE.match(lines[start]):
        start += 1
    if start == len(lines) or not lines[start].strip():
        return None
    first = [f.strip() for f in lines[start].split(",")]
    has_header = not _looks_like_data(first)
    body_start = start + 1 if has_header else start
    width = len(first)
    if any(line.count(",") != width - 1 for line in lines[body_start:]):
        return None  # ragged or blank lines: the exact reader reports them
    if has_header and len(set(map(normalise, first))) != len(first):
        return None
    columns = tuple(first) if has_header else tuple(str(i) for i in range(width))
    body = "\n".join(lines[body_start:])
    positions = np.arange(body_start + 1, len(lines) + 1)

    def load(names: list[str]) -> dict[str, np.ndarray]:
        if not body:
            return {name: np.array([], dtype=object) for name in names}
        frame = pd.read_csv(io.StringIO(body), header=None, names=list(range(width)),
                            usecols=[columns.index(n) for n in names], na_filter=False)
        return {name: frame[columns.index(name)].to_numpy() for name in names}

    return Table(path, "csv", has_header, columns, {}, positions, tuple(lines[:start]), load)


def _exact_csv_table(path: Path, text: str) -> Table:
    """Python's csv module, line by line: quoted fields, blank lines, ragged rows named."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        records = list(reader)
    except csv.Error as error:
        raise DataError(f"not a readable CSV file ({error})", path=path, where=f"line {reader.line_num}") from None
    if len(records) == text.count("\n") + (not text.endswith("\n")):
        lines = range(1, len(records) + 1)  # one record per line: no quoted newlines
    else:
        lines = _record_lines(text)
    kept = [(record, line) for record, line in zip(records, lines, strict=True)
            if record and (len(record) > 1 or record[0].strip())]  # drop blank lines
    preamble: list[str] = []
    while kept and len(preamble) < 10 and PREAMBLE.match(kept[0][0][0]):
        preamble.append(",".join(kept.pop(0)[0]))
    if not kept:
        raise DataError("file is empty (no header and no rows)", path=path)
    header: list[str] | None = None
    if not _looks_like_data(kept[0][0]):
        first, header_line = kept.pop(0)
        header = [field.strip() for field in first]
        if len(set(map(normalise, header))) != len(header):
            raise DataError(f"repeated column names in the header (line {header_line}): {', '.join(header)}",
                            path=path)
    width = len(header) if header is not None else len(kept[0][0])
    for record, line in kept:
        if len(record) != width:
            what = "the header has" if header is not None else "the first row has"
            raise DataError(f"{len(record)} fields where {what} {width}", path=path, where=f"line {line}")
    columns = tuple(header) if header is not None else tuple(str(i) for i in range(width))
    rows = [record for record, _ in kept]
    transposed = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    values = {name: np.array(column, dtype=object) for name, column in zip(columns, transposed, strict=True)}
    return Table(path, "csv", header is not None, columns, values, np.array([line for _, line in kept], dtype=np.int64),
                 tuple(preamble))


def _record_lines(text: str) -> list[int]:
    """The line on which each CSV record ends, when quoted fields span lines."""
    reader = csv.reader(io.StringIO(text, newline=""))
    return [reader.line_num for _ in reader]


def _looks_like_data(row: list[str]) -> bool:
    """A first row that starts with a time (a number or a date) is data: the file has no
    header. Only the first field decides, so a bad price in that row is still reported as a
    bad price, not mistaken for column names."""
    return is_number(row[0]) or bool(ISO_DATE.match(row[0]))


def _json_table(path: Path, text: str) -> Table:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise DataError(f"not valid JSON ({error.msg})", path=path, where=f"line {error.lineno}") from None
    if isinstance(document, dict):
        keys = ", ".join(list(document)[:6])
        raise DataError(f"unknown format: a JSON object (keys {keys}); expected a JSON array of candles", path=path)
    if not isinstance(document, list):
        raise DataError(f"unknown format: JSON {type(document).__name__}; expected a JSON array of candles", path=path)
    if not document:
        raise DataError("file is empty (a JSON array with no elements)", path=path)
    positions = np.arange(len(document))
    first = document[0]
    if isinstance(first, dict):
        columns = tuple(str(key) for key in first)
        for i, item in enumerate(document):
            if not isinstance(item, dict):
                raise DataError(f"expected an object like element [0], found {type(item).__name__}", path=path,
                                where=f"element [{i}]")
        values = {name: np.array([item.get(name) for item in document], dtype=object) for name in columns}
        return Table(path, "json", True, columns, values, positions)
    if isinstance(first, list):
        width = len(first)
        for i, item in enumerate(document):
            if not isinstance(item, list) or len(item) != width:
                size = f"{len(item)} values" if isinstance(item, list) else type(item).__name__
                raise DataError(f"{size} where element [0] has {width}", path=path, where=f"element [{i}]")
        columns = tuple(str(i) for i in range(width))
        values = {name: np.array([item[i] for item in document], dtype=object) for i, name in enumerate(columns)}
        return Table(path, "json", False, columns, values, positions)
    raise DataError(f"unknown format: a JSON array of {type(first).__name__}; expected candles (arrays or objects)",
                    path=path)


def _parquet_table(path: Path, data: bytes) -> Table:
    try:
        frame = pd.read_parquet(io.BytesIO(data))
    except Exception as error:  # pyarrow raises several types for a damaged file
        raise DataError(f"not a readable Parquet file ({type(error).__name__}: {str(error).splitlines()[0]})",
                        path=path) from None
    if not isinstance(frame.index, pd.RangeIndex) and frame.index.name and frame.index.name not in frame.columns:
        frame = frame.reset_index()
    if frame.empty:
        raise DataError("no data rows (the Parquet file has columns but no rows)", path=path)
    columns = tuple(str(c) for c in frame.columns)
    values = {str(c): _parquet_column(frame[c]) for c in frame.columns}
    return Table(path, "parquet", True, columns, values, np.arange(1, len(frame) + 1))


def _parquet_column(column: pd.Series) -> np.ndarray:
    """Time zone-aware times as naive UTC datetime64 (numpy has no zones); the rest as stored."""
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        return column.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    return column.to_numpy()


# -- formats ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Layout:
    """Which of a table's columns hold what. `price_scale_decimals_column` is Chainlink's
    optional per-row `decimals`; `integer_prices` marks answers that still need scaling."""

    time: str
    price: str
    symbol: str | None = None
    decimals_column: str | None = None
    integer_prices: bool = False


@dataclass(frozen=True)
class Format:
    """One export family: its name (for --format), what it looks like, and how to lay it out.
    `match` returns the layout, or a string saying why the table is not this format."""

    name: str
    looks_like: str
    candles: bool  # the price is a candle's close, stamped at the candle's open time
    match: Callable[[Table], Layout | str]


def _require(table: Table, *names: str) -> dict[str, str] | str:
    """normalised name -> own name, or why not: no header, or the columns missing (named as
    the format spells them)."""
    if not table.has_header:
        return "the file has no header row"
    columns = table.normalised()
    missing = [n for n in names if normalise(n) not in columns]
    if missing:
        return f"no column {', '.join(missing)}"
    return columns


def _is_time_name(normalised_name: str) -> bool:
    return normalised_name in TIME_COLUMNS or bool(TIME_COLUMN_WITH_UNIT.match(normalised_name))


def _time_column(columns: dict[str, str]) -> str | None:
    """The first of TIME_COLUMNS present, else the first name like timestamp_ms."""
    named = next((columns[n] for n in TIME_COLUMNS if n in columns), None)
    return named or next((own for norm, own in columns.items() if TIME_COLUMN_WITH_UNIT.match(norm)), None)


def _price_column(columns: dict[str, str], used: set[str]) -> str:
    """The one column whose name says price (else close); failing that, the only column left
    once time and symbol are taken, unless its name says it is not a price (timestamp,volume
    must not load volumes as prices). '' when it cannot be told."""
    rest = [own for norm, own in columns.items() if own not in used and not _is_time_name(norm)]
    for word in ("price", "close"):
        named = [own for own in rest if word in normalise(own)]
        if len(named) == 1:
            return named[0]
        if named:
            return ""
    if len(rest) == 1 and not NOT_A_PRICE.search(normalise(rest[0])):
        return rest[0]
    return ""


def _cryptodatadownload(table: Table) -> Layout | str:
    columns = _require(table, "unix", "date", "symbol", "open", "high", "low", "close")
    if isinstance(columns, str):
        return columns
    if not any(n.startswith("volume_") for n in columns):
        return "no 'Volume <asset>' column"
    return Layout(time=columns["unix"], price=columns["close"], symbol=columns["symbol"])


def _chainlink(table: Table) -> Layout | str:
    columns = _require(table, "roundId", "answer", "updatedAt")
    if isinstance(columns, str):
        return columns
    return Layout(time=columns["updatedat"], price=columns["answer"], decimals_column=columns.get("decimals"),
                  integer_prices=True)


def _coingecko_daily(table: Table) -> Layout | str:
    columns = _require(table, "snapped_at", "price")
    if isinstance(columns, str):
        return columns
    return Layout(time=columns["snapped_at"], price=columns["price"])


def _coingecko_hourly(table: Table) -> Layout | str:
    columns = _require(table, "symbol", "timestamp", "USD_price")
    if isinstance(columns, str):
        return columns
    return Layout(time=columns["timestamp"], price=columns["usd_price"], symbol=columns["symbol"])


def _ohlcv(table: Table) -> Layout | str:
    columns = _require(table, "open", "high", "low", "close")
    if isinstance(columns, str):
        return columns
    time = _time_column(columns)
    if time is None:
        return f"no time column (one of {', '.join(TIME_COLUMNS)})"
    return Layout(time=time, price=columns["close"], symbol=columns.get("symbol"))


def _ohlcv_array(table: Table) -> Layout | str:
    if table.has_header:
        return "the file has a header row (arrays have none)"
    if len(table.columns) < 5:
        return f"{len(table.columns)} values per candle, expected [time, open, high, low, close, volume]"
    return Layout(time="0", price="4")


def _symbol_price(table: Table) -> Layout | str:
    columns = _require(table, "symbol")
    if isinstance(columns, str):
        return columns
    time = _time_column(columns)
    if time is None:
        return f"no time column (one of {', '.join(TIME_COLUMNS)})"
    price = _price_column(columns, {time, columns["symbol"]})
    if not price:
        return f"cannot tell the price column among {', '.join(table.columns)}"
    return Layout(time=time, price=price, symbol=columns["symbol"])


def _timestamp_price(table: Table) -> Layout | str:
    if not table.has_header:
        if len(table.columns) == 2:
            return Layout(time="0", price="1")
        return f"{len(table.columns)} values per row without a header, expected [time, price]"
    columns = table.normalised()
    time = _time_column(columns)
    if time is None:
        return f"no time column (one of {', '.join(TIME_COLUMNS)})"
    if "symbol" in columns:
        return "it has a symbol column (that is symbol-price)"
    price = _price_column(columns, {time})
    if not price:
        return f"cannot tell the price column among {', '.join(table.columns)}"
    return Layout(time=time, price=price)


# Detection tries these in order; the first that matches names the format.
FORMATS: tuple[Format, ...] = (
    Format("cryptodatadownload", "unix,date,symbol,open,high,low,close,Volume X,Volume USDT,tradecount", True,
           _cryptodatadownload),
    Format("chainlink-rounds", "roundId,answer,startedAt,updatedAt (answer scaled by the feed's decimals)", False,
           _chainlink),
    Format("coingecko-daily", "snapped_at,price,market_cap,total_volume", False, _coingecko_daily),
    Format("coingecko-hourly", "symbol,timestamp,USD_price", False, _coingecko_hourly),
    Format("ohlcv", "timestamp,open,high,low,close,volume (ccxt/Binance; CSV or JSON objects)", True, _ohlcv),
    Format("ohlcv-array", "[timestamp, open, high, low, close, volume] rows with no header (ccxt)", True,
           _ohlcv_array),
    Format("symbol-price", "symbol,timestamp,<price>", False, _symbol_price),
    Format("timestamp-price", "timestamp,price (or [timestamp, price] rows)", False, _timestamp_price),
)
FORMAT_NAMES = tuple(f.name for f in FORMATS)


def format_named(name: str) -> Format:
    for candidate in FORMATS:
        if candidate.name == name:
            return candidate
    raise DataError(f"unknown --format {name!r} (known: {', '.join(FORMAT_NAMES)})")


def detect(table: Table) -> tuple[Format, Layout] | None:
    for candidate in FORMATS:
        layout = candidate.match(table)
        if isinstance(layout, Layout):
            return candidate, layout
    return None


def choose_format(table: Table, name: str | None) -> tuple[Format, Layout]:
    """The format `name` says (refused if the file is not that), else the one detected."""
    detected = detect(table)
    if name is None:
        if detected is None:
            shown = ", ".join(table.columns[:8]) if table.has_header else f"{len(table.columns)} unnamed columns"
            raise table.error(f"unknown format (columns {shown}); known formats: {', '.join(FORMAT_NAMES)}")
        return detected
    wanted = format_named(name)
    layout = wanted.match(table)
    if isinstance(layout, str):
        looks = f"it looks like {detected[0].name}" if detected else "it matches no known format"
        raise table.error(f"--format {wanted.name} does not fit: {layout}; {looks}")
    return wanted, layout


def preamble_decimals(table: Table) -> int | None:
    """`decimals 8` (or `decimals: 8`) in a leading comment line of a Chainlink dump."""
    for line in table.preamble:
        found = PREAMBLE_DECIMALS.search(line)
        if found:
            return int(found.group(1))
    return None
