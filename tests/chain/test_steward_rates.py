"""RateStrategyFactory on both backends: it deploys Aave's own DefaultReserveInterestRateStrategy
(the npm artifact's creation code, unmodified) by CREATE2 keyed by the curve, and reuses it."""

from __future__ import annotations

from eth_utils import keccak
from web3.logs import DISCARD

from chain.aave import our_contract, rate_strategy_args
from chain.artifacts import load_aave_artifact
from chain.node import advance_time
from chain.transact import call
from strategies.params import AAVE_V3_OCT_2023, Param
from tests.chain.conftest import MIN_DELAY_SECONDS, System, expect_revert

RAY = 10**27


def factory(system: System):
    return our_contract(system.w3, "RateStrategyFactory", system.deployment.rate_strategy_factory)


def usdc_curve(system: System) -> tuple[int, ...]:
    """The nine curve values deploy_aave_market gave USDC (rates in ray)."""
    return tuple(rate_strategy_args(system.deployment.market.addresses_provider, AAVE_V3_OCT_2023["USDC"])[1:])


def test_factory_holds_aaves_creation_code_unmodified(system: System):
    creation = bytes.fromhex(load_aave_artifact("DefaultReserveInterestRateStrategy").bytecode.removeprefix("0x"))
    f = factory(system).functions
    assert f.creationCodeHash().call() == keccak(creation)
    assert f.creationCode().call() == creation
    assert f.addressesProvider().call() == system.deployment.market.addresses_provider
    # The data contract starts with STOP: calling it does nothing.
    assert system.w3.eth.get_code(f.creationCodeStore().call())[:1] == b"\x00"


def test_same_curve_same_strategy_byte_for_byte(system: System):
    """USDC's strategy was deployed directly from the artifact by deploy_aave_market; the
    factory's strategy for the same nine values has the same runtime code (immutables included),
    lives at `predict`, and a second request deploys nothing."""
    curve = usdc_curve(system)
    f = factory(system)
    predicted = f.functions.predict(curve).call()
    receipt = system.send(system.relayer, f.functions.getOrCreate(curve))
    created = f.events.StrategyCreated().process_receipt(receipt, errors=DISCARD)
    assert [e["args"]["strategy"] for e in created] == [predicted]
    assert system.w3.eth.get_code(predicted) == system.w3.eth.get_code(system.rate_strategy("USDC"))
    again = system.send(system.relayer, f.functions.getOrCreate(curve))
    assert f.events.StrategyCreated().process_receipt(again, errors=DISCARD) == ()
    assert call(f.functions.getOrCreate(curve)) == predicted
    assert again["gasUsed"] < 60_000 < receipt["gasUsed"]


def test_a_curve_aave_refuses_is_refused_with_aaves_error(system: System):
    curve = list(usdc_curve(system))
    curve[0] = RAY + 1  # optimal usage ratio above 100%
    expect_revert(lambda: system.send(system.relayer, factory(system).functions.getOrCreate(curve)),
                  "INVALID_OPTIMAL_USAGE_RATIO", "83")


def test_a_curve_seen_before_reuses_its_strategy(system: System):
    """USDC slope2 6000 -> 6400 (strategy A), back to 6000 (strategy B, the factory's own for
    the original curve), then 6400 again: the reserve points at A once more, nothing new is
    deployed. Slope2's cooldown is 8 h."""
    addresses = []
    for slope2 in (6_400, 6_000, 6_400):
        result = system.propose("USDC", {Param.VARIABLE_RATE_SLOPE2: slope2})
        advance_time(system.w3, MIN_DELAY_SECONDS)
        system.execute(result)
        addresses.append(system.rate_strategy("USDC"))
        assert system.aave_params("USDC")[Param.VARIABLE_RATE_SLOPE2] == slope2
        advance_time(system.w3, 8 * 3_600)
    a, b, a_again = addresses
    assert a_again == a and len({a, b}) == 2
    assert b == factory(system).functions.predict(usdc_curve(system)).call()
