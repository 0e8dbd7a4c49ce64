"""Exact-second (and exact-block) boundaries, on both backends, on the contract and on its
Python mirror (strategies.bounds.check_submit / check_apply, chain.update.check_timing /
check_anchor), which must agree: the last refused second and the first accepted one.

The contract's verdict at a second is an eth_call at a block mined at exactly that second
(`mine_at`); the mirror gets the same second and the state read from the chain.
"""

from __future__ import annotations

import pytest

from chain.errors import ContractRevert
from chain.transact import call
from chain.update import EnvelopeViolation, check_anchor, check_timing
from strategies.bounds import BoundViolation, check_apply, check_submit
from strategies.params import Param
from tests.chain.conftest import System, call_submit, earliest_second, mine_at, mine_blocks

DAY = 86_400


def contract_verdict(action) -> tuple | None:
    """None when the call succeeds, else (error name, args)."""
    try:
        action()
    except ContractRevert as revert:
        return (revert.name, tuple(revert.args_decoded))
    return None


def mirror_verdict(action) -> tuple | None:
    try:
        action()
    except (BoundViolation, EnvelopeViolation) as violation:
        return (violation.name, tuple(violation.error_args))
    return None


def submit_verdicts(system: System, update, now: int) -> tuple[tuple | None, tuple | None]:
    """(contract, mirror) verdicts on `update` at second `now` (mined first)."""
    mine_at(system.w3, now)
    state = system.relay.state(update.asset, system.enclave.address)
    current = system.relay.current_values(update.asset)
    changes = dict(zip((Param(p) for p in update.params), update.values, strict=True))
    contract = contract_verdict(lambda: call_submit(system, update))
    mirror = mirror_verdict(lambda: (check_timing(update, now), check_submit(current, changes, state.bounds, now)))
    return contract, mirror


def block_time(system: System, receipt) -> int:
    return int(system.w3.eth.get_block(receipt["blockNumber"])["timestamp"])


def test_cooldown_last_second_refused_first_second_accepted(system: System):
    """LTV cut at T (fast path) -> the next LTV change is refused at T + 1 day - 1 and accepted
    at exactly T + 1 day (UpdateInCooldown(0, T + 86400))."""
    first = system.propose("WETH", {Param.LTV: 8_025})
    executed_at = block_time(system, system.w3.eth.get_transaction_receipt(first.transaction_hash))
    ready_at = executed_at + DAY
    mine_at(system.w3, ready_at - 30)
    update = system.update("WETH", {Param.LTV: 8_000})
    assert submit_verdicts(system, update, ready_at - 1) == (("UpdateInCooldown", (Param.LTV, ready_at)),) * 2
    assert submit_verdicts(system, update, ready_at) == (None, None)
    system.submit(update)
    assert system.aave_params("WETH")[Param.LTV] == 8_000


def test_deadline_is_the_last_accepted_second(system: System):
    update = system.update("WETH", {Param.LTV: 8_025})
    deadline = update.anchor_timestamp + 100
    update = system.update("WETH", {Param.LTV: 8_025}, deadline=deadline)
    assert submit_verdicts(system, update, deadline) == (None, None)
    assert submit_verdicts(system, update, deadline + 1) == (("UpdateExpired", (deadline, deadline + 1)),) * 2


def test_deadline_at_most_six_hours_after_the_anchor(system: System):
    update = system.update("WETH", {Param.LTV: 8_025})
    anchor_time = update.anchor_timestamp
    at_limit = system.update("WETH", {Param.LTV: 8_025}, deadline=anchor_time + 6 * 3_600)
    past_limit = system.update("WETH", {Param.LTV: 8_025}, deadline=anchor_time + 6 * 3_600 + 1)
    now = earliest_second(system) + 5
    refused = ("DeadlineTooFar", (anchor_time + 21_601, anchor_time + 21_600))
    assert submit_verdicts(system, past_limit, now) == (refused, refused)
    assert submit_verdicts(system, at_limit, now) == (None, None)


def test_anchor_at_256_blocks_accepted_at_257_refused(system: System):
    mine_blocks(system.w3, 300)
    latest = system.w3.eth.block_number
    for age, expected in ((256, None), (257, ("AnchorBlockUnavailable", (latest - 257,)))):
        block = system.w3.eth.get_block(latest - age)
        update = system.update("WETH", {Param.LTV: 8_025}, anchor_block=block["number"],
                               anchor_block_hash=bytes(block["hash"]), anchor_timestamp=block["timestamp"],
                               deadline=block["timestamp"] + 6 * 3_600)
        contract = contract_verdict(lambda update=update: call_submit(system, update))
        mirror = mirror_verdict(lambda update=update: check_anchor(update, latest))
        assert contract == mirror == expected, age


def test_pending_operation_blocks_until_its_window_ends(system: System):
    """An LTV raise scheduled at S is ready at R = S + 60 and blocks the next slow LTV update
    through R + 1 day inclusive (ParamPending(0, R)); one second later it no longer does."""
    first = system.propose("WETH", {Param.LTV: 8_075})
    ready_at = first.ready_at
    mine_at(system.w3, ready_at + DAY - 30)
    update = system.update("WETH", {Param.LTV: 8_060})
    assert submit_verdicts(system, update, ready_at + DAY) == (("ParamPending", (Param.LTV, ready_at)),) * 2
    assert submit_verdicts(system, update, ready_at + DAY + 1) == (None, None)


def apply_verdicts(system: System, result, now: int) -> tuple[tuple | None, tuple | None]:
    """(contract, mirror) verdicts on executing a scheduled update at second `now`."""
    mine_at(system.w3, now)
    state = system.relay.state(result.operation.asset, system.enclave.address)
    current = system.relay.current_values(result.operation.asset)
    changes = dict(zip((Param(p) for p in result.operation.params), result.operation.values, strict=True))
    timelock = system.timelock.functions
    execute = timelock.execute(*result.operation.execute_args())
    contract = contract_verdict(lambda: call(execute, sender=system.relayer.address))
    mirror = mirror_verdict(lambda: check_apply(current, changes, state.bounds, now, result.ready_at))
    return contract, mirror


def test_execution_window_last_second_accepted_then_expired(system: System):
    """Scheduled at S, ready at R: executable through R + 1 day, OperationExpired(R + 1 day)
    from the next second."""
    result = system.propose("WETH", {Param.LIQUIDATION_BONUS: 10_550})
    end = result.ready_at + DAY
    assert apply_verdicts(system, result, end - 1) == (None, None)
    assert apply_verdicts(system, result, end + 1) == (("OperationExpired", (end,)),) * 2
    assert apply_verdicts(system, result, end + 2) == (("OperationExpired", (end,)),) * 2


def test_execution_at_the_window_end_applies(system: System):
    result = system.propose("WETH", {Param.LIQUIDATION_BONUS: 10_550})
    end = result.ready_at + DAY
    assert apply_verdicts(system, result, end) == (None, None)


@pytest.mark.parametrize("window_days", [2])
def test_a_fast_cut_supersedes_the_raise_pending_on_the_same_parameter(system: System, window_days):
    """LTV 8050 -> 8060 is scheduled (slow); LTV 8050 -> 8040 is then applied at once at C (fast
    path, not blocked by the pending raise). The raise was decided on calmer data than the cut:
    it can never execute. OperationSuperseded(0) from its ready time, after the cut's cooldown
    (C + 1 day) and at the last second of its 2-day window alike; LTV stays 8040 and the
    parameter is free (pendingReadyAt 0) for a new slow update."""
    system.governance_do(system.steward_call("setExecutionWindow", window_days * DAY), salt=b"\x0c" * 32)
    raise_ltv = system.propose("WETH", {Param.LTV: 8_060})
    cut = system.propose("WETH", {Param.LTV: 8_040})
    cut_at = block_time(system, system.w3.eth.get_transaction_receipt(cut.transaction_hash))
    assert cut_at + DAY < raise_ltv.ready_at + window_days * DAY
    superseded = (("OperationSuperseded", (Param.LTV,)),) * 2
    assert apply_verdicts(system, raise_ltv, raise_ltv.ready_at) == superseded
    assert apply_verdicts(system, raise_ltv, cut_at + DAY) == superseded
    assert apply_verdicts(system, raise_ltv, raise_ltv.ready_at + window_days * DAY) == superseded
    assert system.aave_params("WETH")[Param.LTV] == 8_040
    state = system.relay.state(raise_ltv.operation.asset, system.enclave.address)
    assert state.bounds.state_of(Param.LTV).pending_ready_at == 0


def test_a_fast_cut_on_another_parameter_leaves_the_pending_update(system: System):
    """A pending LB raise (10500 -> 10550) and a fast LTV cut (8050 -> 8040): different
    parameters, so the raise executes when ready and both values hold."""
    raise_bonus = system.propose("WETH", {Param.LIQUIDATION_BONUS: 10_550})
    system.propose("WETH", {Param.LTV: 8_040})
    assert apply_verdicts(system, raise_bonus, raise_bonus.ready_at) == (None, None)
    system.execute(raise_bonus)
    params = system.aave_params("WETH")
    assert (params[Param.LTV], params[Param.LIQUIDATION_BONUS]) == (8_040, 10_550)
