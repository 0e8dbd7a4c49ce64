"""Strategies a backtest can run, by name: static parameters (Aave v3 October 2023, Aave v2's
snapshot), the reference methods, and the agent's strategy (with or without the timelock
delay, a simulator setting)."""

from __future__ import annotations

from functools import cache

import pandas as pd

from backtests.data import DATA_DIR, DataError
from strategies.reference import ChaosCapStrategy, SmartLtvStrategy
from strategies.strategy import RiskStrategy
from strategies.config import StrategyConfig, default_config
from strategies.params import AAVE_V3_OCT_2023, Param, RiskParams

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
    return base.with_changes({Param.LTV: threshold - 500, Param.LIQUIDATION_THRESHOLD: threshold,
                              Param.LIQUIDATION_BONUS: int(row["reserveLiquidationBonus"])})


def strategy_for(name: str, config: StrategyConfig | None = None):
    """(strategy or None for static, initial-parameter function, delay applies); the agent
    runs with `config` (default: the measured strategy config the enclave runs)."""
    config = config or default_config()
    table = {
        "agent": (RiskStrategy(config=config), v3_params, True),
        "agent-no-delay": (RiskStrategy(config=config), v3_params, False),
        "static-v3": (None, v3_params, True),
        "static-v2": (None, v2_params, True),
        "smart-ltv": (SmartLtvStrategy(), v3_params, True),
        "chaos-caps": (ChaosCapStrategy(), v3_params, True),
    }
    if name not in table:
        raise DataError(f"unknown strategy {name!r} (known: {', '.join(STRATEGIES)})")
    return table[name]
