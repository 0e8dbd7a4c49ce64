"""The backtest engine's steward (backtests.steward_model.SimulatedSteward) at the exact
seconds the contract and its Python mirror are pinned at in tests/chain/test_steward_boundaries.py
(and, all three side by side on chain, tests/chain/test_steward_three_way.py): the cooldown's
last refused and first accepted second, a pending operation's window, the execution window,
the cooldown checked again at execution. Delay 60 s, execution window 1 day, WETH's
October-2023 values (LTV 8,050, LB 10,500; LTV moves 25 bps, LB 50 bps, 1-day cooldowns)."""

from __future__ import annotations

import copy

import pytest

from backtests.steward_model import SimulatedSteward
from strategies.bounds import ParamState
from strategies.params import AAVE_V3_OCT_2023, Param

DAY = 86_400
DELAY_S = 60
T = 1_700_000_000


def steward(window_s: int = DAY) -> SimulatedSteward:
    return SimulatedSteward({"WETH": AAVE_V3_OCT_2023["WETH"]}, DELAY_S, execution_window_s=window_s)


def accepted_at(model: SimulatedSteward, changes: dict[Param, int], now: int) -> bool:
    """Whether the steward takes `changes` at `now` (on a copy: the model is not touched)."""
    trial = copy.deepcopy(model)
    trial.submit("WETH", changes, now)
    assert trial.refused_at_submit + trial.submitted == model.refused_at_submit + model.submitted + 1
    return trial.submitted > model.submitted


def value(model: SimulatedSteward, param: Param) -> int:
    return model.params["WETH"].by_param()[param]


def test_cooldown_last_second_refused_first_second_accepted():
    """An LTV cut at T is tightening-only: applied at once, cooldown from T. The next LTV change
    is refused at T + 1 day - 1 and accepted at exactly T + 1 day."""
    model = steward()
    assert model.submit("WETH", {Param.LTV: 8_025}, T) == [{Param.LTV: 8_025}]
    assert model.state["WETH"][Param.LTV] == ParamState(last_executed_at=T, pending_ready_at=0)
    assert not accepted_at(model, {Param.LTV: 8_000}, T + DAY - 1)
    assert accepted_at(model, {Param.LTV: 8_000}, T + DAY)
    assert model.submit("WETH", {Param.LTV: 8_000}, T + DAY) == [{Param.LTV: 8_000}]
    assert value(model, Param.LTV) == 8_000


def test_a_pending_operation_blocks_through_its_window_end_inclusive():
    """An LTV raise submitted at S waits the delay: ready at R = S + 60, pending until
    R + 1 day inclusive; another slow LTV change is refused at R + 1 day and accepted one
    second later (the first was never executed)."""
    model = steward()
    assert model.submit("WETH", {Param.LTV: 8_075}, T) == []
    ready = T + DELAY_S
    assert [(o.changes, o.ready_at_s) for o in model.pending] == [({Param.LTV: 8_075}, ready)]
    assert model.state["WETH"][Param.LTV] == ParamState(last_executed_at=0, pending_ready_at=ready)
    assert not accepted_at(model, {Param.LTV: 8_060}, ready + DAY)
    assert accepted_at(model, {Param.LTV: 8_060}, ready + DAY + 1)


def test_a_tightening_is_not_blocked_by_a_pending_raise():
    model = steward()
    model.submit("WETH", {Param.LTV: 8_075}, T)
    assert model.submit("WETH", {Param.LTV: 8_040}, T + 1) == [{Param.LTV: 8_040}]


@pytest.mark.parametrize("offset, executed", [(-1, False), (0, True), (DAY, True), (DAY + 1, False)])
def test_execution_from_ready_through_the_window_end(offset, executed):
    """An LB raise is ready at R = S + 60: a keeper at R - 1 finds nothing ready, at R and at
    R + 1 day it executes; at R + 1 day + 1 the operation has expired: dropped, counted as
    refused at execution, LB unchanged."""
    model = steward()
    model.submit("WETH", {Param.LIQUIDATION_BONUS: 10_550}, T)
    ready = T + DELAY_S
    done = model.execute_ready(ready + offset)
    assert done == ([("WETH", {Param.LIQUIDATION_BONUS: 10_550})] if executed else [])
    assert value(model, Param.LIQUIDATION_BONUS) == (10_550 if executed else 10_500)
    assert len(model.pending) == (1 if offset < 0 else 0)
    assert model.refused_at_execution == (1 if offset > DAY else 0)
    if executed:
        assert model.state["WETH"][Param.LIQUIDATION_BONUS] == ParamState(ready + offset, 0)


def test_a_fast_cut_supersedes_the_raise_pending_on_the_same_parameter():
    """With a 2-day window: an LTV raise to 8,060 is scheduled at S (ready S + 60); an LTV cut to
    8,040 applies at once at C = S + 120 and clears the pending state, as the steward does. The
    raise never executes (not at its ready time, not after the cut's cooldown): it leaves the
    queue at the first try, counted as refused; LTV stays 8,040."""
    model = steward(window_s=2 * DAY)
    model.submit("WETH", {Param.LTV: 8_060}, T)
    cut_at = T + 120
    assert model.submit("WETH", {Param.LTV: 8_040}, cut_at) == [{Param.LTV: 8_040}]
    assert model.state["WETH"][Param.LTV] == ParamState(cut_at, 0)
    assert model.execute_ready(T + 60 + DELAY_S) == []
    assert model.pending == [] and model.refused_at_execution == 1
    assert model.execute_ready(cut_at + DAY) == []
    assert value(model, Param.LTV) == 8_040


def test_a_mixed_decision_applies_its_tightening_and_schedules_the_rest():
    """LT 8,300 -> 8,275 (tightening) and LB 10,500 -> 10,550 in one decision: the LT part is
    applied at once and returned, the LB part waits; two submissions, two nonces."""
    model = steward()
    applied = model.submit("WETH", {Param.LIQUIDATION_THRESHOLD: 8_275, Param.LIQUIDATION_BONUS: 10_550}, T)
    assert applied == [{Param.LIQUIDATION_THRESHOLD: 8_275}]
    assert [(o.changes, o.ready_at_s) for o in model.pending] == [({Param.LIQUIDATION_BONUS: 10_550}, T + DELAY_S)]
    assert (model.submitted, model.nonce, model.refused_at_submit) == (2, 2, 0)


def test_a_step_beyond_the_bound_is_refused_at_submit():
    model = steward()
    assert model.submit("WETH", {Param.LTV: 8_024}, T) == []
    assert (model.submitted, model.refused_at_submit, model.pending) == (0, 1, [])
    assert value(model, Param.LTV) == 8_050


def test_a_scheduled_change_keeps_the_parameters_last_execution():
    """LTV cut at T (fast), LTV raise submitted at T + 1 day (slow): the state holds both the
    execution time and the pending ready time."""
    model = steward()
    model.submit("WETH", {Param.LTV: 8_025}, T)
    model.submit("WETH", {Param.LTV: 8_050}, T + DAY)
    assert model.state["WETH"][Param.LTV] == ParamState(last_executed_at=T, pending_ready_at=T + DAY + DELAY_S)


def test_refusals_are_counted_each_and_do_not_stop_the_rest():
    """LTV in cooldown: the LTV cut (fast part) is refused, the LB raise (slow part) of the same
    decision is still submitted; a second refused cut counts again."""
    model = steward()
    model.submit("WETH", {Param.LTV: 8_025}, T)
    model.submit("WETH", {Param.LTV: 8_000, Param.LIQUIDATION_BONUS: 10_550}, T + 60)
    assert (model.refused_at_submit, model.submitted) == (1, 2)
    assert [o.changes for o in model.pending] == [{Param.LIQUIDATION_BONUS: 10_550}]
    model.submit("WETH", {Param.LTV: 8_000}, T + 120)
    assert model.refused_at_submit == 2


def test_a_refused_execution_does_not_stop_the_next_operation():
    """Two operations ready together: an LTV raise refused at execution (LTV was cut at once
    meanwhile: superseded, it leaves the queue); the LB raise after it still executes. Both
    expire past the window, each counted."""
    model = steward()
    model.submit("WETH", {Param.LTV: 8_060}, T)
    model.submit("WETH", {Param.LIQUIDATION_BONUS: 10_550}, T)
    model.submit("WETH", {Param.LTV: 8_040}, T + 30)
    assert model.execute_ready(T + DELAY_S) == [("WETH", {Param.LIQUIDATION_BONUS: 10_550})]
    assert model.pending == [] and model.refused_at_execution == 1
    expired = steward()
    expired.submit("WETH", {Param.LTV: 8_075}, T)
    expired.submit("WETH", {Param.LIQUIDATION_BONUS: 10_550}, T)
    assert expired.execute_ready(T + DELAY_S + DAY + 1) == [] and expired.refused_at_execution == 2


def test_the_execution_window_is_the_models_own():
    """A 2-day window: an LB raise ready at T + 60 still executes at T + 60 + 1 day + 1 s (past
    the 1-day default) and expires from T + 60 + 2 days + 1 s."""
    model = steward(window_s=2 * DAY)
    model.submit("WETH", {Param.LIQUIDATION_BONUS: 10_550}, T)
    assert model.execute_ready(T + DELAY_S + DAY + 1) == [("WETH", {Param.LIQUIDATION_BONUS: 10_550})]
    late = steward(window_s=2 * DAY)
    late.submit("WETH", {Param.LIQUIDATION_BONUS: 10_550}, T)
    assert late.execute_ready(T + DELAY_S + 2 * DAY + 1) == [] and late.refused_at_execution == 1
