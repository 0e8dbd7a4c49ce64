"""Every refusal of RiskSteward.submit / applyUpdate, on both backends, each by its custom error
name and arguments, with the steward's and Aave's state unchanged afterwards.

Arguments are derived by hand from the October-2023 listing and the default bounds
(strategies.params.DEFAULT_BOUNDS) in each case's comment.
"""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_utils import keccak

from chain.node import advance_time, latest_timestamp
from chain.steward import SubmitPath, hash_operation
from strategies.params import MAX_CAP_TOKENS, Param
from tests.chain.conftest import MEASUREMENT, MIN_DELAY_SECONDS, System, call_submit, expect_revert, mine_blocks

STRANGER_KEY = b"\x42" * 32


def assert_refused(system: System, update, name: str, *args, signature: bytes | None = None, symbol: str = "WETH"):
    """The relay is refused with `name(args)` and nothing changed, on Aave or in the steward."""
    before = system.state_fingerprint(symbol)
    error = expect_revert(lambda: system.submit(update, signature), name, *args)
    assert system.state_fingerprint(symbol) == before
    return error


# ------------------------------------------------------------------ steps 1-7: the envelope


def test_paused_steward_refuses_both_paths(system: System):
    system.guardian_client.pause()
    assert_refused(system, system.update("WETH", {Param.LTV: 8_025}), "StewardPaused")  # fast path
    assert_refused(system, system.update("WETH", {Param.LTV: 8_075}), "StewardPaused")  # slow path


def test_wrong_chain_id(system: System):
    other = system.w3.eth.chain_id + 1
    update = system.update("WETH", {Param.LTV: 8_025}, chain_id=other)
    assert_refused(system, update, "WrongChainId", system.w3.eth.chain_id, other,
                   signature=system.sign(update, domain_chain_id=other))


def test_anchor_not_yet_in_the_past(system: System):
    """The latest block is not yet past when the steward runs in it (simulation at latest)."""
    latest = system.w3.eth.block_number
    update = system.update("WETH", {Param.LTV: 8_025}, anchor_block=latest)
    assert_refused(system, update, "AnchorBlockUnavailable", latest)


def test_anchor_hash_mismatch(system: System):
    update = system.update("WETH", {Param.LTV: 8_025}, anchor_block_hash=b"\x11" * 32)
    real = bytes(system.w3.eth.get_block(update.anchor_block)["hash"])
    assert_refused(system, update, "AnchorHashMismatch", real, b"\x11" * 32)


def test_anchor_older_than_256_blocks(system: System):
    """Signed while fresh, relayed after 257 more blocks: blockhash is gone."""
    update = system.update("WETH", {Param.LTV: 8_025})
    signature = system.sign(update)
    mine_blocks(system.w3, 257)
    assert_refused(system, update, "AnchorBlockUnavailable", update.anchor_block, signature=signature)


def test_anchor_time_in_the_future(system: System):
    """An `as_of` later than the chain's clock (the 30-days-ahead attack) is refused."""
    now = latest_timestamp(system.w3)
    future = now + 30 * 86_400
    update = system.update("WETH", {Param.LTV: 8_025}, anchor_timestamp=future, deadline=future + 3_600)
    assert_refused(system, update, "AnchorInFuture", future)


def test_expired_update(system: System):
    update = system.update("WETH", {Param.LTV: 8_025})
    update = system.update("WETH", {Param.LTV: 8_025}, deadline=update.anchor_timestamp + 10)
    signature = system.sign(update)
    advance_time(system.w3, 20)
    assert_refused(system, update, "UpdateExpired", update.deadline, latest_timestamp(system.w3), signature=signature)


def test_deadline_more_than_six_hours_after_the_anchor(system: System):
    update = system.update("WETH", {Param.LTV: 8_025})
    too_far = update.anchor_timestamp + 6 * 3_600 + 1
    update = system.update("WETH", {Param.LTV: 8_025}, deadline=too_far)
    assert_refused(system, update, "DeadlineTooFar", too_far, too_far - 1)


def test_unregistered_key(system: System):
    stranger = Account.from_key(STRANGER_KEY)
    update = system.update("WETH", {Param.LTV: 8_025}, enclave=stranger.address)
    assert_refused(system, update, "EnclaveNotRegistered", stranger.address,
                   signature=system.sign(update, STRANGER_KEY))


def test_revoked_key(system: System):
    system.governance_do(system.steward_call("revokeEnclave", system.enclave.address), salt=b"\x02" * 32)
    update = system.update("WETH", {Param.LTV: 8_025})
    assert_refused(system, update, "EnclaveRevoked", system.enclave.address)


def test_expired_registration(system: System):
    stranger = Account.from_key(STRANGER_KEY)
    expires_at = latest_timestamp(system.w3) + 2 * MIN_DELAY_SECONDS
    system.governance_do(
        system.steward_call("registerEnclave", stranger.address, MEASUREMENT, b"\x00" * 32, expires_at),
        salt=b"\x03" * 32,
    )
    advance_time(system.w3, 2 * MIN_DELAY_SECONDS)
    update = system.update("WETH", {Param.LTV: 8_025}, enclave=stranger.address, nonce=0)
    assert_refused(system, update, "EnclaveRegistrationExpired", stranger.address, expires_at,
                   signature=system.sign(update, STRANGER_KEY))


def test_measurement_not_approved(system: System):
    other = b"\x01" * 48
    update = system.update("WETH", {Param.LTV: 8_025}, measurement=other)
    assert_refused(system, update, "MeasurementNotApproved", keccak(other))


def test_measurement_approval_withdrawn(system: System):
    system.governance_do(system.steward_call("setMeasurementApproval", MEASUREMENT, False), salt=b"\x04" * 32)
    assert_refused(system, system.update("WETH", {Param.LTV: 8_025}), "MeasurementNotApproved", keccak(MEASUREMENT))


def test_measurement_other_than_the_registered_one(system: System):
    """An approved measurement is not enough: the key was attested for one image only."""
    other = b"\x02" * 48
    system.governance_do(system.steward_call("setMeasurementApproval", other, True), salt=b"\x05" * 32)
    update = system.update("WETH", {Param.LTV: 8_025}, measurement=other)
    assert_refused(system, update, "MeasurementMismatch", keccak(MEASUREMENT), keccak(other))


def test_signature_by_another_key(system: System):
    update = system.update("WETH", {Param.LTV: 8_025})
    stranger = Account.from_key(STRANGER_KEY)
    assert_refused(system, update, "InvalidSignature", system.enclave.address, stranger.address,
                   signature=system.sign(update, STRANGER_KEY))


def test_nonce_other_than_the_counter(system: System):
    counter = system.relay.nonce(system.enclave.address)
    update = system.update("WETH", {Param.LTV: 8_025}, nonce=counter + 1)
    assert_refused(system, update, "NonceMismatch", system.enclave.address, counter, counter + 1)


def test_unpublished_inputs(system: System):
    update = system.update("WETH", {Param.LTV: 8_025}, inputs_hash=keccak(b"never published"))
    assert_refused(system, update, "InputsNotPublished", keccak(b"never published"))


def test_publishing_records_the_block_and_is_idempotent(system: System):
    inputs = b"canonical inputs of one decision"
    first = system.relay.publish_inputs(inputs)
    block = system.w3.eth.get_transaction_receipt(first.transaction_hash)["blockNumber"]
    assert not first.already and first.inputs_hash == keccak(inputs)
    assert system.steward.functions.inputsPublishedAtBlock(keccak(inputs)).call() == block
    again = system.relay.publish_inputs(inputs)
    assert again.already and again.transaction_hash is None
    # The bytes are in the publishing transaction's calldata, where `verify --rpc` reads them.
    tx = system.w3.eth.get_transaction(first.transaction_hash)
    assert system.steward.decode_function_input(tx["input"])[1]["inputs"] == inputs


# ------------------------------------------------------------------ steps 8-9: the changes


def test_malformed_updates(system: System):
    assert_refused(system, system.update("WETH", {}), "MalformedUpdate")
    update = system.update("WETH", {Param.LTV: 8_025}, values=(8_025, 8_275))
    assert_refused(system, update, "MalformedUpdate")


def test_unknown_and_duplicate_params(system: System):
    update = system.update("WETH", {Param.LTV: 8_025}, params=(10,))
    assert_refused(system, update, "UnknownParam", 10)
    update = system.update("WETH", {Param.LTV: 8_025}, params=(0, 0), values=(8_025, 8_000))
    assert_refused(system, update, "DuplicateParam", 0)


@pytest.mark.parametrize("symbol", ["WETH", "USDC"])
def test_asset_unlisted(system: System, symbol):
    """Aave-steward family "asset unlisted", for the collateral group and for rates."""
    unlisted = "0x" + "5" * 40
    changes = {Param.LTV: 8_025} if symbol == "WETH" else {Param.VARIABLE_RATE_SLOPE2: 6_400}
    update = system.update(symbol, changes, asset=system.w3.to_checksum_address(unlisted))
    assert_refused(system, update, "UnknownAsset", system.w3.to_checksum_address(unlisted))


# Aave-steward family "out of range": each parameter one unit past its step (values in force:
# WETH 8050/8300/10500, caps 1.8M/1.4M, RF 1500; USDC uOpt 9000, slope1 350, slope2 6000; CRV base 300).
OUT_OF_RANGE = [
    ("WETH", Param.LTV, 8_076, (8_050, 25)),
    ("WETH", Param.LIQUIDATION_THRESHOLD, 8_274, (8_300, 25)),
    ("WETH", Param.LIQUIDATION_BONUS, 10_551, (10_500, 50)),
    ("WETH", Param.SUPPLY_CAP, 2_340_001, (1_800_000, 540_000)),  # 30% of 1.8M
    ("WETH", Param.BORROW_CAP, 979_999, (1_400_000, 420_000)),  # 30% of 1.4M, downward
    ("WETH", Param.RESERVE_FACTOR, 2_001, (1_500, 500)),
    ("USDC", Param.OPTIMAL_USAGE_RATIO, 8_699, (9_000, 300)),
    ("CRV", Param.BASE_VARIABLE_BORROW_RATE, 351, (300, 50)),
    ("USDC", Param.VARIABLE_RATE_SLOPE1, 401, (350, 50)),
    ("USDC", Param.VARIABLE_RATE_SLOPE2, 6_401, (6_000, 400)),
]


@pytest.mark.parametrize(("symbol", "param", "value", "current_and_step"), OUT_OF_RANGE, ids=lambda v: str(v))
def test_out_of_range(system: System, symbol, param, value, current_and_step):
    current, step = current_and_step
    update = system.update(symbol, {param: value})
    assert_refused(system, update, "UpdateNotInRange", param, current, value, step, symbol=symbol)


@pytest.mark.parametrize("param", [Param.LTV, Param.LIQUIDATION_THRESHOLD, Param.LIQUIDATION_BONUS, Param.SUPPLY_CAP,
                                   Param.BORROW_CAP])
def test_to_value_zero_not_allowed(system: System, param):
    assert_refused(system, system.update("WETH", {param: 0}), "ZeroValueNotAllowed", param)


# Aave-steward family "all fields keep current": every field of a group at its value in force.
KEEP_CURRENT = [
    ("WETH", {Param.LTV: 8_050, Param.LIQUIDATION_THRESHOLD: 8_300, Param.LIQUIDATION_BONUS: 10_500}),
    ("WETH", {Param.SUPPLY_CAP: 1_800_000}),
    ("WETH", {Param.BORROW_CAP: 1_400_000}),
    ("WETH", {Param.RESERVE_FACTOR: 1_500}),
    ("USDC", {Param.OPTIMAL_USAGE_RATIO: 9_000, Param.BASE_VARIABLE_BORROW_RATE: 0, Param.VARIABLE_RATE_SLOPE1: 350,
              Param.VARIABLE_RATE_SLOPE2: 6_000}),
]


@pytest.mark.parametrize(("symbol", "changes"), KEEP_CURRENT,
                         ids=["collateral", "supply-cap", "borrow-cap", "rf", "rates"])
def test_all_fields_keep_current(system: System, symbol, changes):
    first, value = next(iter(changes.items()))
    assert_refused(system, system.update(symbol, changes), "ParamUnchanged", first, value, symbol=symbol)


def test_outside_floor_and_ceiling(system: System):
    """Floor/ceiling come before the step: LB 9000 is under its floor 10001 (default bound)."""
    assert_refused(system, system.update("WETH", {Param.LIQUIDATION_BONUS: 9_000}), "OutsideFloorCeiling",
                   Param.LIQUIDATION_BONUS, 9_000, 10_001, 15_000)


def test_ltv_above_threshold(system: System):
    """wstETH: LTV 9430 under LT 9450; LT -25 -> 9425 < LTV."""
    assert_refused(system, system.update("wstETH", {Param.LIQUIDATION_THRESHOLD: 9_425}), "LtvAboveThreshold",
                   9_430, 9_425, symbol="wstETH")


def test_threshold_times_bonus_above_100(system: System):
    """wstETH: 9450 x 10600 = 100.17M > 100M."""
    assert_refused(system, system.update("wstETH", {Param.LIQUIDATION_BONUS: 10_600}), "ThresholdTimesBonusAbove100",
                   9_450, 10_600, symbol="wstETH")


def widen(system: System, param: Param, bound: tuple, salt: bytes) -> None:
    system.governance_do(system.steward_call("setBound", int(param), bound), salt=salt)


def test_bonus_not_above_100(system: System):
    """With LB's floor lowered to 9000 and its step to 1000, LB 10000 passes the step and floor
    but not Aave's rule LB > 100%."""
    widen(system, Param.LIQUIDATION_BONUS, (86_400, 1_000, False, 9_000, 15_000), b"\x06" * 32)
    assert_refused(system, system.update("WETH", {Param.LIQUIDATION_BONUS: 10_000}), "BonusNotAbove100", 10_000)


def test_above_aave_limits(system: System):
    """Governance bounds cannot take a value past Aave's own field limits: RF 100.01% and a
    supply cap of 2^36 tokens are refused even when the bound would allow them."""
    widen(system, Param.RESERVE_FACTOR, (86_400, 100_000, False, 0, 20_000), b"\x07" * 32)
    assert_refused(system, system.update("WETH", {Param.RESERVE_FACTOR: 10_001}), "AboveProtocolLimit",
                   Param.RESERVE_FACTOR, 10_001, 10_000)
    widen(system, Param.SUPPLY_CAP, (86_400, 2**31, True, 1, 2**64 - 1), b"\x08" * 32)
    assert_refused(system, system.update("WETH", {Param.SUPPLY_CAP: MAX_CAP_TOKENS + 1}), "AboveProtocolLimit",
                   Param.SUPPLY_CAP, MAX_CAP_TOKENS + 1, MAX_CAP_TOKENS)


def test_invalid_rate_curve(system: System):
    """uOpt 99.5% passes a widened bound but not the curve check (1% <= uOpt <= 99%)."""
    widen(system, Param.OPTIMAL_USAGE_RATIO, (86_400, 2_000, False, 100, 10_000), b"\x09" * 32)
    assert_refused(system, system.update("USDC", {Param.OPTIMAL_USAGE_RATIO: 9_950}), "InvalidRateCurve", symbol="USDC")


# ------------------------------------------------------------------ applyUpdate and governance


def test_apply_update_only_from_the_timelock(system: System):
    """Aave-steward family "invalid caller": nobody but the timelock calls applyUpdate, and the
    relayer cannot call Aave's configurator itself."""
    asset = system.asset("WETH")
    apply_update = system.steward.functions.applyUpdate(asset, [0], [8_075], b"\x00" * 32)
    expect_revert(lambda: system.send(system.relayer, apply_update), "OnlyTimelock", system.relayer.address)
    expect_revert(lambda: system.send(system.relayer, system.configurator.functions.setSupplyCap(asset, 1)),
                  "CALLER_NOT_RISK_OR_POOL_ADMIN", "4")


def test_apply_update_refused_while_paused(system: System):
    result = system.propose("WETH", {Param.LTV: 8_075})
    system.guardian_client.pause()
    advance_time(system.w3, MIN_DELAY_SECONDS)
    expect_revert(lambda: system.execute(result), "StewardPaused")
    assert system.aave_params("WETH")[Param.LTV] == 8_050


def test_apply_update_outside_a_steward_operation(system: System):
    """Governance batching applyUpdate with another call: the steward finds no operation of its
    own shape for it and refuses (it never trusts a caller-built batch)."""
    payload = system.steward_call("applyUpdate", system.asset("WETH"), [0], [8_075], b"\x0a" * 32)
    batch = system.governance_client.schedule_governance([payload, system.steward_call("pause")], b"\x0a" * 32)
    advance_time(system.w3, MIN_DELAY_SECONDS)
    expected = hash_operation(system.steward.address, 0, payload, b"\x00" * 32, b"\x0a" * 32)
    expect_revert(lambda: system.governance_client.execute(batch), "UnknownOperation", expected)


def test_governance_only_setters(system: System):
    steward = system.steward.functions
    for fn in (
        steward.registerEnclave(system.relayer.address, MEASUREMENT, b"\x00" * 32, 0),
        steward.revokeEnclave(system.enclave.address),
        steward.setMeasurementApproval(MEASUREMENT, False),
        steward.setBound(0, (3_600, 100, False, 1, 9_000)),
        steward.setExecutionWindow(1),
        steward.setGuardian(system.relayer.address),
        steward.unpause(),
    ):
        expect_revert(lambda fn=fn: system.send(system.governance, fn), "OnlyGovernance", system.governance.address)
    expect_revert(lambda: system.send(system.relayer, steward.pause()), "OnlyGuardianOrGovernance",
                  system.relayer.address)
    expect_revert(lambda: system.send(system.relayer, steward.veto(system.asset("WETH"), [0], [1], b"\x00" * 32)),
                  "OnlyGuardian", system.relayer.address)


def test_governance_refuses_invalid_settings(system: System):
    """setBound / setExecutionWindow / setGuardian revert inside the timelock call; the bound
    and window in force stay."""
    for payload, name in (
        (system.steward_call("setBound", 0, (0, 25, False, 1, 9_900)), "InvalidBound"),
        (system.steward_call("setBound", 0, (86_400, 25, False, 9_000, 8_000)), "InvalidBound"),
        (system.steward_call("setExecutionWindow", 0), "InvalidExecutionWindow"),
        (system.steward_call("setGuardian", "0x" + "0" * 40), "InvalidGuardian"),
    ):
        batch = system.governance_client.schedule_governance([payload], keccak(payload))
        advance_time(system.w3, MIN_DELAY_SECONDS)
        expect_revert(lambda batch=batch: system.governance_client.execute(batch), name)
    assert tuple(system.steward.functions.getBound(0).call()) == (86_400, 25, False, 1, 9_900)
    assert system.steward.functions.executionWindowSeconds().call() == 86_400


# Aave-steward family "cooldown not respected": after an executed change, the next change of the
# same parameter waits its cooldown from that execution (LTV/LT/LB 1 day, caps/RF/uOpt 3 days,
# base/slope1 1 day, slope2 8 h).
COOLDOWN = [
    ("WETH", Param.LIQUIDATION_THRESHOLD, 8_325, 8_350, 86_400),  # slow path
    ("WETH", Param.SUPPLY_CAP, 1_500_000, 1_400_000, 3 * 86_400),  # fast path
    ("WETH", Param.BORROW_CAP, 1_200_000, 1_100_000, 3 * 86_400),  # fast path
    ("WETH", Param.RESERVE_FACTOR, 2_000, 2_500, 3 * 86_400),
    ("USDC", Param.VARIABLE_RATE_SLOPE1, 400, 450, 86_400),
]


@pytest.mark.parametrize(("symbol", "param", "first", "second", "cooldown"), COOLDOWN, ids=lambda v: str(v))
def test_cooldown_not_respected(system: System, symbol, param, first, second, cooldown):
    result = system.propose(symbol, {param: first})
    if result.operation is None:  # applied at once
        receipt = system.w3.eth.get_transaction_receipt(result.transaction_hash)
    else:
        advance_time(system.w3, MIN_DELAY_SECONDS)
        receipt = system.execute(result)
    executed_at = system.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    assert_refused(system, system.update(symbol, {param: second}), "UpdateInCooldown", param, executed_at + cooldown,
                   symbol=symbol)


def test_same_update_relayed_twice_changes_nothing(system: System):
    """Aave-steward family "same update". Slow path: the second relay is answered from the chain
    (same operation, nothing sent), and the contract itself returns the operation id for it
    without touching state. Fast path: the second relay is recognised as applied; the contract
    refuses it (its nonce is spent)."""
    update = system.update("WETH", {Param.LTV: 8_075})
    signature = system.sign(update)
    first = system.submit(update, signature)
    before = system.state_fingerprint()
    again = system.submit(update, signature)
    assert again.already and again.transaction_hash is None and again.operation_id == first.operation_id
    assert call_submit(system, update, signature) == first.operation_id
    system.send(system.relayer, system.steward.functions.submit(update.as_tuple(), signature))
    assert system.state_fingerprint() == before

    cut = system.update("USDC", {Param.LTV: 7_675})
    cut_signature = system.sign(cut)
    assert system.submit(cut, cut_signature).path is SubmitPath.APPLIED
    assert system.submit(cut, cut_signature).already
    counter = system.relay.nonce(system.enclave.address)
    expect_revert(lambda: call_submit(system, cut, cut_signature), "NonceMismatch", system.enclave.address, counter,
                  cut.nonce)
