from __future__ import annotations

import pandas as pd
import pytest

from backtests.data import load_bundled
from backtests.history import market_history
from strategies.types import MarketHistory, RiskParams

WETH_OCT_2023 = RiskParams(8_050, 8_300, 10_500, 1_800_000, 1_400_000, 1_500, 8_000, 0, 280, 8_000)
USDC_OCT_2023 = RiskParams(7_700, 8_000, 10_450, 1_760_000_000, 1_580_000_000, 1_000, 9_000, 0, 350, 6_000)


@pytest.fixture(scope="session")
def eth_series():
    return load_bundled("ETH")


def eth_history(eth_series, as_of: str = "2020-03-11", **kwargs) -> MarketHistory:
    return market_history([eth_series], pd.Timestamp(as_of, tz="UTC"), supplied_tokens=5e5, borrowed_tokens=2e5, **kwargs)
