"""The steward's Python mirror: projection always passes the contract's checks, each limit at
its exact second, and `project` says what it dropped and why."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.bounds import (
    DEFAULT_BOUNDS,
    Bounds,
    BoundViolation,
    Param,
    ParamState,
    check_apply,
    check_submit,
    is_tightening_only,
    project,
    split_fast_and_slow,
)
from strategies.params import AAVE_V3_OCT_2023

WETH = AAVE_V3_OCT_2023["WETH"].by_param()
NOW = 1_000_000_000
DAY = 86_400


@st.composite
def valid_params(draw):
    threshold = draw(st.integers(1_000, 9_500))
    ltv = draw(st.integers(1, threshold))
    bonus = draw(st.integers(10_001, min(15_000, 10**8 // threshold)))
    optimal = draw(st.integers(100, 9_900))
    slope2 = draw(st.integers(0, 50_000))
    slope1 = draw(st.integers(0, slope2))
    return {
        Param.LTV: ltv, Param.LIQUIDATION_THRESHOLD: threshold, Param.LIQUIDATION_BONUS: bonus,
        Param.SUPPLY_CAP: draw(st.integers(1, 10**10)), Param.BORROW_CAP: draw(st.integers(1, 10**10)),
        Param.RESERVE_FACTOR: draw(st.integers(0, 9_900)), Param.OPTIMAL_USAGE_RATIO: optimal,
        Param.BASE_VARIABLE_BORROW_RATE: draw(st.integers(0, 100_000 - slope1 - slope2)),
        Param.VARIABLE_RATE_SLOPE1: slope1, Param.VARIABLE_RATE_SLOPE2: slope2,
    }


@settings(max_examples=400, deadline=None)
@given(current=valid_params(), data=st.data())
def test_projection_always_passes_the_contract_checks(current, data):
    params = data.draw(st.lists(st.sampled_from(list(Param)), min_size=1, max_size=10, unique=True))
    targets = {p: data.draw(st.integers(0, 2 * current[p] + 100)) for p in params}
    state = {p: ParamState(last_executed_at=NOW - data.draw(st.integers(1, 4 * DAY)),
                           pending_ready_at=data.draw(st.sampled_from([0, NOW - 2 * DAY, NOW + 60])))
             for p in data.draw(st.lists(st.sampled_from(list(Param)), unique=True))}
    bounds = Bounds(dict(DEFAULT_BOUNDS), state)
    projection = project(current, targets, bounds, NOW)
    wanted = {p for p in params if targets[p] != current[p]}
    assert set(projection.changes) | set(projection.dropped) == wanted
    assert not set(projection.changes) & set(projection.dropped)
    after = dict(current)
    for part in split_fast_and_slow(current, projection.changes):
        if part:
            after = check_submit(after, part, bounds, NOW)
    for param, value in projection.changes.items():
        # Each change moves toward its target, never past it.
        assert min(current[param], targets[param]) <= value <= max(current[param], targets[param])
    assert after[Param.LTV] <= after[Param.LIQUIDATION_THRESHOLD]


def in_cooldown_since(executed_at: int, *params: Param) -> Bounds:
    return Bounds(state={p: ParamState(last_executed_at=executed_at) for p in params})


def test_cooldown_last_second_refused_first_allowed_second_accepted():
    """LT executed at NOW with a 1-day cooldown: ready at NOW + 86,400 exactly."""
    bounds = in_cooldown_since(NOW, Param.LIQUIDATION_THRESHOLD)
    with pytest.raises(BoundViolation) as refused:
        check_submit(WETH, {Param.LIQUIDATION_THRESHOLD: 8_275}, bounds, NOW + DAY - 1)
    assert refused.value.name == "UpdateInCooldown"
    assert refused.value.error_args == (Param.LIQUIDATION_THRESHOLD, NOW + DAY)
    after = check_submit(WETH, {Param.LIQUIDATION_THRESHOLD: 8_275}, bounds, NOW + DAY)
    assert after[Param.LIQUIDATION_THRESHOLD] == 8_275


def test_pending_blocks_the_slow_path_until_its_window_ends_but_not_tightening():
    """LB pending, ready at R = NOW + 600, window 1 day: another LB change is refused up to
    R + 86,400 and accepted one second later; an LT cut (fast path) is never blocked by it,
    nor is an LT cut blocked by its own pending raise."""
    ready = NOW + 600
    bounds = Bounds(state={Param.LIQUIDATION_BONUS: ParamState(0, ready), Param.LIQUIDATION_THRESHOLD: ParamState(0, ready)})
    with pytest.raises(BoundViolation) as refused:
        check_submit(WETH, {Param.LIQUIDATION_BONUS: 10_450}, bounds, ready + DAY)
    assert refused.value.name == "ParamPending" and refused.value.error_args == (Param.LIQUIDATION_BONUS, ready)
    assert check_submit(WETH, {Param.LIQUIDATION_BONUS: 10_450}, bounds, ready + DAY + 1)[Param.LIQUIDATION_BONUS] == 10_450
    assert check_submit(WETH, {Param.LIQUIDATION_THRESHOLD: 8_275}, bounds, NOW)[Param.LIQUIDATION_THRESHOLD] == 8_275


def pending_at(ready_at: int, *params: Param, window_s: int = DAY) -> Bounds:
    """The state the steward holds while an operation ready at `ready_at` is pending on `params`."""
    return Bounds(state={p: ParamState(pending_ready_at=ready_at) for p in params}, execution_window_s=window_s)


def test_execution_window_to_the_second():
    ready = NOW
    bounds = pending_at(ready, Param.LIQUIDATION_BONUS)
    assert check_apply(WETH, {Param.LIQUIDATION_BONUS: 10_450}, bounds, ready + DAY, ready)[Param.LIQUIDATION_BONUS] == 10_450
    with pytest.raises(BoundViolation) as expired:
        check_apply(WETH, {Param.LIQUIDATION_BONUS: 10_450}, bounds, ready + DAY + 1, ready)
    assert expired.value.name == "OperationExpired" and expired.value.error_args == (ready + DAY,)


def test_apply_checks_again_against_the_values_in_force():
    """Queued at LB 10,500 -> 10,550; governance set LB to 10,450 meanwhile: +100 exceeds the
    50 bps step, refused at execution with the numbers of the values in force."""
    in_force = {**WETH, Param.LIQUIDATION_BONUS: 10_450}
    with pytest.raises(BoundViolation) as refused:
        check_apply(in_force, {Param.LIQUIDATION_BONUS: 10_550}, pending_at(NOW, Param.LIQUIDATION_BONUS), NOW, NOW)
    assert refused.value.name == "UpdateNotInRange"
    assert refused.value.error_args == (Param.LIQUIDATION_BONUS, 10_450, 10_550, 50)


@pytest.mark.parametrize("pending_ready_at", [0, NOW + 1])
def test_an_operation_no_longer_pending_on_a_parameter_is_superseded(pending_ready_at):
    """An LTV + LB operation ready at NOW: LB still pends on it, LTV does not (a fast-path cut
    cleared it: 0; or another operation pends there: NOW + 1). Refused as
    OperationSuperseded(0), the first parameter not pending on it, before any value check."""
    bounds = Bounds(state={Param.LTV: ParamState(pending_ready_at=pending_ready_at),
                           Param.LIQUIDATION_BONUS: ParamState(pending_ready_at=NOW)})
    with pytest.raises(BoundViolation) as refused:
        check_apply(WETH, {Param.LIQUIDATION_BONUS: 10_550, Param.LTV: 8_060}, bounds, NOW, NOW)
    assert (refused.value.name, refused.value.error_args) == ("OperationSuperseded", (Param.LTV,))


def test_a_cap_in_cooldown_never_costs_the_threshold_cut():
    bounds = in_cooldown_since(NOW - 60, Param.SUPPLY_CAP)
    projection = project(WETH, {Param.LIQUIDATION_THRESHOLD: 8_000, Param.SUPPLY_CAP: 2_000_000}, bounds, NOW)
    assert projection.changes == {Param.LIQUIDATION_THRESHOLD: 8_275}
    assert projection.dropped == {Param.SUPPLY_CAP: f"in cooldown until {NOW - 60 + 3 * DAY}"}


def test_project_names_each_reason():
    bounds = Bounds(state={Param.LIQUIDATION_BONUS: ParamState(0, NOW + 10)})
    projection = project(WETH, {Param.LIQUIDATION_BONUS: 10_600, Param.LTV: 8_048, Param.RESERVE_FACTOR: 1_400},
                         bounds, NOW, min_change={Param.LTV: 5})
    assert projection.changes == {Param.RESERVE_FACTOR: 1_400}
    assert projection.dropped == {Param.LIQUIDATION_BONUS: f"an operation is pending (ready at {NOW + 10})",
                                  Param.LTV: "step -2 below the dead band"}


def test_loosening_share_halves_the_step():
    """LT may rise 25 bps; with a 0.5 share, 12 bps (int(25 x 0.5))."""
    projection = project(WETH, {Param.LIQUIDATION_THRESHOLD: 9_000}, Bounds(), NOW,
                         max_step_share={Param.LIQUIDATION_THRESHOLD: 0.5})
    assert projection.changes == {Param.LIQUIDATION_THRESHOLD: 8_312}


def test_split_and_tightening():
    changes = {Param.LTV: 8_025, Param.LIQUIDATION_THRESHOLD: 8_275, Param.LIQUIDATION_BONUS: 10_550}
    fast, slow = split_fast_and_slow(WETH, changes)
    assert fast == {Param.LTV: 8_025, Param.LIQUIDATION_THRESHOLD: 8_275}
    assert slow == {Param.LIQUIDATION_BONUS: 10_550}
    assert is_tightening_only(WETH, {Param.SUPPLY_CAP: 1_000_000, Param.BORROW_CAP: 1_000_000})
    assert not is_tightening_only(WETH, {Param.SUPPLY_CAP: 2_000_000})
    assert not is_tightening_only(WETH, {Param.RESERVE_FACTOR: 1_000})  # not a risk-reducing parameter
    assert not is_tightening_only(WETH, {Param.LIQUIDATION_BONUS: 10_450})  # a lower bonus is not safer
    assert not is_tightening_only(WETH, {})
