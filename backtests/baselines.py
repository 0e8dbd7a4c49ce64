"""Strategies a backtest can run, by name: static parameters (Aave v3 October 2023, Aave v2's
snapshot), the reference methods, and the agent's strategy (with or without the timelock
delay, a simulator setting)."""

from __future__ import annotations

from functools import cache

import pandas as pd

from backtests.data import DATA_DIR, DataError
from strategies.reference import ChaosCapStrategy, SmartLtvStrategy
from strategies.strategy import RiskStrategy
from strategies.types import RiskParams

# RISK-REFERENCE.md, Aave v3 Ethereum, October 2023. ETH/BTC map to WETH/WBTC.
AAVE_V3_OCT_2023 = {
    "WETH": RiskParams(8_050, 8_300, 10_500, 1_800_000, 1_400_000, 1_500, 8_000, 0, 280, 8_000),
    "WBTC": RiskParams(7_300, 7_800, 10_500, 43_000, 28_000, 2_000, 4_500, 0, 400, 30_000),
    "USDC": RiskParams(7_700, 8_000, 10_450, 1_760_000_000, 1_580_000_000, 1_000, 9_000, 0, 350, 6_000),
    "LINK": RiskParams(5_300, 6_800, 10_700, 15_000_000, 13_000_000, 2_000, 4_500, 0, 700, 30_000),
    "CRV": RiskParams(3_500, 4_100, 10_830, 51_000_000, 7_700_000, 3_500, 7_000, 300, 1_400, 30_000),
}
ALIASES = {"ETH": "WETH", "BTC": "WBTC"}
STRATEGIES = ("agent", "agent-no-delay", "static-v3", "static-v2", "smart-ltv", "chaos-caps")


def v3_params(symbol: str) -> RiskParams:
    key = ALIASES.get(symbol, symbol)
    if key not in AAVE_V3_OCT_2023:
        raise DataError(f"no Aave v3 October 2023 parameters for {symbol!r} (known: {', '.join(AAVE_V3_OCT_2023)})")
    return AAVE_V3_OCT_2023[key]


@cache
def v2_params(symbol: str) -> RiskParams:
    """Aave v2's reserve snapshot: LT and LB as listed; LTV (not in the file) = LT - 500 bps."""
    frame = pd.read_csv(DATA_DIR / "lending" / "aave_v2_reserve_tokens_config.csv")
    rows = frame[frame["symbol"] == ALIASES.get(symbol, symbol)]
    if rows.empty:
        raise DataError(f"{symbol!r} is not in aave_v2_reserve_tokens_config.csv")
    row = rows.iloc[0]
    base = v3_params(symbol) if ALIASES.get(symbol, symbol) in AAVE_V3_OCT_2023 else AAVE_V3_OCT_2023["WETH"]
    threshold = int(row["reserveLiquidationThreshold"])
    return RiskParams(threshold - 500, threshold, int(row["reserveLiquidationBonus"]), *list(base.by_param().values())[3:])


def strategy_for(name: str):
    """(strategy or None for static, initial-parameter function, delay applies)."""
    table = {
        "agent": (RiskStrategy(), v3_params, True),
        "agent-no-delay": (RiskStrategy(), v3_params, False),
        "static-v3": (None, v3_params, True),
        "static-v2": (None, v2_params, True),
        "smart-ltv": (SmartLtvStrategy(), v3_params, True),
        "chaos-caps": (ChaosCapStrategy(), v3_params, True),
    }
    if name not in table:
        raise DataError(f"unknown strategy {name!r} (known: {', '.join(STRATEGIES)})")
    return table[name]
