"""Property: over random updates, the steward accepts exactly what `strategies.bounds`
allows, and refuses with the same error name. Runs on the in-process EVM (fast snapshots)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.errors import ContractRevert
from chain.node import advance_time, latest_timestamp, revert_to, snapshot
from strategies.bounds import Bounds, BoundViolation, Param, ParamState, check_update
from tests.chain.conftest import System

SYMBOLS = ("WETH", "USDC", "CRV", "wstETH")


def current_params(system: System, symbol: str) -> dict[Param, int]:
    values = system.steward.functions.currentValues(system.deployment.asset(symbol).token).call()
    return {Param(i): int(v) for i, v in enumerate(values)}


@st.composite
def updates(draw):
    symbol = draw(st.sampled_from(SYMBOLS))
    params = draw(st.lists(st.sampled_from(list(Param)), min_size=1, max_size=4, unique=True))
    # Each value is a relative or absolute move around the current value, often within the
    # bound, sometimes over it, sometimes zero; resolved against the chain inside the test.
    moves = [
        draw(
            st.one_of(
                st.integers(min_value=-60, max_value=60),
                st.integers(min_value=-4_000, max_value=4_000),
                st.just("zero"),
                st.just("same"),
            )
        )
        for _ in params
    ]
    prior_step_hours = draw(st.sampled_from([None, 1, 9, 30]))
    return symbol, params, moves, prior_step_hours


def resolve(current: int, param: Param, move) -> int:
    if move == "zero":
        return 0
    if move == "same":
        return current
    if param in (Param.SUPPLY_CAP, Param.BORROW_CAP):
        return max(0, current + current * move // 10_000)
    return max(0, current + move)


@pytest.mark.parametrize("deployed", ["in_process"], indirect=True)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=updates())
def test_steward_accepts_exactly_what_the_bounds_allow(deployed: System, case):
    system = deployed
    symbol, params, moves, prior_step_hours = case
    snapshot_id = snapshot(system.w3)
    try:
        steward = system.steward
        asset = system.deployment.asset(symbol).token
        if prior_step_hours is not None:
            # A first accepted change of slope2 starts that parameter's cooldown (8 h).
            prior = system.update(symbol, {Param.VARIABLE_RATE_SLOPE2: current_params(system, symbol)[Param.VARIABLE_RATE_SLOPE2] + 1}, nonce=99)
            system.relay.submit(prior, system.sign(prior))
            advance_time(system.w3, prior_step_hours * 3_600)
        current = current_params(system, symbol)
        changes = {param: resolve(current[param], param, move) for param, move in zip(params, moves, strict=True)}
        last = {p: int(steward.functions.lastUpdatedAt(asset, p).call()) for p in Param}
        now = latest_timestamp(system.w3) + 1  # the submit lands in the next block
        try:
            check_update(current, changes, Bounds(state={p: ParamState(last_executed_at=t) for p, t in last.items() if t}), now)
            expected = None
        except BoundViolation as violation:
            expected = violation.name

        update = system.update(symbol, changes, nonce=1)
        try:
            system.relay.submit(update, system.sign(update))
            outcome = None
        except ContractRevert as revert:
            outcome = revert.name
        assert outcome == expected, (changes, current)
    finally:
        revert_to(system.w3, snapshot_id)
