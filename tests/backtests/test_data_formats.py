"""Each analyst format is detected from its content and read to the right times and prices.

Times by hand: 2021-01-01T00:00:00Z = 1,609,459,200 s (`date -ud @1609459200`); +1 h =
1,609,462,800; +1 d = 1,609,545,600. Unix numbers take the unit that puts them in 2000..2100
(946,684,800 <= s < 4,102,444,800; ms/us/ns the same window times 1e3/1e6/1e9)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from backtests.formats import DataError
from backtests.loaders import load_prices

T0, T1, D1 = 1_609_459_200, 1_609_462_800, 1_609_545_600

CASES = [
    # id, file name, content, options, format, symbol, times, prices
    ("ccxt-iso", "eth-1h.csv",
     "timestamp,open,high,low,close,volume\n2021-01-01T00:00:00Z,1,2,0.5,1.5,10\n"
     "2021-01-01T01:00:00Z,1.5,2.5,1.4,2.25,11\n",
     {}, "ohlcv", "ETH", [T0, T1], [1.5, 2.25]),
    ("ccxt-unix-ms", "eth.csv",
     "timestamp,open,high,low,close,volume\n1609459200000,1,2,0.5,1.5,10\n1609462800000,1.5,2.5,1.4,2.25,11\n",
     {}, "ohlcv", "ETH", [T0, T1], [1.5, 2.25]),
    ("ccxt-unix-s", "eth.csv",
     "timestamp,open,high,low,close,volume\n1609459200,1,2,0.5,1.5,10\n1609462800,1.5,2.5,1.4,2.25,11\n",
     {}, "ohlcv", "ETH", [T0, T1], [1.5, 2.25]),
    ("ccxt-headerless-csv", "btc_1h.csv",
     "1609459200000,1,2,0.5,1.5,10\n1609462800000,1.5,2.5,1.4,2.25,11\n",
     {}, "ohlcv-array", "BTC", [T0, T1], [1.5, 2.25]),
    ("ccxt-json-arrays", "btc.json",
     "[[1609459200000, 1, 2, 0.5, 1.5, 10], [1609462800000, 1.5, 2.5, 1.4, 2.25, 11]]",
     {}, "ohlcv-array", "BTC", [T0, T1], [1.5, 2.25]),
    ("binance-klines-json", "btc.json",  # Binance /api/v3/klines: 12 values, prices as strings
     '[[1609459200000,"1.0","2.0","0.5","1.5","10.0",1609462799999,"15.0",3,"5","7","0"],'
     ' [1609462800000,"1.5","2.5","1.4","2.25","11.0",1609466399999,"24.0",4,"6","8","0"]]',
     {}, "ohlcv-array", "BTC", [T0, T1], [1.5, 2.25]),
    ("json-candle-objects", "link.json",
     json.dumps([{"timestamp": "2021-01-01T00:00:00Z", "open": 1, "high": 2, "low": 0.5, "close": 1.5, "volume": 3},
                 {"timestamp": "2021-01-01T01:00:00Z", "open": 1.5, "high": 2.5, "low": 1.4, "close": "2.25",
                  "volume": 4}]),
     {}, "ohlcv", "LINK", [T0, T1], [1.5, 2.25]),
    ("cryptodatadownload", "Binance_ETHUSDT_1h.csv",
     "https://www.CryptoDataDownload.com\n"
     "unix,date,symbol,open,high,low,close,Volume ETH,Volume USDT,tradecount\n"
     "1609462800000,2021-01-01 01:00:00,ETH/USDT,729.1,731,728,730.5,10,7300,100\n"
     "1609459200,2021-01-01 12-AM,ETH/USDT,728,730,727,729.1,11,8000,NULL\n",
     {}, "cryptodatadownload", "ETH", [T0, T1], [729.1, 730.5]),
    ("coingecko-daily", "eth-usd-max.csv",
     "snapped_at,price,market_cap,total_volume\n2021-01-01 00:00:00 UTC,729.1,1e11,2e10\n"
     "2021-01-02 00:00:00 UTC,774.5,1.1e11,2.1e10\n",
     {}, "coingecko-daily", "ETH", [T0, D1], [729.1, 774.5]),
    ("coingecko-hourly", "x.csv",  # ms floored to the second: .627 and .882 dropped
     "symbol,timestamp,USD_price\nWETH,1609459468627,732.1\nWETH,1609463014882,735.9\n",
     {}, "coingecko-hourly", "WETH", [1_609_459_468, 1_609_463_014], [732.1, 735.9]),
    ("chainlink-decimals-option", "eth-usd-rounds.csv",  # 73,210,000,000 / 1e8 = 732.1
     "roundId,answer,startedAt,updatedAt,answeredInRound\n"
     "92233720368547758081,73210000000,1609459200,1609459200,92233720368547758081\n"
     "92233720368547758082,73590000000,1609462790,1609462800,92233720368547758082\n",
     {"decimals": 8}, "chainlink-rounds", "ETH", [T0, T1], [732.1, 735.9]),
    ("chainlink-decimals-column", "steth-eth.csv",  # 18 decimals: 998,500,000,000,000,000 = 0.9985
     "roundId,answer,startedAt,updatedAt,decimals\n1,998500000000000000,1609459200,1609459200,18\n"
     "2,1000000000000000000,1609462800,1609462800,18\n",
     {}, "chainlink-rounds", "STETH", [T0, T1], [0.9985, 1.0]),
    ("chainlink-decimals-comment", "feed.csv",
     "# ETH / USD aggregator, decimals: 8\nroundId,answer,startedAt,updatedAt\n1,73210000000,1609459200,1609459200\n"
     "2,73590000000,1609462800,1609462800\n",
     {}, "chainlink-rounds", "FEED", [T0, T1], [732.1, 735.9]),
    ("symbol-timestamp-price", "export.csv",
     "symbol,timestamp,close_usd\nLINK,2021-01-01T00:00:00Z,11.25\nLINK,2021-01-01T01:00:00Z,11.5\n",
     {}, "symbol-price", "LINK", [T0, T1], [11.25, 11.5]),
    ("generic-iso", "p.csv", "timestamp,price\n2021-01-01T00:00:00Z,2\n2021-01-01T01:00:00Z,3\n",
     {"symbol": "ETH"}, "timestamp-price", "ETH", [T0, T1], [2.0, 3.0]),
    ("generic-unix-s", "p.csv", "timestamp,price\n1609459200,2\n1609462800,3\n",
     {"symbol": "ETH"}, "timestamp-price", "ETH", [T0, T1], [2.0, 3.0]),
    ("generic-unix-ms", "p.csv", "time,price\n1609459200000,2\n1609462800000,3\n",
     {"symbol": "ETH"}, "timestamp-price", "ETH", [T0, T1], [2.0, 3.0]),
    ("generic-unix-mixed-s-ms", "p.csv", "timestamp,price\n1609459200,2\n1609462800000,3\n",
     {"symbol": "ETH"}, "timestamp-price", "ETH", [T0, T1], [2.0, 3.0]),
    ("generic-unix-us-ns-float", "p.csv", "timestamp,price\n1609459200000000,2\n1.6094628e18,3\n",
     {"symbol": "ETH"}, "timestamp-price", "ETH", [T0, T1], [2.0, 3.0]),
    ("generic-named-seconds-holding-ms", "p.csv",  # the name says seconds; the magnitude says ms
     "timestamp_s,price\n1609459200000,2\n1609462800000,3\n",
     {"symbol": "ETH", "format_name": "timestamp-price"}, "timestamp-price", "ETH", [T0, T1], [2.0, 3.0]),
    ("json-time-price-pairs", "eth.json", "[[1609459200000, 2.0], [1609462800000, 3.0]]",
     {}, "timestamp-price", "ETH", [T0, T1], [2.0, 3.0]),
    ("txt-extension", "eth.txt", "timestamp,price\n1609459200,2\n1609462800,3\n",
     {}, "timestamp-price", "ETH", [T0, T1], [2.0, 3.0]),
]


@pytest.mark.parametrize(("name", "content", "options", "fmt", "symbol", "times", "prices"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_format_detected_from_content(tmp_path, name, content, options, fmt, symbol, times, prices):
    path = tmp_path / name
    path.write_text(content)
    loaded = load_prices(path, **options)
    assert (loaded.source.format, loaded.symbol) == (fmt, symbol)
    assert loaded.observations.timestamps_s.tolist() == times
    assert loaded.observations.prices_usd.tolist() == prices


def test_timestamp_unit_column_name_is_ignored(tmp_path):
    """A column called timestamp_s holding ms is read as ms; the same digits as s would be
    year 52,971, so no unit fits and the file is refused rather than guessed."""
    path = tmp_path / "p.csv"
    path.write_text("timestamp,price\n16094592000,2\n")
    with pytest.raises(DataError, match=r"line 2: timestamp '16094592000' fits no unit"):
        load_prices(path)


@pytest.mark.parametrize(("value", "expected"), [
    ("946684800", 946_684_800),  # 2000-01-01 in s: the lowest accepted
    ("4102444799", 4_102_444_799),  # the last second before 2100
    ("946684800000", 946_684_800),  # the same instant in ms
    ("4102444799999", 4_102_444_799),
])
def test_unit_window_edges_accepted(tmp_path, value, expected):
    path = tmp_path / "p.csv"
    path.write_text(f"timestamp,price\n{value},1\n")
    assert load_prices(path).observations.timestamps_s.tolist() == [expected]


@pytest.mark.parametrize("value", ["946684799", "4102444800", "946684799999", "0", "-1609459200"])
def test_unit_window_edges_refused(tmp_path, value):
    path = tmp_path / "p.csv"
    path.write_text(f"timestamp,price\n{value},1\n")
    with pytest.raises(DataError, match=rf"line 2: timestamp '{value}' fits no unit"):
        load_prices(path)


@pytest.mark.parametrize(("text", "expected"), [
    ("2021-01-01T00:00:00Z", T0),
    ("2021-01-01T02:00:00+02:00", T0),
    ("2020-12-31T19:00:00-05:00", T0),
    ("2021-01-01 00:00:00", T0),  # naive: UTC
    ("2021-01-01", T0),  # date only: midnight UTC
    ("2021-01-01 00:00:00 UTC", T0),  # CoinGecko's spelling
    ("2021-01-01T00:00:00.5+00:00", T0),  # fractional seconds floor
    ("2021-01-01T00:00:59.999999Z", T0 + 59),
    ("2021-01-01T00:59:59.999999999Z", T0 + 3_599),  # ns resolution: still the hour it belongs to
])
def test_iso_timestamps_under_pandas_3(tmp_path, text, expected):
    path = tmp_path / "p.csv"
    path.write_text(f"timestamp,price\n{text},1\n")
    assert load_prices(path).observations.timestamps_s.tolist() == [expected]


def test_iso_mixed_offsets_and_shapes_in_one_column(tmp_path):
    """pandas 3 infers one format from the first row; later rows of another shape would be NaT
    or shifted. Every row here is a different hour, written four ways."""
    path = tmp_path / "p.csv"
    path.write_text("timestamp,price\n2021-01-01,1\n2021-01-01T03:00:00+02:00,2\n2021-01-01T02:00:00Z,3\n"
                    "2021-01-01 03:00:00.250,4\n")
    loaded = load_prices(path)
    assert loaded.observations.timestamps_s.tolist() == [T0, T1, T0 + 7_200, T0 + 10_800]
    assert loaded.observations.prices_usd.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert loaded.findings.timestamp_units == ("iso",)


def test_parquet_with_datetime_column(tmp_path):
    path = tmp_path / "eth.parquet"
    pd.DataFrame({"timestamp": pd.to_datetime(["2021-01-01 00:00", "2021-01-01 01:00"], utc=True),
                  "price": [2.0, 3.0]}).to_parquet(path)
    loaded = load_prices(path)
    assert (loaded.source.format, loaded.source.container) == ("timestamp-price", "parquet")
    assert loaded.observations.timestamps_s.tolist() == [T0, T1]


def test_format_option_reads_a_file_as_another_compatible_format(tmp_path):
    """A CryptoDataDownload file is also OHLCV (unix + open/high/low/close): --format ohlcv
    reads the same closes; the record says which format was used."""
    path = tmp_path / "cdd.csv"
    path.write_text(CASES[7][2])
    loaded = load_prices(path, format_name="ohlcv")
    assert loaded.source.format == "ohlcv"
    assert loaded.observations.prices_usd.tolist() == [729.1, 730.5]


def test_conflicting_duplicate_in_an_ascending_file_keeps_the_later_row(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("timestamp,price\n1609459200,1\n1609462800,2\n1609462800,2.5\n1609462800,2.5\n1609466400,3\n")
    loaded = load_prices(path)
    found = loaded.findings
    assert loaded.observations.prices_usd.tolist() == [1.0, 2.5, 3.0]
    assert found.duplicates_dropped == 2
    assert [(c.timestamp_s, c.kept_price_usd, c.dropped_prices_usd) for c in found.conflicting_duplicates] == [
        (T1, 2.5, (2.0,))]


def test_identical_duplicates_are_not_conflicts(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("timestamp,price\n1609459200,1\n1609459200,1.0\n1609462800,2\n")
    found = load_prices(path).findings
    assert (found.duplicates_dropped, found.conflicting_duplicates) == (1, ())


def test_non_monotonic_input_is_sorted_and_reported(tmp_path):
    """Steps +2 h, -1 h, +2 h: two forward, one backward -> unordered, 1 step against."""
    path = tmp_path / "p.csv"
    path.write_text("timestamp,price\n1609459200,1\n1609466400,3\n1609462800,2\n1609470000,4\n")
    loaded = load_prices(path)
    assert loaded.observations.timestamps_s.tolist() == [T0, T1, T0 + 7_200, T0 + 10_800]
    assert loaded.observations.prices_usd.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert (loaded.findings.input_order, loaded.findings.out_of_order_steps) == ("unordered", 1)


def test_gaps_are_counted_listed_and_never_filled(tmp_path):
    """Hourly, then 3 h and 5 h jumps: cadence 1 h (median of 1,1,3,1,5 h), threshold 1.5 h,
    two gaps, 2 + 4 = 6 hours missing; the observations stay the 6 rows given."""
    hours = [0, 1, 2, 5, 6, 11]
    path = tmp_path / "p.csv"
    path.write_text("timestamp,price\n" + "".join(f"{T0 + 3_600 * h},{h + 1}\n" for h in hours))
    loaded = load_prices(path)
    found = loaded.findings
    assert len(loaded.observations) == 6
    assert (found.native_cadence_s, found.gap_threshold_s) == (3_600, 5_400)
    assert [(g.after_s, g.before_s) for g in found.gaps] == [(T0 + 7_200, T0 + 18_000), (T0 + 21_600, T0 + 39_600)]
    assert found.gap_missing_s == 6 * 3_600
    wider = load_prices(path, gap_threshold_s=4 * 3_600).findings
    assert [g.length_s for g in wider.gaps] == [5 * 3_600]


def test_a_step_equal_to_the_threshold_is_not_a_gap(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("timestamp,price\n1609459200,1\n1609462800,2\n1609466400,3\n1609473600,4\n")
    assert load_prices(path, gap_threshold_s=7_200).findings.gaps == ()
    assert len(load_prices(path, gap_threshold_s=7_199).findings.gaps) == 1


def test_multi_symbol_export_picks_one_with_symbol(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("symbol,timestamp,price\nBTC,1609459200,29000\nETH,1609459200,730\nETH,1609462800,735\n")
    loaded = load_prices(path, symbol="eth")
    assert (loaded.symbol, loaded.observations.prices_usd.tolist()) == ("ETH", [730.0, 735.0])
    assert (loaded.findings.rows_read, loaded.findings.rows_other_symbols) == (2, 1)


def test_observations_are_read_only_and_cut_without_look_ahead(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("timestamp,price\n1609459200,1\n1609462800,2\n1609466400,3\n")
    observations = load_prices(path).observations
    with pytest.raises(ValueError, match="read-only"):
        observations.prices_usd[0] = 5.0
    assert observations.until(T1).timestamps_s.tolist() == [T0, T1]
    assert observations.until(T1 - 1).timestamps_s.tolist() == [T0]
    assert observations.between(T1, T1 + 3_600).prices_usd.tolist() == [2.0, 3.0]
    assert np.array_equal(observations.until(T0 + 10**6).timestamps_s, observations.timestamps_s)


def test_quoted_or_spaced_csv_reads_the_same_as_plain(tmp_path):
    """Quotes and blank lines send a file to the exact (csv module) reader; it must agree with
    the fast one, and name lines by their number in the file."""
    plain = tmp_path / "plain.csv"
    plain.write_text("timestamp,price\n1609459200,1.5\n1609462800,2.25\n")
    quoted = tmp_path / "quoted.csv"
    quoted.write_text('"timestamp","price"\n\n"1609459200","1.5"\n1609462800,2.25\n')
    a, b = load_prices(plain), load_prices(quoted)
    assert np.array_equal(a.observations.timestamps_s, b.observations.timestamps_s)
    assert np.array_equal(a.observations.prices_usd, b.observations.prices_usd)
    bad = tmp_path / "bad.csv"
    bad.write_text('timestamp,price\n\n"1609459200",1\n\n1609462800,-1\n')
    with pytest.raises(DataError, match=r"bad.csv: line 5: price is negative \(-1\)"):
        load_prices(bad)


def test_candle_closes_are_known_at_the_candle_end(tmp_path):
    """Hourly candles opened at 00:00 and 01:00 close at 01:00 and 02:00: that is when a
    decision may first use them. Point-in-time prices keep their own times."""
    candles = tmp_path / "eth.csv"
    candles.write_text("timestamp,open,high,low,close,volume\n"
                       "1609459200,1,2,0.5,1.5,10\n1609462800,1.5,2.5,1.4,2.25,11\n")
    loaded = load_prices(candles)
    assert loaded.observations.timestamps_s.tolist() == [T0, T1]
    assert loaded.when_known().timestamps_s.tolist() == [T1, T1 + 3_600]
    assert loaded.when_known().prices_usd.tolist() == [1.5, 2.25]
    prints = tmp_path / "p.csv"
    prints.write_text("timestamp,price\n1609459200,1\n1609462800,2\n")
    assert load_prices(prints).when_known().timestamps_s.tolist() == [T0, T1]
    single = tmp_path / "one.csv"
    single.write_text("timestamp,open,high,low,close,volume\n1609459200,1,2,0.5,1.5,10\n")
    with pytest.raises(DataError, match="one candle only"):
        load_prices(single).when_known()
