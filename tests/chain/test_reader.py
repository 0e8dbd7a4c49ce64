"""MarketReader on real Aave v3, both backends: the registry's ten parameters as the data provider
and rate strategy report them, AaveOracle prices with the feed's own round, DEX depth from the
pair's reserves, and a re-read at a past block that returns the very same snapshot."""

from __future__ import annotations

import pytest
from eth_abi import decode as abi_decode

from chain.aave import rate_strategy_args, set_pair_reserves
from chain.artifacts import load_aave_artifact
from chain.errors import AssetNotListedError, UnsupportedMarketError
from chain.node import advance_time, latest_timestamp
from chain.reader import MarketReader
from chain.transact import Transactor
from strategies.params import AAVE_V3_OCT_2023, Param
from tests.chain.aave_fixtures import AaveSystem

E8 = 10**8
WETH = 10**18
USDC = 10**6


def test_every_parameter_reads_back_as_listed(aave: AaveSystem):
    """Deployed from AAVE_V3_OCT_2023 (rates as ray = bps x 1e23), read back through the
    registry's readers: equal field by field for all five reserves, with oracle prices."""
    snapshot = aave.reader().read()
    assert [r.symbol for r in snapshot.reserves] == ["WETH", "WBTC", "USDC", "LINK", "CRV"]
    for reserve in snapshot.reserves:
        assert reserve.params == AAVE_V3_OCT_2023[reserve.symbol]
        assert reserve.is_active and not reserve.is_frozen and reserve.borrowing_enabled
        assert reserve.asset == aave.market.reserve(reserve.symbol).underlying
    assert snapshot.reserve("WETH").price_usd_e8 == 1_600 * E8
    assert snapshot.reserve("CRV").price_usd == 0.5
    with pytest.raises(AssetNotListedError):
        snapshot.reserve("DOGE")


def test_a_new_rate_strategy_is_followed(aave: AaveSystem):
    """Aave v3.0 changes a curve by pointing the reserve at a new strategy contract; the same
    reader notices the new address in its batch and reads slope2 = 9,000 bps from it."""
    reader = aave.reader()
    assert reader.read().reserve("WETH").params.variable_rate_slope2_bps == 8_000
    admin = Transactor(aave.w3, aave.admin)
    steeper = AAVE_V3_OCT_2023["WETH"].with_changes({Param.VARIABLE_RATE_SLOPE2: 9_000})
    strategy = admin.deploy(
        load_aave_artifact("DefaultReserveInterestRateStrategy"),
        *rate_strategy_args(aave.market.addresses_provider, steeper),
    )
    admin.send(aave.configurator.functions.setReserveInterestRateStrategyAddress(aave.token("WETH").address, strategy))
    weth = reader.read().reserve("WETH")
    assert weth.params == steeper
    assert weth.rate_strategy == strategy


def test_feed_round_and_staleness_come_from_the_feed(aave: AaveSystem):
    """A round pushed with updatedAt one hour back: the snapshot carries round 2, its answer and
    that updatedAt, so the price is 3,600 s old at the read's block (+ the blocks since)."""
    advance_time(aave.w3, 7_200)  # round 1 was stamped at deployment; rounds never go back in time
    stamped = latest_timestamp(aave.w3) - 3_600
    Transactor(aave.w3, aave.admin).send(aave.feed("WBTC").functions.pushRound(26_000 * E8, stamped))
    snapshot = aave.reader().read()
    wbtc = snapshot.reserve("WBTC")
    assert (wbtc.feed_round.round_id, wbtc.feed_round.answer, wbtc.feed_round.updated_at) == (2, 26_000 * E8, stamped)
    assert wbtc.feed_round.feed == aave.market.reserve("WBTC").feed
    assert wbtc.price_usd_e8 == 26_000 * E8
    assert wbtc.feed_round.age_seconds(snapshot.block_timestamp) == snapshot.block_timestamp - stamped
    assert wbtc.feed_round.age_seconds(snapshot.block_timestamp) >= 3_600


def test_zero_answer_reads_as_price_zero(aave: AaveSystem):
    """AaveOracle refuses a non-positive answer (it falls back to no fallback oracle and
    reverts): the snapshot still reads, with price 0 and the feed's answer 0, for the guard."""
    aave.push_price("LINK", 0)
    link = aave.reader().read().reserve("LINK")
    assert link.price_usd_e8 == 0 and link.feed_round.answer == 0


def test_supply_and_debt_totals(aave: AaveSystem):
    """1,000,000 USDC supplied, 12,000 borrowed against 10 WETH: utilisation 1.2%."""
    aave.supply(aave.users[0], "USDC", 1_000_000 * USDC)
    aave.supply(aave.users[1], "WETH", 10 * WETH)
    aave.borrow(aave.users[1], "USDC", 12_000 * USDC)
    snapshot = aave.reader().read()
    usdc = snapshot.reserve("USDC")
    assert usdc.supplied_tokens == pytest.approx(1_000_000, rel=1e-9)
    assert usdc.borrowed_tokens == pytest.approx(12_000, rel=1e-9)
    assert usdc.utilization == pytest.approx(0.012, rel=1e-9)
    assert snapshot.reserve("WETH").supplied_tokens == 10


def test_depth_from_pair_reserves(aave: AaveSystem):
    """WETH's pair set to 1,000 WETH / 1,600,000 USDC: asset side $1.6M, so at 2% the depth is
    1.6M x 0.02 / 0.98 = $32,653.06; a reserve without pair reports None."""
    weth, usdc = aave.market.reserve("WETH"), aave.market.reserve("USDC")
    set_pair_reserves(aave.w3, Transactor(aave.w3, aave.admin), weth.pair,
                      {weth.underlying: 1_000 * WETH, usdc.underlying: 1_600_000 * USDC})
    state = aave.reader().read().reserve("WETH")
    assert state.pair.asset_reserve_raw == 1_000 * WETH
    assert state.pair.quote_reserve_raw == 1_600_000 * USDC
    assert state.pair.quote_token == usdc.underlying
    assert state.depth_usd(0.02) == pytest.approx(32_653.06, abs=0.01)
    bare = MarketReader(aave.w3, aave.resolved).read().reserve("WETH")
    assert bare.pair is None and bare.depth_usd(0.02) is None


def test_reread_at_the_anchor_block_is_identical(aave: AaveSystem):
    """Read at block N, then move prices, supply, pair reserves and time: reading block N again
    returns the same snapshot, field for field (block hash included), and latest differs."""
    reader = aave.reader()
    anchor = reader.read()
    aave.push_price("WETH", 1_234 * E8)
    aave.supply(aave.users[0], "USDC", 5_000 * USDC)
    weth, usdc = aave.market.reserve("WETH"), aave.market.reserve("USDC")
    set_pair_reserves(aave.w3, Transactor(aave.w3, aave.admin), weth.pair,
                      {weth.underlying: 7 * WETH, usdc.underlying: 9_000 * USDC})
    advance_time(aave.w3, 600)
    latest = reader.read()
    assert latest.block_number > anchor.block_number
    assert latest.reserve("WETH").price_usd_e8 == 1_234 * E8
    again = reader.read(anchor.block_number)
    assert again == anchor
    assert again.block_hash == "0x" + bytes(aave.w3.eth.get_block(anchor.block_number)["hash"]).hex()


def test_reads_one_block_in_one_call(aave: AaveSystem, monkeypatch):
    """All five reserves (registry readers, oracle, feed, pair) travel in one aggregate3."""
    reader = aave.reader()
    batches = []
    original = aave.w3.eth.call

    def counting(transaction, block_identifier=None, *args, **kwargs):
        data = bytes(transaction["data"])
        batches.append(len(abi_decode(["(address,bool,bytes)[]"], data[4:])[0]))
        return original(transaction, block_identifier, *args, **kwargs)

    monkeypatch.setattr(aave.w3.eth, "call", counting)
    reader.read()
    # block number and time, then per reserve 4 data-provider, 4 rate-strategy, oracle source and
    # price, the feed's round and the pair's reserves.
    assert batches == [2 + 5 * 12]


def test_a_rate_strategy_of_another_kind_is_named(aave: AaveSystem):
    """A reserve pointed at a contract without v3.0's getters (as a v3.2+ market's shared V2
    strategy would be): the read names the reserve and the missing getter in one line."""
    admin = Transactor(aave.w3, aave.admin)
    admin.send(aave.configurator.functions.setReserveInterestRateStrategyAddress(
        aave.token("CRV").address, aave.market.multicall
    ))
    with pytest.raises(UnsupportedMarketError) as raised:
        aave.reader().read()
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"reserve CRV's rate strategy {aave.market.multicall} does not answer OPTIMAL_USAGE_RATIO()")
