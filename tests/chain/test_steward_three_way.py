"""The contract, its Python mirror (strategies.bounds) and the backtest engine's steward
(backtests.steward_model) side by side, on both backends: the engine's steward replays the
chain's events at the chain's own seconds, and at each boundary second all three give the same
verdict (the engine's by what it does, and by the mirror's check on the engine's own state),
and the engine's parameter states equal the contract's."""

from __future__ import annotations

import copy

import pytest

from backtests.steward_model import SimulatedSteward
from strategies.bounds import DEFAULT_BOUNDS, BoundViolation, check_apply, check_submit
from chain.node import revert_to, snapshot
from strategies.params import Param, RiskParams
from tests.chain.conftest import MIN_DELAY_SECONDS, System, mine_at
from tests.chain.test_steward_boundaries import DAY, apply_verdicts, block_time, submit_verdicts



def engine_for(system: System) -> SimulatedSteward:
    """The engine's steward with the chain's WETH values, bounds, delay and window."""
    state = system.relay.state(system.asset("WETH"), system.enclave.address)
    assert state.bounds.limits == DEFAULT_BOUNDS  # the engine always runs the default bounds
    values = system.relay.current_values(system.asset("WETH"))
    return SimulatedSteward({"WETH": RiskParams.from_params(values)}, MIN_DELAY_SECONDS,
                            execution_window_s=state.bounds.execution_window_s)


def engine_submit_verdict(engine: SimulatedSteward, changes: dict[Param, int], now: int) -> tuple | None:
    """None when the engine's steward takes `changes` at `now` (tried on a copy), else the
    contract error its own state gives."""
    trial = copy.deepcopy(engine)
    trial.submit("WETH", changes, now)
    if trial.submitted > engine.submitted:
        return None
    try:
        check_submit(engine.params["WETH"].by_param(), changes, engine.bounds("WETH"), now)
    except BoundViolation as violation:
        return (violation.name, tuple(violation.error_args))
    pytest.fail(f"the engine refused {changes} at {now} although its own state allows it")


def engine_apply_verdict(engine: SimulatedSteward, now: int) -> tuple | None:
    """None when the keeper's pass at `now` executes the one pending operation, else why not."""
    (operation,) = engine.pending
    trial = copy.deepcopy(engine)
    if trial.execute_ready(now):
        return None
    try:
        check_apply(engine.params["WETH"].by_param(), operation.changes, engine.bounds("WETH"), now, operation.ready_at_s)
    except BoundViolation as violation:
        return (violation.name, tuple(violation.error_args))
    pytest.fail(f"the engine did not execute at {now} although its own state allows it")


def assert_same_states(system: System, engine: SimulatedSteward, *params: Param) -> None:
    chain = system.relay.state(system.asset("WETH"), system.enclave.address).bounds
    for param in params:
        assert engine.bounds("WETH").state_of(param) == chain.state_of(param), param


def test_cooldown_edges_agree_three_ways(system: System):
    """LTV cut at T (fast path, both): refused at T + 1 day - 1 by all three with
    UpdateInCooldown(LTV, T + 1 day), accepted by all three at T + 1 day."""
    engine = engine_for(system)
    first = system.propose("WETH", {Param.LTV: 8_025})
    executed_at = block_time(system, system.w3.eth.get_transaction_receipt(first.transaction_hash))
    assert engine.submit("WETH", {Param.LTV: 8_025}, executed_at) == [{Param.LTV: 8_025}]
    assert_same_states(system, engine, Param.LTV)
    ready_at = executed_at + DAY
    mine_at(system.w3, ready_at - 30)  # a fresh anchor: the update's deadline is an hour after it
    update = system.update("WETH", {Param.LTV: 8_000})
    refused = ("UpdateInCooldown", (Param.LTV, ready_at))
    assert (*submit_verdicts(system, update, ready_at - 1), engine_submit_verdict(engine, {Param.LTV: 8_000}, ready_at - 1)) \
        == (refused,) * 3
    assert (*submit_verdicts(system, update, ready_at), engine_submit_verdict(engine, {Param.LTV: 8_000}, ready_at)) \
        == (None,) * 3


def test_pending_window_edges_agree_three_ways(system: System):
    """An LTV raise scheduled at S, ready at R = S + 60: the next slow LTV change is refused
    at R + 1 day by all three (ParamPending(LTV, R)) and accepted one second later."""
    engine = engine_for(system)
    first = system.propose("WETH", {Param.LTV: 8_075})
    submitted_at = block_time(system, system.w3.eth.get_transaction_receipt(first.transaction_hash))
    engine.submit("WETH", {Param.LTV: 8_075}, submitted_at)
    assert engine.pending[0].ready_at_s == first.ready_at == submitted_at + MIN_DELAY_SECONDS
    assert_same_states(system, engine, Param.LTV)
    end = first.ready_at + DAY
    mine_at(system.w3, end - 30)
    update = system.update("WETH", {Param.LTV: 8_060})
    refused = ("ParamPending", (Param.LTV, first.ready_at))
    assert (*submit_verdicts(system, update, end), engine_submit_verdict(engine, {Param.LTV: 8_060}, end)) == (refused,) * 3
    assert (*submit_verdicts(system, update, end + 1), engine_submit_verdict(engine, {Param.LTV: 8_060}, end + 1)) \
        == (None,) * 3


def test_execution_window_edges_agree_three_ways(system: System):
    """An LB raise ready at R executes at R + 1 day on all three; at R + 1 day + 1 all three
    refuse it with OperationExpired(R + 1 day); after executing, the states agree."""
    engine = engine_for(system)
    result = system.propose("WETH", {Param.LIQUIDATION_BONUS: 10_550})
    submitted_at = block_time(system, system.w3.eth.get_transaction_receipt(result.transaction_hash))
    engine.submit("WETH", {Param.LIQUIDATION_BONUS: 10_550}, submitted_at)
    end = result.ready_at + DAY
    assert (*apply_verdicts(system, result, end + 1), engine_apply_verdict(engine, end + 1)) \
        == (("OperationExpired", (end,)),) * 3
    assert engine_apply_verdict(engine, end) is None


def test_the_window_end_is_accepted_three_ways_and_an_execution_leaves_the_same_state(system: System):
    """At exactly R + 1 day all three would execute; executed earlier (R + 100 s) on chain and in
    the engine at the same second, LB is 10,550 on both and the parameter states are equal."""
    engine = engine_for(system)
    result = system.propose("WETH", {Param.LIQUIDATION_BONUS: 10_550})
    submitted_at = block_time(system, system.w3.eth.get_transaction_receipt(result.transaction_hash))
    engine.submit("WETH", {Param.LIQUIDATION_BONUS: 10_550}, submitted_at)
    end = result.ready_at + DAY
    snapshot_id = snapshot(system.w3)
    assert (*apply_verdicts(system, result, end), engine_apply_verdict(engine, end)) == (None,) * 3
    revert_to(system.w3, snapshot_id)
    mine_at(system.w3, result.ready_at + 100)
    receipt = system.execute(result)
    executed_at = block_time(system, receipt)
    assert engine.execute_ready(executed_at) == [("WETH", {Param.LIQUIDATION_BONUS: 10_550})]
    assert system.aave_params("WETH")[Param.LIQUIDATION_BONUS] == engine.params["WETH"].liquidation_bonus_bps == 10_550
    assert_same_states(system, engine, Param.LIQUIDATION_BONUS)
