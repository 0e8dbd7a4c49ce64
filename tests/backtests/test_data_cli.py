"""`risk-agent data inspect` as users run it: through the console script's own body in this
process (`agent.cli.run_cli`: same parsing, output and exit codes), and twice through the
installed console script in a subprocess to prove the entry point. Good files: exit 0 and the
report; bad ones: `error: <one line>` on stderr, exit 2, nothing on stdout and nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backtests.data import DATA_DIR
from tests.agent.cli_runner import files_under, run_in_process, run_script
from tests.backtests.test_data_bundled import BUNDLED

PRICES = DATA_DIR / "prices"


@pytest.fixture
def inspect(capsys):
    def run(*args: str, cwd: Path):
        return run_in_process(["data", "inspect", *args], capsys, cwd=cwd)

    return run


@pytest.mark.needs_data
@pytest.mark.parametrize(("name", "fmt", "symbol", "rows", "observations", "first", "last", "cadence_s",
                          "duplicates", "gaps"), BUNDLED, ids=[Path(row[0]).stem for row in BUNDLED])
def test_every_bundled_price_file_inspects_as_json(inspect, tmp_path, name, fmt, symbol, rows, observations, first,
                                                   last,
                                                   cadence_s, duplicates, gaps):
    """Same hand-derived figures as test_data_bundled, through the console script."""
    done = inspect(str(PRICES / name), "--json", cwd=tmp_path)
    assert (done.code, done.stderr) == (0, "")
    report = json.loads(done.stdout)
    assert (report["format"], report["format_from"], report["symbol"]) == (fmt, "detected", symbol)
    assert (report["rows_read"], report["observations"]) == (rows, observations)
    assert (report["first_s"], report["first_price_usd"]) == first
    assert (report["last_s"], report["last_price_usd"]) == last
    assert report["span_s"] == last[0] - first[0]
    assert (report["native_cadence_s"], report["duplicates_dropped"], report["gap_count"]) == (cadence_s, duplicates,
                                                                                              gaps)
    assert len(report["gaps"]) == gaps


@pytest.mark.needs_data
def test_text_report_of_the_binance_eth_file(inspect, tmp_path):
    """Span 2017-08-17 04:00 -> 2021-06-10 00:00 = 1,392 d 20 h; 8 gaps, 16 h missing."""
    done = inspect(str(PRICES / "exchange/binance_ETHUSDT_1h_2017-08_2021-06.csv"), cwd=tmp_path)
    assert done.code == 0
    lines = done.stdout.splitlines()
    assert "format      cryptodatadownload (detected; csv)" in lines
    assert "symbol      ETH (file says ETH/USDT)" in lines
    assert "rows        36,062 read; 33,413 observations" in lines
    assert "span        2017-08-17 04:00:00 UTC -> 2021-06-10 00:00:00 UTC (1392 d 20 h)" in lines
    assert "cadence     1 h (median step)" in lines
    assert "order       newest first; sorted" in lines
    assert ("duplicates  2,649 dropped; 1 with a different price (kept the row nearest the file's newest end):"
            in lines)
    assert "              2020-11-20 07:00:00 UTC kept 491.47, dropped 488.78" in lines
    assert "gaps        8 longer than 1 h 30 min (16 h missing beyond one 1 h step each), never filled:" in lines
    assert "              2017-09-22 19:00:00 UTC -> 2017-09-23 00:00:00 UTC (5 h)" in lines


CHAINLINK = "roundId,answer,startedAt,updatedAt\n1,73210000000,1609459200,1609459200\n"

# id, file name, content (None: a directory), extra arguments, the line on stderr after "error: <path>: "
BAD = [
    ("empty CSV", "p.csv", "", [], "file is empty"),
    ("header-only CSV", "p.csv", "timestamp,price\n", [], "no data rows (header only)"),
    ("malformed date", "p.csv", "timestamp,price\n2021-01-01,1\n2021-02-30,2\n", [],
     "line 3: malformed date '2021-02-30' (column timestamp; expected ISO 8601 or unix s/ms)"),
    ("negative price", "p.csv", "timestamp,price\n1609459200,-1\n", [],
     "line 2: price is negative (-1) (column price); refusing the file"),
    ("zero price", "p.csv", "timestamp,price\n1609459200,0\n", [],
     "line 2: price is zero (column price); refusing the file"),
    ("NaN price", "p.csv", "timestamp,price\n1609459200,NaN\n", [],
     "line 2: price is NaN (column price); refusing the file"),
    ("directory as a file", "d.csv", None, [], "is a directory, not a file"),
    ("unknown extension", "p.xls", "timestamp,price\n1609459200,1\n", [],
     "unknown format '.xls': the extension is not one of .csv, .txt, .json, .parquet"),
    ("another format than --format", "p.csv", "timestamp,price\n1609459200,1\n", ["--format", "coingecko-daily"],
     "--format coingecko-daily does not fit: no column snapped_at; it looks like timestamp-price"),
    ("Chainlink without decimals", "p.csv", CHAINLINK, [],
     "Chainlink answers need the feed's decimals, which the file does not state: give --decimals N "
     "(8 for most USD feeds, 18 for ETH-quoted ones)"),
]
# Option errors have no file to name.
BAD_OPTIONS = [
    ("unknown --format", ["--format", "excel"], "unknown --format 'excel' (known: cryptodatadownload, "
     "chainlink-rounds, coingecko-daily, coingecko-hourly, ohlcv, ohlcv-array, symbol-price, timestamp-price)"),
    ("--decimals not a number", ["--decimals", "eight"], "--decimals 'eight' is not a whole number"),
    ("--gap-threshold not a duration", ["--gap-threshold", "soon"],
     "--gap-threshold 'soon' is not a positive duration (e.g. 90m, 3h, 2d or seconds)"),
]


@pytest.mark.parametrize(("name", "content", "args", "message"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_file_is_one_error_line_exit_2_nothing_written(inspect, tmp_path, name, content, args, message):
    path = tmp_path / name
    if content is None:
        path.mkdir()
    else:
        path.write_text(content)
    before = files_under(tmp_path)
    done = inspect(str(path), *args, cwd=tmp_path)
    assert done.code == 2
    assert done.stdout == ""
    shown = path if content is None else path.resolve()
    assert done.stderr == f"error: {shown}: {message}\n"
    assert files_under(tmp_path) == before


@pytest.mark.parametrize(("args", "message"), [c[1:] for c in BAD_OPTIONS], ids=[c[0] for c in BAD_OPTIONS])
def test_bad_option_is_one_error_line_exit_2(inspect, tmp_path, args, message):
    path = tmp_path / "p.csv"
    path.write_text("timestamp,price\n1609459200,1\n")
    done = inspect(str(path), *args, cwd=tmp_path)
    assert (done.code, done.stdout, done.stderr) == (2, "", f"error: {message}\n")


# Reported, not refused: id, content, arguments, a line the report must contain.
REPORTED = [
    ("conflicting duplicate", "timestamp,price\n1609459200,1\n1609462800,2\n1609462800,2.5\n", [],
     "duplicates  1 dropped; 1 with a different price (kept the row nearest the file's newest end):"),
    ("non-monotonic input", "timestamp,price\n1609459200,1\n1609466400,3\n1609462800,2\n1609470000,4\n", [],
     "order       unordered (1 steps backwards); sorted"),
    ("gap", "timestamp,price\n1609459200,1\n1609462800,2\n1609466400,3\n1609480800,4\n", [],
     "gaps        1 longer than 1 h 30 min (3 h missing beyond one 1 h step each), never filled:"),
    ("gap threshold option", "timestamp,price\n1609459200,1\n1609462800,2\n1609466400,3\n1609480800,4\n",
     ["--gap-threshold", "4h"], "gaps        0 longer than 4 h"),
    ("Chainlink with --decimals", CHAINLINK + "2,73590000000,1609462800,1609462800\n", ["--decimals", "8"],
     "prices      first 732.1, last 735.9"),
    ("multi-symbol file with --symbol", "symbol,timestamp,price\nBTC,1609459200,29000\nETH,1609459200,730\n",
     ["--symbol", "ETH"], "rows        1 read; 1 observations; 1 rows of other symbols skipped"),
]


@pytest.mark.parametrize(("content", "args", "line"), [c[1:] for c in REPORTED], ids=[c[0] for c in REPORTED])
def test_findings_are_reported_with_exit_0(inspect, tmp_path, content, args, line):
    path = tmp_path / "p.csv"
    path.write_text(content)
    done = inspect(str(path), *args, cwd=tmp_path)
    assert (done.code, done.stderr) == (0, "")
    assert line in done.stdout.splitlines()


def test_the_console_script_prints_the_same(tmp_path):
    """The installed entry point, once good and once bad: same report, same one-line error."""
    good = tmp_path / "p.csv"
    good.write_text("timestamp,price\n1609459200,1\n1609462800,2\n")
    done = run_script(["data", "inspect", str(good), "--json"], cwd=tmp_path)
    assert (done.code, done.stderr) == (0, "")
    assert (json.loads(done.stdout)["observations"], json.loads(done.stdout)["format"]) == (2, "timestamp-price")
    bad = tmp_path / "empty.csv"
    bad.write_text("")
    done = run_script(["data", "inspect", str(bad)], cwd=tmp_path)
    assert (done.code, done.stdout, done.stderr) == (2, "", f"error: {bad.resolve()}: file is empty\n")
