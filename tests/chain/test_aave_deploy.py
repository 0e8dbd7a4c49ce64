"""What deploy_aave_market leaves behind, both backends: the deployer's roles (exactly the four
the hand-over must move), locked implementations, stable borrowing off, the 10% liquidation
protocol fee, the stable-curve choices, and the listing spec refused when a pair quote is missing."""

from __future__ import annotations

import pytest

from chain.aave import (
    BASE_STABLE_RATE_OFFSET_BPS,
    LIQUIDATION_PROTOCOL_FEE_BPS,
    OPTIMAL_STABLE_TO_TOTAL_DEBT_RATIO_BPS,
    STABLE_RATE_EXCESS_OFFSET_BPS,
    AaveRoles,
    aave_contract,
    deploy_aave_market,
    roles_of,
)
from chain.errors import ChainError, ContractRevert
from chain.listings import oct_2023_listings
from chain.transact import Transactor
from strategies.params import AAVE_V3_OCT_2023, RAY_PER_BPS
from tests.chain.aave_fixtures import AaveSystem

WETH = 10**18
USDC = 10**6


def test_the_deployer_holds_exactly_the_roles_to_hand_over(aave: AaveSystem):
    assert roles_of(aave.w3, aave.market.addresses_provider, aave.admin.address) == AaveRoles(
        provider_owner=True, provider_acl_admin=True, acl_admin=True, pool_admin=True,
        risk_admin=False, emergency_admin=False, asset_listing_admin=False,
    )
    assert not roles_of(aave.w3, aave.market.addresses_provider, aave.users[0].address).any


def test_implementations_are_locked(aave: AaveSystem):
    """Initialised at deployment, the bare Pool and PoolConfigurator implementations refuse a
    second initialize (VersionedInitializable's message)."""
    stranger = Transactor(aave.w3, aave.users[0])
    for name, address in (("Pool", aave.market.pool_implementation),
                          ("PoolConfigurator", aave.market.pool_configurator_implementation)):
        with pytest.raises(ContractRevert) as raised:
            stranger.send(aave_contract(aave.w3, name, address).functions.initialize(aave.market.addresses_provider))
        assert raised.value.args_decoded == ("Contract instance has already been initialized",)


def test_stable_borrowing_is_off_and_the_protocol_fee_is_ten_percent(aave: AaveSystem):
    aave.supply(aave.users[0], "USDC", 100_000 * USDC)
    aave.supply(aave.users[1], "WETH", 10 * WETH)
    with pytest.raises(ContractRevert) as raised:
        Transactor(aave.w3, aave.users[1]).send(
            aave.pool.functions.borrow(aave.token("USDC").address, 100 * USDC, 1, 0, aave.users[1].address)
        )
    assert raised.value.name == "STABLE_BORROWING_NOT_ENABLED"
    for reserve in aave.market.reserves:
        assert aave.data_provider.functions.getLiquidationProtocolFee(reserve.underlying).call() == LIQUIDATION_PROTOCOL_FEE_BPS
        assert aave.data_provider.functions.getReserveConfigurationData(reserve.underlying).call()[7] is False


def test_stable_curve_choices(aave: AaveSystem):
    """Stable slopes equal the variable ones at listing; base offset 2%, excess offset 5%,
    optimal stable share 20% (rates in ray)."""
    weth = AAVE_V3_OCT_2023["WETH"]
    strategy = aave_contract(aave.w3, "DefaultReserveInterestRateStrategy", aave.market.reserve("WETH").rate_strategy)
    functions = strategy.functions
    assert functions.getStableRateSlope1().call() == weth.variable_rate_slope1_bps * RAY_PER_BPS
    assert functions.getStableRateSlope2().call() == weth.variable_rate_slope2_bps * RAY_PER_BPS
    assert functions.getBaseStableBorrowRate().call() == (
        weth.variable_rate_slope1_bps + BASE_STABLE_RATE_OFFSET_BPS
    ) * RAY_PER_BPS
    assert functions.getStableRateExcessOffset().call() == STABLE_RATE_EXCESS_OFFSET_BPS * RAY_PER_BPS
    assert functions.OPTIMAL_STABLE_TO_TOTAL_DEBT_RATIO().call() == OPTIMAL_STABLE_TO_TOTAL_DEBT_RATIO_BPS * RAY_PER_BPS


def test_a_pair_quote_must_be_listed(aave: AaveSystem):
    with pytest.raises(ChainError, match="WBTC's pair quote WETH is not among the listed reserves"):
        deploy_aave_market(aave.w3, aave.admin, oct_2023_listings(("WBTC", "USDC")))
