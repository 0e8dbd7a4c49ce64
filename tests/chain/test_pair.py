"""DemoPair on both backends: the demo sets its reserves exactly, a keeper swaps at Uniswap v2's
price (fee-adjusted K), and selling the depth the reader derives costs the stated slippage."""

from __future__ import annotations

import pytest

from chain.aave import our_contract, set_pair_reserves
from chain.dex import amount_out, depth_usd
from chain.errors import ContractRevert
from chain.transact import Transactor
from tests.chain.aave_fixtures import AaveSystem

WETH = 10**18
USDC = 10**6


def weth_pair(aave: AaveSystem, weth_raw: int, usdc_raw: int):
    """WETH's pair set to the given reserves by its owner (the deployer)."""
    weth, usdc = aave.market.reserve("WETH"), aave.market.reserve("USDC")
    set_pair_reserves(aave.w3, Transactor(aave.w3, aave.admin), weth.pair,
                      {weth.underlying: weth_raw, usdc.underlying: usdc_raw})
    return our_contract(aave.w3, "DemoPair", weth.pair)


def reserves_by_symbol(aave: AaveSystem, pair) -> dict[str, int]:
    reserve0, reserve1, _ = pair.functions.getReserves().call()
    token0 = pair.functions.token0().call()
    weth = aave.market.reserve("WETH").underlying
    return {"WETH": reserve0, "USDC": reserve1} if token0 == weth else {"WETH": reserve1, "USDC": reserve0}


def test_reserves_are_set_exactly_and_excess_returns_to_the_owner(aave: AaveSystem):
    """1,000 WETH / 1.6M USDC, then down to 400 / 640,000: the owner gets 600 WETH and 960,000 USDC
    back, and the pair's balances equal its reserves."""
    pair = weth_pair(aave, 1_000 * WETH, 1_600_000 * USDC)
    assert reserves_by_symbol(aave, pair) == {"WETH": 1_000 * WETH, "USDC": 1_600_000 * USDC}
    owner_weth = aave.token("WETH").functions.balanceOf(aave.admin.address).call()
    weth_pair(aave, 400 * WETH, 640_000 * USDC)
    assert reserves_by_symbol(aave, pair) == {"WETH": 400 * WETH, "USDC": 640_000 * USDC}
    assert aave.token("WETH").functions.balanceOf(aave.admin.address).call() - owner_weth == 600 * WETH
    assert aave.token("WETH").functions.balanceOf(pair.address).call() == 400 * WETH


def test_only_the_owner_sets_reserves(aave: AaveSystem):
    pair = our_contract(aave.w3, "DemoPair", aave.market.reserve("WETH").pair)
    with pytest.raises(ContractRevert) as raised:
        Transactor(aave.w3, aave.users[0]).send(pair.functions.setReserves(1, 1))
    assert raised.value.name == "OnlyOwner"


def test_reserves_above_the_balance_are_refused(aave: AaveSystem):
    pair = weth_pair(aave, 10 * WETH, 16_000 * USDC)
    with pytest.raises(ContractRevert) as raised:
        Transactor(aave.w3, aave.admin).send(pair.functions.setReserves(2**100, 2**100))
    assert raised.value.name == "BalanceBelowTarget"


def test_swap_pays_get_amount_out_and_not_one_unit_more(aave: AaveSystem):
    """Selling 10 WETH into 1,000 WETH / 1.6M USDC pays amount_out (Uniswap v2's formula, 0.3%
    fee) = 15,794.6 USDC; asking one raw unit more breaks the fee-adjusted K."""
    pair = weth_pair(aave, 1_000 * WETH, 1_600_000 * USDC)
    keeper = aave.keeper("WETH", 20 * WETH)
    weth_is_token0 = pair.functions.token0().call() == aave.token("WETH").address
    paid = amount_out(10 * WETH, 1_000 * WETH, 1_600_000 * USDC)
    assert paid / USDC == pytest.approx(15_794.6, abs=0.1)

    def swap(out: int):
        outs = (0, out) if weth_is_token0 else (out, 0)
        return pair.functions.swap(*outs, keeper.address, b"")

    keeper.send(aave.token("WETH").functions.transfer(pair.address, 10 * WETH))
    with pytest.raises(ContractRevert) as raised:
        keeper.send(swap(paid + 1))
    assert raised.value.name == "ConstantProductViolated"
    keeper.send(swap(paid))
    assert aave.token("USDC").functions.balanceOf(keeper.address).call() == paid
    assert reserves_by_symbol(aave, pair) == {"WETH": 1_010 * WETH, "USDC": 1_600_000 * USDC - paid}


def test_sync_follows_a_direct_transfer(aave: AaveSystem):
    pair = weth_pair(aave, 100 * WETH, 160_000 * USDC)
    Transactor(aave.w3, aave.admin).send(aave.token("USDC").functions.mint(pair.address, 5 * USDC))
    Transactor(aave.w3, aave.users[0]).send(pair.functions.sync())
    assert reserves_by_symbol(aave, pair)["USDC"] == 160_005 * USDC


def test_selling_the_read_depth_costs_the_slippage(aave: AaveSystem):
    """The reader's depth at 2% for 1,000 WETH at $1,600 is 32,653.06 USD = 20.408 WETH. Sold into
    the pair it fetches, per WETH, 0.997 x 0.98 / (0.98 + 0.997 x 0.02) = 0.977119 of the spot
    price: the 2% slippage, and the pair's 0.3% fee."""
    weth_pair(aave, 1_000 * WETH, 1_600_000 * USDC)
    state = aave.reader().read().reserve("WETH")
    depth = state.depth_usd(0.02)
    assert depth == pytest.approx(depth_usd(1_600_000, 0.02))
    sold_raw = int(depth / state.price_usd * WETH)
    received = amount_out(sold_raw, state.pair.asset_reserve_raw, state.pair.quote_reserve_raw) / USDC
    average_over_spot = received / (sold_raw / WETH) / 1_600
    assert average_over_spot == pytest.approx(0.997 * 0.98 / (0.98 + 0.997 * 0.02), rel=1e-6)
    assert average_over_spot == pytest.approx(0.977119, rel=1e-6)
