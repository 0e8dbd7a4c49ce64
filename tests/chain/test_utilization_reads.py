"""Utilization history read through the reserves' token totals (`chain_utilization`) is the
number AaveProtocolDataProvider.getReserveData gives at the same blocks, on both backends:
the decide job, shadow mode and verify read it this way, and stored inputs read the other
way must still verify."""

from __future__ import annotations

import numpy as np

from agent.jobs import reader_for
from agent.market_inputs import chain_utilization
from chain.aave import aave_contract
from chain.node import latest_timestamp
from strategies.inputs import HOUR_S
from tests.chain.conftest import System, mine_at
from tests.chain.test_verify_chain_checks import market_with_a_borrower  # noqa: F401 - the fixture


def provider_utilization(system: System, symbol: str, block: int) -> float:
    data = aave_contract(system.w3, "AaveProtocolDataProvider", system.deployment.market.data_provider)
    values = data.functions.getReserveData(system.deployment.market.reserve(symbol).underlying).call(
        block_identifier=block)
    return (values[3] + values[4]) / values[2]


def test_token_totals_give_the_data_providers_utilization_at_every_hourly_block(system: System,
                                                                                 market_with_a_borrower):
    """10,000 USDC borrowed of 1,000,000 supplied: 1% at the borrow. Three hours later, one
    block an hour, interest has accrued on both sides (debt at the borrow rate, supply at
    1% of it), so each hour's utilization is a little above 1% and differs from the last: the
    reads must be those blocks' own, equal to the data provider's to the last bit. WETH has
    no debt: 0 at every block."""
    w3 = system.w3
    start = latest_timestamp(w3)
    for hour in (1, 2, 3):
        mine_at(w3, start + hour * HOUR_S)
    anchor_block, anchor_time = w3.eth.block_number, latest_timestamp(w3)
    history = chain_utilization(w3, reader_for(w3, system.deployment.to_deployment(), ["USDC", "WETH"]),
                                anchor_block, anchor_time, hours=3)
    usdc = history("USDC", anchor_time - 4 * HOUR_S, anchor_time)
    assert list(usdc.timestamps_s) == [start, start + HOUR_S, start + 2 * HOUR_S, start + 3 * HOUR_S]
    assert usdc.keys[-1] == anchor_block
    assert [w3.eth.get_block(block)["timestamp"] for block in usdc.keys] == list(usdc.timestamps_s)
    assert list(usdc.values) == [provider_utilization(system, "USDC", block) for block in usdc.keys]
    assert 0.01 <= usdc.values[0] < usdc.values[1] < usdc.values[2] < usdc.values[3] < 0.0101
    weth = history("WETH", anchor_time - 4 * HOUR_S, anchor_time)
    assert np.array_equal(weth.values, np.zeros(4))
