"""Inputs for strategy tests: seeded synthetic markets (no ../shared/data needed) and, for the
tests marked needs_data, the real bundled ETH history."""

from __future__ import annotations

import pandas as pd
import pytest

from backtests.data import PriceSeries, load_bundled, synthetic_garch
from backtests.history import decision_inputs, market_history
from strategies.config import default_config
from strategies.inputs import MarketHistory
from strategies.params import AAVE_V3_OCT_2023

WETH_OCT_2023 = AAVE_V3_OCT_2023["WETH"]
USDC_OCT_2023 = AAVE_V3_OCT_2023["USDC"]
CONFIG = default_config()
SYNTHETIC_HOURS = CONFIG.window.history_hours + 24 * 10


@pytest.fixture(scope="session")
def eth_series():
    return load_bundled("ETH")


def synthetic_eth(seed: int = 11, hours: int = SYNTHETIC_HOURS) -> PriceSeries:
    """GARCH(1,1) hourly path with Student-t shocks, symbol ETH, starting 2024-01-01."""
    series = synthetic_garch(hours, seed=seed, start_price=2_000.0)
    return PriceSeries("ETH", series.prices_usd, series.source, 0, ())


def synthetic_as_of(series: PriceSeries) -> pd.Timestamp:
    return series.prices_usd.index[-1]


def eth_history(eth_series, as_of: str = "2020-03-11", **kwargs) -> MarketHistory:
    return market_history([eth_series], pd.Timestamp(as_of, tz="UTC"), supplied_tokens=5e5, borrowed_tokens=2e5,
                          params={"ETH": WETH_OCT_2023}, **kwargs)


def eth_inputs(eth_series, as_of: str = "2020-03-11", **kwargs):
    return decision_inputs([eth_series], pd.Timestamp(as_of, tz="UTC"), supplied_tokens=5e5, borrowed_tokens=2e5,
                           params={"ETH": WETH_OCT_2023}, **kwargs)
