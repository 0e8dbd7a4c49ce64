"""Every bundled price file loads, with figures derived from the file itself, not the loader.

How the expected values were derived (shell and Python's standard library, no pandas):
- rows: `awk 'END{print NR-1}' FILE` (the CoinGecko hourly files have no final newline, so
  `wc -l` shows one less); first/last price and time: `sed -n 2p FILE`, `tail -n1 FILE`
  (the Binance files run newest first, so their first observation is the last line);
  CoinGecko hourly times are unix ms, floored to seconds.
- Binance: `awk -F, 'NR>1{u=$1+0; if(u>1e11) u=u/1000; printf "%d\\n", u}' FILE | sort -n | uniq`
  gives 33,413 distinct hours of 36,062 rows (2,649 doubled); consecutive steps other than
  3,600 s: 7,200 x4, 10,800 x1, 14,400 x2, 18,000 x1 -> 8 gaps, 16 hours missing. One doubled
  hour has two closes (2020-11-20 07:00: the complete ms-stamped candle above, 491.47 ETH /
  18,212.00 BTC, and a partial s-stamped one below, 488.78 / 18,143.03).
- cadence and gaps: the median of the distinct steps, a gap being a step > round(1.5 x median)
  (`sort -n | awk` over the steps); daily files via `csv` + `datetime.strptime`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from backtests.data import DATA_DIR
from backtests.loaders import load_prices

HOUR, DAY = 3_600, 86_400

# path, format, symbol, rows, observations, (first_s, first price), (last_s, last price), cadence_s, duplicates, gaps
BUNDLED = [
    ("exchange/binance_ETHUSDT_1h_2017-08_2021-06.csv", "cryptodatadownload", "ETH", 36_062, 33_413,
     (1_502_942_400, 300.79), (1_623_283_200, 2_620.87), HOUR, 2_649, 8),
    ("exchange/binance_BTCUSDT_1h_2017-08_2021-06.csv", "cryptodatadownload", "BTC", 36_062, 33_413,
     (1_502_942_400, 4_308.83), (1_623_283_200, 37_584.76), HOUR, 2_649, 8),
    ("coingecko_hourly/AAVE_usd_coingecko_1h_2021-2023.csv", "coingecko-hourly", "AAVE", 18_864, 18_864,
     (1_609_459_468, 88.32623523901846), (1_677_366_061, 79.32423603764273), 3_602, 0, 45),
    ("coingecko_hourly/CRV_usd_coingecko_1h_2021-2023.csv", "coingecko-hourly", "CRV", 18_862, 18_862,
     (1_609_459_491, 0.6277716144774161), (1_677_366_253, 0.9815117164518224), 3_601, 0, 37),
    ("coingecko_hourly/DAI_usd_coingecko_1h_2021-2023.csv", "coingecko-hourly", "DAI", 18_848, 18_848,
     (1_609_460_390, 1.0026058594748208), (1_677_366_254, 0.9988589279864074), 3_600, 0, 50),
    ("coingecko_hourly/LINK_usd_coingecko_1h_2021-2023.csv", "coingecko-hourly", "LINK", 18_865, 18_865,
     (1_609_460_241, 11.176571179573989), (1_677_366_249, 7.354390316574767), 3_600, 0, 35),
    ("coingecko_hourly/USDC_usd_coingecko_1h_2021-2023.csv", "coingecko-hourly", "USDC", 18_869, 18_869,
     (1_609_461_095, 1.000914732028954), (1_677_366_004, 0.9988698482225552), 3_601, 0, 38),
    ("coingecko_hourly/USDT_usd_coingecko_1h_2021-2023.csv", "coingecko-hourly", "USDT", 18_845, 18_845,
     (1_609_460_248, 1.0007250882869214), (1_677_366_045, 0.9988473409944442), 3_600, 0, 62),
    ("coingecko_hourly/UST_usd_coingecko_1h_2021-2023.csv", "coingecko-hourly", "UST", 10_808, 10_808,
     (1_638_414_023, 1.0045924994714848), (1_677_366_100, 0.0287078069729136), 3_600, 0, 10),
    ("coingecko_hourly/WBTC_usd_coingecko_1h_2021-2023.csv", "coingecko-hourly", "WBTC", 18_833, 18_833,
     (1_609_460_960, 28_795.726853279964), (1_677_366_049, 23_101.416652937933), 3_600, 0, 28),
    ("coingecko_hourly/WETH_usd_coingecko_1h_2021-2023.csv", "coingecko-hourly", "WETH", 18_861, 18_861,
     (1_609_460_789, 732.0868622834124), (1_677_366_252, 1_597.7179983343294), 3_601, 0, 27),
    ("coingecko_hourly/stETH_usd_coingecko_1h_2021-2023.csv", "coingecko-hourly", "stETH", 18_410, 18_410,
     (1_609_471_801, 738.2150453118472), (1_677_366_250, 1_597.4405354926432), 3_601, 0, 229),
    ("coingecko_daily/crv-usd-max_coingecko_1d_2020-2021.csv", "coingecko-daily", "CRV", 430, 430,
     (1_597_363_200, 15.372107881166139), (1_634_428_800, 2.9195866351564357), DAY, 0, 0),
    ("coingecko_daily/dai-usd-max_coingecko_1d_2019-2022.csv", "coingecko-daily", "DAI", 1_031, 1_031,
     (1_574_121_600, 1.000650588888066), (1_663_113_600, 1.0001487990037408), DAY, 0, 0),
    ("coingecko_daily/usdc-usd-max_coingecko_1d_2018-2022.csv", "coingecko-daily", "USDC", 1_441, 1_441,
     (1_538_697_600, 1.0062418761688314), (1_663_113_600, 1.0001029691996703), DAY, 0, 0),
    ("coingecko_daily/usdt-usd-max_coingecko_1d_2015-2022.csv", "coingecko-daily", "USDT", 2_736, 2_736,
     (1_424_822_400, 1.21016), (1_663_113_600, 0.9997880847922771), DAY, 0, 6),
]
PRICES = DATA_DIR / "prices"


@pytest.mark.needs_data
def test_the_table_covers_every_bundled_price_file():
    """A price file added to ../shared/data without a row here fails this test."""
    on_disk = {str(p.relative_to(PRICES)) for p in PRICES.rglob("*") if p.is_file()}
    assert on_disk == {row[0] for row in BUNDLED}


@pytest.mark.needs_data
@pytest.mark.parametrize(("name", "fmt", "symbol", "rows", "observations", "first", "last", "cadence_s",
                          "duplicates", "gaps"), BUNDLED, ids=[Path(row[0]).stem for row in BUNDLED])
def test_bundled_file_loads_with_its_hand_derived_figures(name, fmt, symbol, rows, observations, first, last,
                                                          cadence_s, duplicates, gaps):
    path = PRICES / name
    loaded = load_prices(path)
    found, times, prices = loaded.findings, loaded.observations.timestamps_s, loaded.observations.prices_usd
    assert (loaded.source.format, loaded.symbol) == (fmt, symbol)
    assert (found.rows_read, len(loaded.observations)) == (rows, observations)
    assert (int(times[0]), float(prices[0])) == first
    assert (int(times[-1]), float(prices[-1])) == last
    assert found.native_cadence_s == cadence_s
    assert found.duplicates_dropped == duplicates
    assert len(found.gaps) == gaps
    assert all(g.length_s > found.gap_threshold_s for g in found.gaps)
    assert times.dtype == "int64" and prices.dtype == "float64"
    assert (times[1:] > times[:-1]).all()
    assert loaded.source.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert loaded.source.path == str(path.resolve())


@pytest.mark.needs_data
@pytest.mark.parametrize(("symbol", "sha256", "kept", "dropped"), [
    ("ETH", "15c5eb1775fcf5a77b8c540771f9a3e43358897101db5f82eb4b38a09093a48a", 491.47, 488.78),
    ("BTC", "67efd97d12d80c0af3cd0127215cab94b20d4a7b471202938a1922e2e790a3d1", 18_212.00, 18_143.03),
])
def test_binance_quirks_reported(symbol, sha256, kept, dropped):
    """sha256 from `sha256sum`; order newest first, units s and ms, the one conflicting hour
    (2020-11-20 07:00 = 1,605,855,600 s) keeps the complete candle, 16 hours missing in 8 gaps."""
    loaded = load_prices(PRICES / f"exchange/binance_{symbol}USDT_1h_2017-08_2021-06.csv")
    found = loaded.findings
    assert loaded.source.sha256 == sha256
    assert (found.input_order, found.timestamp_units) == ("descending", ("s", "ms"))
    assert found.file_symbol == f"{symbol}/USDT"
    assert [(c.timestamp_s, c.kept_price_usd, c.dropped_prices_usd) for c in found.conflicting_duplicates] == [
        (1_605_855_600, kept, (dropped,))]
    assert found.gap_threshold_s == 5_400 and found.gap_missing_s == 16 * HOUR
    assert sorted(g.length_s for g in found.gaps) == [7_200] * 4 + [10_800, 14_400, 14_400, 18_000]
    assert loaded.source.candles is True


@pytest.mark.needs_data
def test_usdt_daily_gaps_listed_and_not_filled():
    """2015-2019 USDT snapshots skip days: 5, 4, 2, 2, 14 and 2 days (23 days beyond one step each)."""
    loaded = load_prices(PRICES / "coingecko_daily/usdt-usd-max_coingecko_1d_2015-2022.csv")
    assert [g.length_s // DAY for g in loaded.findings.gaps] == [5, 4, 2, 2, 14, 2]
    assert loaded.findings.gap_missing_s == 23 * DAY
    assert loaded.findings.gaps[0].after_s == 1_424_822_400  # 2015-02-25, the first row


@pytest.mark.needs_data
def test_binance_closes_are_known_an_hour_after_their_open_stamp():
    """The oldest ETH candle opens 2017-08-17 04:00 (1,502,942,400) and closes at 300.79 at 05:00."""
    known = load_prices(PRICES / "exchange/binance_ETHUSDT_1h_2017-08_2021-06.csv").when_known()
    assert (int(known.timestamps_s[0]), float(known.prices_usd[0])) == (1_502_946_000, 300.79)
