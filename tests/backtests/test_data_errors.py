"""Bad input: one `DataError` whose text is the file, the row when there is one, and what is
wrong, in one line. One row per case; the expected text is the whole message after the path."""

from __future__ import annotations

import pytest

from backtests.formats import DataError
from backtests.loaders import load_prices

KNOWN = ("cryptodatadownload, chainlink-rounds, coingecko-daily, coingecko-hourly, ohlcv, ohlcv-array, "
         "symbol-price, timestamp-price")
COINGECKO_HOURLY = "symbol,timestamp,USD_price\nWETH,1609459468627,732.1\n"
CHAINLINK = "roundId,answer,startedAt,updatedAt\n1,73210000000,1609459200,1609459200\n"

# id, file name, content (None: the test makes a directory there; "absent": no file), options, message
CASES = [
    ("empty file", "p.csv", "", {}, "file is empty"),
    ("blank lines only", "p.csv", " \n\n", {}, "file is empty"),
    ("header-only CSV", "p.csv", "timestamp,price\n", {}, "no data rows (header only)"),
    ("header-only CDD with its URL line", "p.csv",
     "https://www.CryptoDataDownload.com\nunix,date,symbol,open,high,low,close,Volume ETH,Volume USDT,tradecount\n",
     {}, "no data rows (header only)"),
    ("empty JSON array", "p.json", "[]", {}, "file is empty (a JSON array with no elements)"),
    ("malformed date", "p.csv", "timestamp,price\n2021-01-01,1\n2021-13-01,2\n", {},
     "line 3: malformed date '2021-13-01' (column timestamp; expected ISO 8601 or unix s/ms)"),
    ("malformed date text", "p.csv", "timestamp,price\n2021-01-01,1\nyesterday,2\n", {},
     "line 3: malformed date 'yesterday' (column timestamp; expected ISO 8601 or unix s/ms)"),
    ("Binance am/pm date as the time", "p.csv", "date,price\n2017-08-17 05-AM,1\n", {},
     "line 2: malformed date '2017-08-17 05-AM' (column date; expected ISO 8601 or unix s/ms)"),
    ("date before 2000", "p.csv", "timestamp,price\n1999-12-31T23:59:59Z,1\n", {},
     "line 2: timestamp '1999-12-31T23:59:59Z' is outside 2000..2100 (column timestamp)"),
    ("unix value that fits no unit", "p.csv", "timestamp,price\n1609459200,1\n16094592000,2\n", {},
     "line 3: timestamp '16094592000' fits no unit (unix s, ms, us or ns between 2000 and 2100)"),
    ("missing timestamp", "p.csv", "timestamp,price\n,1\n", {}, "line 2: timestamp is missing (column timestamp)"),
    ("negative price", "p.csv", "timestamp,price\n1609459200,1\n1609462800,-2\n", {},
     "line 3: price is negative (-2) (column price); refusing the file"),
    ("zero price", "p.csv", "timestamp,price\n1609459200,0\n", {},
     "line 2: price is zero (column price); refusing the file"),
    ("NaN price, counted", "p.csv", "timestamp,price\n1609459200,1\n1609462800,NaN\n1609466400,nan\n", {},
     "line 3: price is NaN (column price); refusing the file (first of 2 bad prices)"),
    ("empty price", "p.csv", "timestamp,price\n1609459200,\n", {},
     "line 2: price is missing (column price); refusing the file"),
    ("JSON null price", "p.json", '[{"timestamp": 1609459200, "price": 1}, {"timestamp": 1609462800, "price": null}]',
     {}, "element [1]: price is missing (column price); refusing the file"),
    ("text price", "p.csv", "timestamp,price\n1609459200,abc\n", {},
     "line 2: price 'abc' is not a number (column price); refusing the file"),
    ("infinite price", "p.csv", "timestamp,price\n1609459200,inf\n", {},
     "line 2: price is infinite (column price); refusing the file"),
    ("negative candle close", "p.csv", "timestamp,open,high,low,close,volume\n1609459200,1,2,0.5,-1.5,3\n", {},
     "line 2: price is negative (-1.5) (column close); refusing the file"),
    ("bad price in the first row of a headerless file", "p.csv", "1609459200000,1,2,0.5,NaN,10\n", {},
     "line 1: price is NaN (field 5); refusing the file"),
    ("ragged CSV row", "p.csv", "timestamp,price\n1609459200,1\n1609462800,2,3\n", {},
     "line 3: 3 fields where the header has 2"),
    ("repeated column", "p.csv", "timestamp,timestamp,price\n1,2,3\n", {},
     "repeated column names in the header (line 1): timestamp, timestamp, price"),
    ("directory given as a file", "prices.csv", None, {}, "is a directory, not a file"),
    ("file not found", "absent.csv", "absent", {}, "data file not found"),
    ("unknown extension", "p.xlsx", "timestamp,price\n1609459200,1\n", {},
     "unknown format '.xlsx': the extension is not one of .csv, .txt, .json, .parquet"),
    ("no extension", "prices", "timestamp,price\n1609459200,1\n", {},
     "unknown format: the file name has no extension (expected .csv, .txt, .json, .parquet)"),
    ("unknown columns", "p.csv", "a,b\n1,2\n", {}, f"unknown format (columns a, b); known formats: {KNOWN}"),
    ("another format than --format says", "p.csv", COINGECKO_HOURLY, {"format_name": "chainlink-rounds"},
     "--format chainlink-rounds does not fit: no column roundId, answer, updatedAt; it looks like coingecko-hourly"),
    ("CDD read as CoinGecko daily", "p.csv",
     "unix,date,symbol,open,high,low,close,Volume ETH,Volume USDT,tradecount\n"
     "1609459200,2021-01-01 00:00:00,ETH/USDT,1,2,0.5,1.5,3,4,5\n", {"format_name": "coingecko-daily"},
     "--format coingecko-daily does not fit: no column snapped_at, price; it looks like cryptodatadownload"),
    ("headerless arrays read as OHLCV with header", "p.csv", "1609459200000,1,2,0.5,1.5,10\n",
     {"format_name": "ohlcv"}, "--format ohlcv does not fit: the file has no header row; it looks like ohlcv-array"),
    ("price column cannot be told", "p.csv", "timestamp,bid,ask\n1609459200,1,2\n",
     {"format_name": "timestamp-price"},
     "--format timestamp-price does not fit: cannot tell the price column among timestamp, bid, ask; "
     "it matches no known format"),
    ("a volume is not a price", "p.csv", "timestamp,volume\n1609459200,5\n", {},
     f"unknown format (columns timestamp, volume); known formats: {KNOWN}"),
    ("two price columns", "p.csv", "timestamp,price_usd,price_eth\n1609459200,2000,1\n",
     {"format_name": "timestamp-price"},
     "--format timestamp-price does not fit: cannot tell the price column among timestamp, price_usd, price_eth; "
     "it matches no known format"),
    ("Chainlink dump without decimals", "p.csv", CHAINLINK, {},
     "Chainlink answers need the feed's decimals, which the file does not state: give --decimals N "
     "(8 for most USD feeds, 18 for ETH-quoted ones)"),
    ("Chainlink decimals disagree", "p.csv", "# decimals 8\n" + CHAINLINK, {"decimals": 18},
     "decimals disagree: --decimals says 18, the comment line says 8"),
    ("Chainlink answer already scaled", "p.csv", "roundId,answer,startedAt,updatedAt\n1,732.1,1609459200,1609459200\n",
     {"decimals": 8}, "line 2: answer '732.1' is not an integer (Chainlink answers are scaled integers; "
                      "is this file already in USD?)"),
    ("Chainlink zero answer", "p.csv", "roundId,answer,startedAt,updatedAt\n1,0,1609459200,1609459200\n",
     {"decimals": 8}, "line 2: price is zero (column answer); refusing the file"),
    ("incomplete Chainlink round (updatedAt 0)", "p.csv", "roundId,answer,startedAt,updatedAt\n1,1,0,0\n",
     {"decimals": 8}, "line 2: timestamp '0' fits no unit (unix s, ms, us or ns between 2000 and 2100)"),
    ("--decimals on a non-Chainlink file", "p.csv", COINGECKO_HOURLY, {"decimals": 8},
     "--decimals applies to Chainlink round dumps only (this file is coingecko-hourly)"),
    ("several symbols, none chosen", "p.csv", "symbol,timestamp,price\nBTC,1609459200,1\nETH,1609459200,2\n", {},
     "the file holds 2 symbols (BTC, ETH); choose one with --symbol"),
    ("symbol not in a multi-symbol file", "p.csv", "symbol,timestamp,price\nBTC,1609459200,1\nETH,1609459200,2\n",
     {"symbol": "SOL"}, "no rows for symbol 'SOL' (the file has BTC, ETH)"),
    ("--symbol contradicts the file", "p.csv", COINGECKO_HOURLY, {"symbol": "WBTC"},
     "the file's symbol is WETH, not WBTC (drop --symbol or pick the right file)"),
    ("JSON object, not an array", "p.json", '{"prices": [[1609459200000, 1]]}', {},
     "unknown format: a JSON object (keys prices); expected a JSON array of candles"),
    ("JSON array of numbers", "p.json", "[1, 2]", {},
     "unknown format: a JSON array of int; expected candles (arrays or objects)"),
    ("truncated JSON", "p.json", "[[1609459200000, 1], ", {}, "line 1: not valid JSON (Expecting value)"),
    ("ragged JSON candles", "p.json", "[[1609459200000,1,2,0.5,1.5,10],[1609462800000,1,2,0.5,1.5]]", {},
     "element [1]: 5 values where element [0] has 6"),
    ("text named .parquet", "p.parquet", "timestamp,price\n1609459200,1\n", {},
     "not a Parquet file (it does not start with the PAR1 magic bytes)"),
    ("binary junk", "p.csv", b"\xff\xfe\x00junk", {}, "not UTF-8 text (byte 0 cannot be decoded)"),
]


@pytest.mark.parametrize(("name", "content", "options", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_named_line(tmp_path, name, content, options, message):
    path = tmp_path / name
    if content is None:
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content != "absent":
        path.write_text(content)
    with pytest.raises(DataError) as caught:
        load_prices(path, **options)
    text = str(caught.value)
    assert "\n" not in text
    shown = path.resolve() if path.exists() and not path.is_dir() else path
    assert text == f"{shown}: {message}"


@pytest.mark.parametrize(("options", "message"), [
    ({"format_name": "excel"}, f"unknown --format 'excel' (known: {KNOWN})"),
    ({"gap_threshold_s": 0}, "the gap threshold must be positive, not 0 s"),
])
def test_bad_options_are_one_line(tmp_path, options, message):
    path = tmp_path / "p.csv"
    path.write_text("timestamp,price\n1609459200,1\n")
    with pytest.raises(DataError) as caught:
        load_prices(path, **options)
    assert str(caught.value) == message
