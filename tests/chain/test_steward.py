"""RiskSteward on real Aave v3, both backends: every update type reaches Aave (fast path or
through the timelock), and only the fields an update changes move.

Values are the October-2023 listing (RISK-REFERENCE.md) moved by hand-checked steps inside the
default bounds (strategies.params.DEFAULT_BOUNDS): LTV/LT +-25 bps, LB +-50, caps +-30% of the
current value, RF +-500, uOpt +-300, base/slope1 +-50, slope2 +-400.
"""

from __future__ import annotations

import pytest

from chain.aave import aave_contract
from chain.events import read_events
from chain.node import advance_time
from chain.steward import OperationState, SubmitPath
from strategies.params import Param
from tests.chain.conftest import CRV, MIN_DELAY_SECONDS, USDC, WETH, System

# (symbol, changes, fast?) — one row per update type the steward writes.
UPDATE_TYPES = [
    pytest.param("WETH", {Param.LTV: 8_025}, True, id="ltv-cut-fast"),
    pytest.param("WETH", {Param.LIQUIDATION_THRESHOLD: 8_275}, True, id="lt-cut-fast"),
    pytest.param("WETH", {Param.SUPPLY_CAP: 1_260_000}, True, id="supply-cap-cut-fast"),  # -30% of 1.8M
    pytest.param("WETH", {Param.BORROW_CAP: 980_000}, True, id="borrow-cap-cut-fast"),  # -30% of 1.4M
    pytest.param("WETH", {Param.LTV: 8_075}, False, id="ltv-raise"),
    pytest.param("WETH", {Param.LIQUIDATION_THRESHOLD: 8_325}, False, id="lt-raise"),
    pytest.param("WETH", {Param.LIQUIDATION_BONUS: 10_450}, False, id="lb-lower"),
    pytest.param("WETH", {Param.LIQUIDATION_BONUS: 10_550}, False, id="lb-raise"),  # 8300 x 10550 <= 1e8
    pytest.param("WETH", {Param.SUPPLY_CAP: 2_340_000}, False, id="supply-cap-raise"),  # +30%
    pytest.param("WETH", {Param.BORROW_CAP: 1_820_000}, False, id="borrow-cap-raise"),
    pytest.param("WETH", {Param.RESERVE_FACTOR: 2_000}, False, id="reserve-factor"),
    pytest.param("USDC", {Param.OPTIMAL_USAGE_RATIO: 9_200}, False, id="optimal-usage"),
    pytest.param("CRV", {Param.BASE_VARIABLE_BORROW_RATE: 250}, False, id="base-rate"),
    pytest.param("USDC", {Param.VARIABLE_RATE_SLOPE1: 400}, False, id="slope1"),
    pytest.param("USDC", {Param.VARIABLE_RATE_SLOPE2: 6_400}, False, id="slope2"),
    pytest.param("WETH", {Param.LTV: 8_025, Param.SUPPLY_CAP: 1_500_000}, True, id="two-cuts-fast"),
    pytest.param("WETH", {Param.LTV: 8_025, Param.LIQUIDATION_BONUS: 10_550}, False, id="cut-and-raise-slow"),
]


@pytest.mark.parametrize(("symbol", "changes", "fast"), UPDATE_TYPES)
def test_every_update_type_reaches_aave_and_moves_only_its_fields(system: System, symbol, changes, fast):
    before = system.aave_params(symbol)
    result = system.propose(symbol, changes)
    if fast:
        assert result.path is SubmitPath.APPLIED and result.operation is None
    else:
        assert result.path is SubmitPath.SCHEDULED
        assert system.relay.operation_state(result.operation_id) is OperationState.WAITING
        assert system.aave_params(symbol) == before  # nothing moves before the delay
        advance_time(system.w3, MIN_DELAY_SECONDS)
        system.execute(result)
        assert system.relay.operation_state(result.operation_id) is OperationState.DONE
    assert system.aave_params(symbol) == {**before, **changes}


def test_rate_change_keeps_the_stable_curve_and_the_other_variable_fields(system: System):
    """A slope2 change deploys a new DefaultReserveInterestRateStrategy whose other eight
    arguments are the old strategy's, exactly (in ray)."""
    getters = ("OPTIMAL_USAGE_RATIO", "getBaseVariableBorrowRate", "getVariableRateSlope1", "getStableRateSlope1",
               "getStableRateSlope2", "getBaseStableBorrowRate", "getStableRateExcessOffset",
               "OPTIMAL_STABLE_TO_TOTAL_DEBT_RATIO", "ADDRESSES_PROVIDER")
    old = aave_contract(system.w3, "DefaultReserveInterestRateStrategy", system.rate_strategy("USDC"))
    result = system.propose("USDC", {Param.VARIABLE_RATE_SLOPE2: 6_400})
    advance_time(system.w3, MIN_DELAY_SECONDS)
    system.execute(result)
    new = aave_contract(system.w3, "DefaultReserveInterestRateStrategy", system.rate_strategy("USDC"))
    assert new.address != old.address
    for getter in getters:
        assert getattr(new.functions, getter)().call() == getattr(old.functions, getter)().call(), getter
    assert new.functions.getVariableRateSlope2().call() == 6_400 * 10**23
    assert old.functions.getVariableRateSlope2().call() == USDC.variable_rate_slope2_bps * 10**23


def test_steward_reads_the_values_aave_reports(system: System):
    """The steward's own reading of a reserve (configuration word + rate strategy) equals the
    data provider's, for every listed reserve."""
    for symbol, expected in (("WETH", WETH), ("USDC", USDC), ("CRV", CRV)):
        assert system.relay.current_values(system.asset(symbol)) == expected.by_param()
        assert system.aave_params(symbol) == expected.by_param()


def test_events_record_the_life_of_updates(system: System):
    """read_events over the steward, timelock and Aave's configurator returns, in chain order,
    a fast update (UpdateApplied + Aave's change), a scheduled one (UpdateScheduled with the
    timelock's CallScheduled whose payload decodes to the update), its execution (Aave's change,
    UpdateExecuted, CallExecuted) and a veto (Cancelled, UpdateVetoed)."""
    start = system.w3.eth.block_number + 1
    system.propose("WETH", {Param.LTV: 8_025})
    scheduled = system.propose("WETH", {Param.LIQUIDATION_BONUS: 10_550})
    vetoed = system.propose("USDC", {Param.RESERVE_FACTOR: 1_200})
    system.guardian_client.veto(vetoed.operation)
    advance_time(system.w3, MIN_DELAY_SECONDS)
    system.execute(scheduled)
    names = [e.name for e in read_events(system.w3, system.deployment, start)]
    # The deployment file names the same contracts (the configurator derived on chain).
    from_file = read_events(system.w3, system.deployment.to_deployment(), start)
    assert [e.name for e in from_file] == names
    assert names == [
        "CollateralConfigurationChanged", "UpdateApplied",
        "CallScheduled", "CallSalt", "UpdateScheduled",
        "CallScheduled", "CallSalt", "UpdateScheduled",
        "Cancelled", "UpdateVetoed",
        "CollateralConfigurationChanged", "UpdateExecuted", "CallExecuted",
    ]
    receipt = system.w3.eth.get_transaction_receipt(scheduled.transaction_hash)
    assert system.relay.scheduled_from_receipt(receipt) == scheduled.operation
    assert scheduled.operation.params == (Param.LIQUIDATION_BONUS,) and scheduled.operation.values == (10_550,)


def test_operation_id_computed_off_chain_is_the_timelocks(system: System):
    """The client's id (hashOperation of steward.applyUpdate(...), salt = update hash) equals the
    steward's own `operationIdOf` and the timelock's `hashOperation`, and names the operation
    the timelock holds."""
    result = system.propose("WETH", {Param.LTV: 8_075})
    op = result.operation
    assert system.steward.functions.operationIdOf(op.asset, list(op.params), list(op.values), op.update_hash).call() \
        == op.operation_id
    assert system.timelock.functions.hashOperation(*op.execute_args()).call() == op.operation_id
    assert system.relay.operation_eta(op.operation_id) == result.ready_at
