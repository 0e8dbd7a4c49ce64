"""The hostile-operator attacks of issue 12, each now failing for the attacker, on both backends.

(The envelope attacks -- anchor hash mismatch, an anchor older than 256 blocks, unpublished
inputs -- are in test_steward_checks.py; the deployer's roles in test_steward_roles.py.)
"""

from __future__ import annotations

from chain.node import advance_time, latest_timestamp
from chain.steward import OperationState, SubmitPath
from strategies.params import Param
from tests.chain.conftest import MIN_DELAY_SECONDS, System, expect_revert, mine_blocks

SLOPE2 = Param.VARIABLE_RATE_SLOPE2
WINDOW = 86_400  # the default execution window
HOUR = 3_600


def block_time(system: System, receipt) -> int:
    return int(system.w3.eth.get_block(receipt["blockNumber"])["timestamp"])


def collateral(system: System, symbol: str) -> tuple[int, int, int]:
    after = system.aave_params(symbol)
    return after[Param.LTV], after[Param.LIQUIDATION_THRESHOLD], after[Param.LIQUIDATION_BONUS]


def test_two_slope2_updates_eight_hours_apart_cannot_compose_to_800_bps(system: System):
    """USDC slope2 is 6000 with a bound of 400 bps per 8 h. Update A (6400) is scheduled; 8 h
    later the attacker relays B: against the executed 6000 the most B can say is 6400 and A
    still blocks the parameter (ParamPending); B=6800 is out of range; once A executes, the
    cooldown counts from that execution, so 6800 waits 8 h more. slope2 never moves 800 bps
    within one cooldown."""
    a = system.propose("USDC", {SLOPE2: 6_400})
    advance_time(system.w3, 8 * HOUR)
    expect_revert(lambda: system.propose("USDC", {SLOPE2: 6_400}), "ParamPending", SLOPE2, a.ready_at)
    expect_revert(lambda: system.propose("USDC", {SLOPE2: 6_800}), "UpdateNotInRange", SLOPE2, 6_000, 6_800, 400)
    executed_at = block_time(system, system.execute(a))
    assert system.aave_params("USDC")[SLOPE2] == 6_400
    expect_revert(lambda: system.propose("USDC", {SLOPE2: 6_800}), "UpdateInCooldown", SLOPE2, executed_at + 8 * HOUR)
    assert system.aave_params("USDC")[SLOPE2] == 6_400


def test_an_lt_cut_and_a_bonus_only_update_in_the_same_hour_leave_lt_cut(system: System):
    """WETH LT 8300 -> 8275 (tightening: applied at once) and, in the same hour, LB 10500 ->
    10550 (slow). The bonus-only operation writes LB alone, reading LTV and LT at execution,
    so LT stays cut: (8050, 8275, 10550). In the other order too: the LB update scheduled
    first does not block the cut, and its execution keeps the cut."""
    cut = system.propose("WETH", {Param.LIQUIDATION_THRESHOLD: 8_275})
    assert cut.path is SubmitPath.APPLIED
    bonus = system.propose("WETH", {Param.LIQUIDATION_BONUS: 10_550})
    advance_time(system.w3, MIN_DELAY_SECONDS)
    system.execute(bonus)
    assert collateral(system, "WETH") == (8_050, 8_275, 10_550)

    bonus = system.propose("USDC", {Param.LIQUIDATION_BONUS: 10_500})  # USDC: 7700 / 8000 / 10450
    cut = system.propose("USDC", {Param.LIQUIDATION_THRESHOLD: 7_975})
    assert cut.path is SubmitPath.APPLIED
    advance_time(system.w3, MIN_DELAY_SECONDS)
    system.execute(bonus)
    assert collateral(system, "USDC") == (7_700, 7_975, 10_500)


def test_a_90_day_old_operation_cannot_execute_after_a_newer_one(system: System):
    """A (LTV 8050 -> 8075) is scheduled and left; once its execution window is over it no
    longer blocks LTV, so B (8050 -> 8060) is scheduled and executed. 90 days later A is
    executed by the attacker: OperationExpired(readyAt + window), LTV stays 8060."""
    a = system.propose("WETH", {Param.LTV: 8_075})
    advance_time(system.w3, MIN_DELAY_SECONDS + WINDOW + 1)
    b = system.propose("WETH", {Param.LTV: 8_060})
    advance_time(system.w3, MIN_DELAY_SECONDS)
    system.execute(b)
    advance_time(system.w3, 90 * 86_400)
    assert system.relay.operation_state(a.operation_id) is OperationState.READY  # the timelock never expires it
    expect_revert(lambda: system.execute(a), "OperationExpired", a.ready_at + WINDOW)
    assert system.aave_params("WETH")[Param.LTV] == 8_060


def test_an_as_of_in_the_future_is_refused_now_and_unrelayable_later(system: System):
    """The enclave signs an update whose anchor time is 30 days ahead. Relayed now: the anchor
    is in the future. Relayed 30 days later: on a live chain 30 days are far more than 256
    blocks (mined here as 257), so the anchor block's hash is gone."""
    future = latest_timestamp(system.w3) + 30 * 86_400
    update = system.update("WETH", {Param.LTV: 8_075}, anchor_timestamp=future, deadline=future + HOUR)
    signature = system.sign(update)
    expect_revert(lambda: system.submit(update, signature), "AnchorInFuture", future)
    advance_time(system.w3, 30 * 86_400)
    mine_blocks(system.w3, 257)
    expect_revert(lambda: system.submit(update, signature), "AnchorBlockUnavailable", update.anchor_block)
    assert system.aave_params("WETH")[Param.LTV] == 8_050


def test_nonce_squatting_does_not_block_the_agent(system: System):
    """The operator gets a signature for a nonce ahead of the counter: refused (nonces are the
    steward's counter, never the caller's choice), the counter does not move, and the agent's
    own update at the counter goes through."""
    counter = system.relay.nonce(system.enclave.address)
    squat = system.update("WETH", {Param.LTV: 8_075}, nonce=counter + 5)
    expect_revert(lambda: system.submit(squat), "NonceMismatch", system.enclave.address, counter, counter + 5)
    assert system.relay.nonce(system.enclave.address) == counter
    result = system.propose("WETH", {Param.LTV: 8_025})
    assert result.path is SubmitPath.APPLIED
    assert system.relay.nonce(system.enclave.address) == counter + 1
    # The squatted signature is dead for good: its nonce can only be reached by accepted updates
    # of the enclave, and then it must be the same update (it expires within 6 h anyway).
    expect_revert(lambda: system.submit(squat), "NonceMismatch", system.enclave.address, counter + 1, counter + 5)


def test_a_veto_frees_the_params_for_the_next_update(system: System):
    """LTV 8050 -> 8075 is scheduled, then vetoed through the steward: LTV is free at once
    (a veto is not an execution, so no cooldown), the tightening update that follows applies
    at once and a new slow update of the same parameter is accepted."""
    update = system.update("WETH", {Param.LTV: 8_075})
    signature = system.sign(update)
    raise_ltv = system.submit(update, signature)
    system.guardian_client.veto(raise_ltv.operation)
    assert system.relay.operation_state(raise_ltv.operation_id) is OperationState.UNSET
    state = system.relay.state(system.asset("WETH"), system.enclave.address)
    assert state.bounds.state_of(Param.LTV).pending_ready_at == 0
    cut = system.propose("WETH", {Param.LTV: 8_025})
    assert cut.path is SubmitPath.APPLIED
    assert system.aave_params("WETH")[Param.LTV] == 8_025
    bonus = system.propose("WETH", {Param.LIQUIDATION_BONUS: 10_550})
    system.guardian_client.veto(bonus.operation)
    again = system.propose("WETH", {Param.LIQUIDATION_BONUS: 10_450})  # freed: scheduled at once
    assert again.path is SubmitPath.SCHEDULED
    # The vetoed update stays vetoed: relayed again, its nonce is spent (3 updates since).
    expect_revert(lambda: system.send(system.relayer, system.steward.functions.submit(update.as_tuple(), signature)),
                  "NonceMismatch", system.enclave.address, update.nonce + 4, update.nonce)


def test_a_direct_timelock_cancel_keeps_the_params_blocked_until_the_window_ends(system: System):
    """Cancelling in the timelock directly (the guardian is a canceller) stops the operation,
    but the steward does not learn of it: LTV stays pending until readyAt + window (liveness
    only, never a bound), which is why the guardian vetoes through the steward."""
    raise_ltv = system.propose("WETH", {Param.LTV: 8_075})
    system.guardian_client.cancel_in_timelock(raise_ltv.operation_id)
    expect_revert(lambda: system.propose("WETH", {Param.LTV: 8_060}), "ParamPending", Param.LTV, raise_ltv.ready_at)
    advance_time(system.w3, raise_ltv.ready_at + WINDOW - latest_timestamp(system.w3) + 1)
    assert system.propose("WETH", {Param.LTV: 8_060}).path is SubmitPath.SCHEDULED


def test_the_deployer_can_neither_schedule_nor_cancel(system: System):
    """The deployer scheduled a collateral change directly and cancelled an enclave-signed
    update before; now it holds no timelock role: both are refused by OpenZeppelin's
    AccessControl, and the signed update executes."""
    timelock = system.timelock.functions
    proposer, canceller = timelock.PROPOSER_ROLE().call(), timelock.CANCELLER_ROLE().call()
    payload = system.configurator.encode_abi(
        "configureReserveAsCollateral", [system.asset("WETH"), 9_000, 9_100, 10_500]
    )
    expect_revert(
        lambda: system.send(system.deployer, timelock.schedule(
            system.configurator.address, 0, payload, b"\x00" * 32, b"\x01" * 32, MIN_DELAY_SECONDS)),
        "AccessControlUnauthorizedAccount", system.deployer.address, proposer,
    )
    signed = system.propose("WETH", {Param.LTV: 8_075})
    expect_revert(lambda: system.send(system.deployer, timelock.cancel(signed.operation_id)),
                  "AccessControlUnauthorizedAccount", system.deployer.address, canceller)
    advance_time(system.w3, MIN_DELAY_SECONDS)
    system.execute(signed)
    assert system.aave_params("WETH")[Param.LTV] == 8_075
