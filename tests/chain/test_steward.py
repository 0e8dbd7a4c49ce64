"""RiskSteward end to end on both EVM backends: what it accepts, what it refuses (by name),
and that a refusal changes nothing."""

from __future__ import annotations

import pytest
from eth_account import Account

from chain.errors import ContractRevert
from chain.node import advance_time, latest_timestamp
from chain.steward import OperationState
from chain.transact import Transactor
from chain.update import Param
from tests.chain.conftest import MIN_DELAY_SECONDS, System


def state_fingerprint(system: System, symbol: str = "WETH") -> tuple:
    """Everything a rejected update must leave unchanged."""
    steward = system.steward
    asset = system.deployment.asset(symbol).token
    return (
        system.reader.read().reserve(symbol),
        tuple(steward.functions.lastUpdatedAt(asset, p).call() for p in Param),
        tuple(steward.functions.nonceUsed(system.enclave.address, n).call() for n in (1, 2)),
        len(system.relay.scheduled_operations()),
    )


def assert_rejected(system: System, update, signature: bytes, error_name: str) -> ContractRevert:
    before = state_fingerprint(system)
    with pytest.raises(ContractRevert) as raised:
        system.relay.submit(update, signature)
    assert raised.value.name == error_name, str(raised.value)
    assert state_fingerprint(system) == before
    return raised.value


def test_valid_update_is_scheduled_then_executed_and_visible(system: System):
    update = system.update("WETH", {Param.LTV: 8_025, Param.LIQUIDATION_THRESHOLD: 8_275})
    result = system.relay.submit(update, system.sign(update))
    assert system.relay.operation_state(result.operation_id) is OperationState.WAITING
    assert system.reader.read().reserve("WETH").ltv_bps == 8_050

    advance_time(system.w3, MIN_DELAY_SECONDS + 1)
    assert system.relay.execute_ready() == [result.operation_id]
    weth = system.reader.read().reserve("WETH")
    assert (weth.ltv_bps, weth.liquidation_threshold_bps, weth.liquidation_bonus_bps) == (8_025, 8_275, 10_500)
    assert system.relay.operation_state(result.operation_id) is OperationState.DONE


def test_caps_and_rates_are_scheduled_as_configurator_calls(system: System):
    update = system.update(
        "USDC", {Param.SUPPLY_CAP: 2_000_000_000, Param.VARIABLE_RATE_SLOPE2: 6_400, Param.RESERVE_FACTOR: 1_200}
    )
    system.relay.submit(update, system.sign(update))
    advance_time(system.w3, MIN_DELAY_SECONDS + 1)
    system.relay.execute_ready()
    usdc = system.reader.read().reserve("USDC")
    assert usdc.supply_cap_tokens == 2_000_000_000
    assert usdc.variable_rate_slope2_bps == 6_400
    assert usdc.reserve_factor_bps == 1_200
    assert usdc.variable_rate_slope1_bps == 350


def test_wrong_signer(system: System):
    update = system.update("WETH", {Param.LTV: 8_025})
    assert_rejected(system, update, system.sign(update, key=Account.create().key), "InvalidSignature")


def test_unregistered_key(system: System):
    stranger = Account.create()
    update = system.update("WETH", {Param.LTV: 8_025}, enclave=stranger.address)
    assert_rejected(system, update, system.sign(update, key=stranger.key), "EnclaveNotRegistered")


def test_revoked_key(system: System):
    client = system.governance_client
    system.governance_do(client.encode_steward_call("revokeEnclave", system.enclave.address), salt=b"\x02" * 32)
    update = system.update("WETH", {Param.LTV: 8_025})
    assert_rejected(system, update, system.sign(update), "EnclaveRevoked")


def test_unapproved_measurement(system: System):
    update = system.update("WETH", {Param.LTV: 8_025}, measurement=b"\x01" * 48)
    assert_rejected(system, update, system.sign(update), "MeasurementNotApproved")


def test_measurement_approval_withdrawn(system: System):
    client = system.governance_client
    system.governance_do(
        client.encode_steward_call("setMeasurementApproval", system.measurement, False), salt=b"\x03" * 32
    )
    update = system.update("WETH", {Param.LTV: 8_025})
    assert_rejected(system, update, system.sign(update), "MeasurementNotApproved")


def test_replayed_nonce(system: System):
    first = system.update("WETH", {Param.LTV: 8_025}, nonce=7)
    system.relay.submit(first, system.sign(first))
    replay = system.update("USDC", {Param.LTV: 7_725}, nonce=7)
    before = len(system.relay.scheduled_operations())
    with pytest.raises(ContractRevert) as raised:
        system.relay.submit(replay, system.sign(replay))
    assert raised.value.name == "NonceAlreadyUsed"
    assert len(system.relay.scheduled_operations()) == before


def test_expired_deadline(system: System):
    update = system.update("WETH", {Param.LTV: 8_025}, deadline=latest_timestamp(system.w3) - 1)
    assert_rejected(system, update, system.sign(update), "UpdateExpired")


def test_deadline_beyond_six_hours(system: System):
    update = system.update("WETH", {Param.LTV: 8_025}, deadline=latest_timestamp(system.w3) + 7 * 3_600)
    assert_rejected(system, update, system.sign(update), "DeadlineTooFar")


def test_signed_update_expires_after_six_hours(system: System):
    update = system.update("WETH", {Param.LTV: 8_025}, deadline=latest_timestamp(system.w3) + 6 * 3_600)
    signature = system.sign(update)
    advance_time(system.w3, 6 * 3_600 + 10)
    assert_rejected(system, update, signature, "UpdateExpired")


def test_wrong_chain_id(system: System):
    other_chain = system.w3.eth.chain_id + 1
    update = system.update("WETH", {Param.LTV: 8_025}, chain_id=other_chain)
    assert_rejected(system, update, system.sign(update, domain_chain_id=other_chain), "WrongChainId")


def test_change_over_its_bound(system: System):
    update = system.update("WETH", {Param.LIQUIDATION_THRESHOLD: 8_200})
    error = assert_rejected(system, update, system.sign(update), "UpdateNotInRange")
    assert error.args_decoded == (Param.LIQUIDATION_THRESHOLD, 8_300, 8_200, 25)


def test_relative_cap_bound(system: System):
    update = system.update("WETH", {Param.SUPPLY_CAP: 2_400_000})
    assert_rejected(system, update, system.sign(update), "UpdateNotInRange")


def test_cap_never_to_zero(system: System):
    update = system.update("WETH", {Param.BORROW_CAP: 0})
    assert_rejected(system, update, system.sign(update), "ZeroValueNotAllowed")


def test_second_change_inside_cooldown(system: System):
    first = system.update("WETH", {Param.LTV: 8_025}, nonce=1)
    system.relay.submit(first, system.sign(first))
    advance_time(system.w3, 3_600)
    second = system.update("WETH", {Param.LTV: 8_075}, nonce=2)
    error = assert_rejected(system, second, system.sign(second), "UpdateInCooldown")
    assert error.args_decoded[0] == Param.LTV


def test_threshold_below_ltv(system: System):
    update = system.update("wstETH", {Param.LIQUIDATION_THRESHOLD: 9_425})
    error = assert_rejected(system, update, system.sign(update), "LtvAboveThreshold")
    assert error.args_decoded == (9_430, 9_425)


def test_threshold_times_bonus_above_100_percent(system: System):
    update = system.update("wstETH", {Param.LIQUIDATION_BONUS: 10_600})
    error = assert_rejected(system, update, system.sign(update), "ThresholdTimesBonusAbove100")
    assert error.args_decoded == (9_450, 10_600)


def test_paused_steward(system: System):
    Transactor(system.w3, system.guardian).send(system.steward.functions.pause())
    update = system.update("WETH", {Param.LTV: 8_025})
    assert_rejected(system, update, system.sign(update), "StewardPaused")


def test_only_governance_registers_keys_and_sets_bounds(system: System):
    with pytest.raises(ContractRevert) as raised:
        Transactor(system.w3, system.relayer).send(
            system.steward.functions.registerEnclave(system.relayer.address, b"\x00" * 48, b"\x00" * 32, 0)
        )
    assert raised.value.name == "OnlyGovernance"
    with pytest.raises(ContractRevert) as raised:
        Transactor(system.w3, system.governance).send(
            system.steward.functions.setBound(0, (3_600, 100, False, 1, 9_000))
        )
    assert raised.value.name == "OnlyGovernance"


def test_bounds_cannot_be_set_to_zero_cooldown(system: System):
    client = system.governance_client
    payload = client.encode_steward_call("setBound", 0, (0, 25, False, 1, 9_900))
    operation_id = client.schedule_governance([payload], b"\x04" * 32)
    advance_time(system.w3, MIN_DELAY_SECONDS + 1)
    operation = next(o for o in client.scheduled_operations() if o.operation_id == operation_id)
    with pytest.raises(ContractRevert):
        client.execute(operation)
    assert system.steward.functions.getBound(0).call()[0] == 86_400


def test_resubmission_is_a_no_op(system: System):
    update = system.update("WETH", {Param.LTV: 8_025})
    signature = system.sign(update)
    first = system.relay.submit(update, signature)
    # Relay the same bytes straight to the contract too, bypassing the client's pre-check.
    Transactor(system.w3, system.users[0]).send(system.steward.functions.submit(update.as_tuple(), signature))
    second = system.relay.submit(update, signature)
    assert second.already_scheduled and second.operation_id == first.operation_id
    assert len(system.relay.scheduled_operations()) == 1 + 1  # the registration batch and this one


def test_execution_before_delay_reverts(system: System):
    update = system.update("WETH", {Param.LTV: 8_025})
    result = system.relay.submit(update, system.sign(update))
    operation = next(o for o in system.relay.scheduled_operations() if o.operation_id == result.operation_id)
    with pytest.raises(ContractRevert) as raised:
        system.relay.execute(operation)
    assert raised.value.name == "TimelockUnexpectedOperationState"
    assert system.reader.read().reserve("WETH").ltv_bps == 8_050


def test_guardian_cancel_stops_execution(system: System):
    update = system.update("WETH", {Param.LTV: 8_025})
    result = system.relay.submit(update, system.sign(update))
    system.guardian_client.cancel(result.operation_id)
    advance_time(system.w3, MIN_DELAY_SECONDS + 1)
    assert system.relay.operation_state(result.operation_id) is OperationState.UNSET
    assert system.relay.execute_ready() == []
    assert system.reader.read().reserve("WETH").ltv_bps == 8_050
    # A vetoed update stays vetoed: relaying it again schedules nothing.
    assert system.relay.submit(update, system.sign(update)).already_scheduled


def test_only_guardian_cancels(system: System):
    update = system.update("WETH", {Param.LTV: 8_025})
    result = system.relay.submit(update, system.sign(update))
    with pytest.raises(ContractRevert) as raised:
        system.relay.cancel(result.operation_id)
    assert raised.value.name == "AccessControlUnauthorizedAccount"
