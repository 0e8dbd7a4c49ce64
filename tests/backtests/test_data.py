"""Loaders: each source's quirks handled, gaps and duplicates reported, bad files refused in one line."""

from __future__ import annotations

import pandas as pd
import pytest

from backtests.data import (
    DataError,
    load_any,
    load_aave_hourly,
    load_bundled,
    load_chainlink_rounds,
    load_dex_depth_usd,
    synthetic_garch,
    synthetic_gbm_with_jumps,
    DATA_DIR,
)


@pytest.mark.needs_data
def test_binance_quirks_are_handled_and_reported():
    eth = load_bundled("ETH")
    prices = eth.prices_usd
    assert prices.index.is_monotonic_increasing and prices.index.is_unique
    assert eth.duplicates_dropped == 2_649  # the doubled 2020-08..11 hours
    assert sum(int((b - a) / pd.Timedelta(hours=1)) - 1 for a, b in eth.gaps) == 16  # missing hours
    # The first candle opens 2017-08-17 04:00; its close is known (and stamped) at 05:00.
    assert prices.index[0] == pd.Timestamp("2017-08-17 05:00", tz="UTC")
    assert 80 < prices.loc["2020-03-13"].min() < 120  # the crash low


@pytest.mark.needs_data
def test_coingecko_aave_and_dex_sources():
    ust = load_bundled("UST")
    assert ust.prices_usd.loc["2022-05-20":].max() < 0.2
    weth_market = load_aave_hourly(DATA_DIR / "lending/aave_hourly/aave_v2_usdt_eth_to-2023-02.parquet")
    assert weth_market["utilization"].max() > 0.99  # USDT at 100% utilization
    depth = load_dex_depth_usd(DATA_DIR / "dex/uniswapv2_USDC-WETH_reserves_2020-05_2022-01.csv")
    assert depth.loc["2021-01"].median() > 1e6


def test_generic_csv_and_unknown_formats(tmp_path):
    good = tmp_path / "prices.csv"
    pd.DataFrame({"timestamp": [1_700_000_000, 1_700_003_600, 1_700_003_600, 1_700_014_400],
                  "price": [1.0, 2.0, 2.5, 3.0]}).to_csv(good, index=False)
    series = load_any(good, "X")
    assert list(series.prices_usd) == [1.0, 2.5, 3.0] and series.duplicates_dropped == 1 and len(series.gaps) == 0
    (tmp_path / "prices.json").write_text("{}")
    with pytest.raises(DataError, match="unknown format"):
        load_any(tmp_path / "prices.json", "X")
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="unknown format"):
        load_any(other, "X")
    with pytest.raises(DataError, match="not found"):
        load_any(tmp_path / "missing.csv", "X")


def test_synthetic_paths_are_seeded():
    assert synthetic_gbm_with_jumps(500, seed=3).prices_usd.equals(synthetic_gbm_with_jumps(500, seed=3).prices_usd)
    assert not synthetic_gbm_with_jumps(500, seed=3).prices_usd.equals(synthetic_gbm_with_jumps(500, seed=4).prices_usd)
    garch = synthetic_garch(2_000, seed=1).prices_usd
    assert len(garch) == 2_000 and (garch > 0).all()


@pytest.mark.anvil
def test_chainlink_rounds_read_on_chain_from_anvil(tmp_path):
    from chain.aave import our_contract
    from chain.artifacts import load_artifact
    from chain.node import advance_time, dev_accounts, start_anvil
    from chain.transact import Transactor

    with start_anvil(log_dir=tmp_path) as node:
        w3 = node.web3()
        tx = Transactor(w3, dev_accounts(w3)[0])
        address = tx.deploy(load_artifact("PushableAggregator"), 8, "ETH / USD", 2_000 * 10**8)
        feed = our_contract(w3, "PushableAggregator", address)
        for price in (1_990, 1_950, 2_010):
            advance_time(w3, 3_600)
            tx.send(feed.functions.pushAnswer(price * 10**8))
        series = load_chainlink_rounds(w3, address, "ETH")
    assert list(series.prices_usd) == [2_000.0, 1_990.0, 1_950.0, 2_010.0]
    assert (series.prices_usd.index[1:] - series.prices_usd.index[:-1]).min() >= pd.Timedelta(hours=1)


def test_load_any_reads_every_format_and_keeps_the_record(tmp_path):
    """The pandas view callers use is built from the checked record: same times and prices."""
    path = tmp_path / "feed.csv"
    path.write_text("# decimals 8\nroundId,answer,startedAt,updatedAt\n1,200000000000,1700000000,1700000000\n"
                    "2,199000000000,1700003600,1700003600\n")
    series = load_any(path, "ETH")
    assert list(series.prices_usd) == [2_000.0, 1_990.0]
    assert [int(t.timestamp()) for t in series.prices_usd.index] == [1_700_000_000, 1_700_003_600]
    assert series.loaded is not None and series.loaded.source.format == "chainlink-rounds"


@pytest.mark.parametrize(("loader", "name", "content", "message"), [
    (load_dex_depth_usd, "pair.csv", "datetime,reserve0\n2021-01-01,1\n", "missing columns reserveUSD"),
    (load_dex_depth_usd, "pair.csv", None, "is a directory, not a file"),
    (load_aave_hourly, "market.parquet", None, "is a directory, not a file"),
    (load_aave_hourly, "market.parquet", "not parquet", "cannot read it"),
    (load_aave_hourly, "absent.parquet", "absent", "data file not found"),
])
def test_dex_and_aave_loaders_refuse_bad_files_in_one_line(tmp_path, loader, name, content, message):
    path = tmp_path / name
    if content is None:
        path.mkdir()
    elif content != "absent":
        path.write_text(content)
    with pytest.raises(DataError) as caught:
        loader(path)
    assert str(caught.value).startswith(f"{path}: {message}") and "\n" not in str(caught.value)
