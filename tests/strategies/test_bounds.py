"""Property: whatever the targets, `project` returns only changes the steward accepts."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.bounds import DEFAULT_BOUNDS, Bounds, Param, ParamState, check_update, project, split_fast_and_slow


@st.composite
def valid_params(draw):
    threshold = draw(st.integers(1_000, 9_500))
    ltv = draw(st.integers(1, threshold))
    bonus = draw(st.integers(10_001, min(15_000, 10_000 * 10_000 // threshold)))
    optimal = draw(st.integers(100, 9_900))
    slope1 = draw(st.integers(0, 30_000))
    slope2 = draw(st.integers(slope1, 60_000))
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
    now = 10**9
    last = {p: now - data.draw(st.integers(1, 4 * 86_400)) for p in data.draw(st.lists(st.sampled_from(list(Param)), unique=True))}
    bounds = Bounds(dict(DEFAULT_BOUNDS), {p: ParamState(last_executed_at=t) for p, t in last.items()})
    projection = project(current, targets, bounds, now)
    changes = projection.changes
    assert set(changes) | set(projection.dropped) | {p for p in params if targets[p] == current[p]} == set(params)
    if changes:
        fast, slow = split_fast_and_slow(current, changes)
        after = check_update(current, fast, bounds, now) if fast else dict(current)
        after = check_update(after, slow, bounds, now) if slow else after
        for param, value in changes.items():
            assert value != current[param]
            # Each change moves toward its target, never past it.
            assert min(current[param], targets[param]) <= value <= max(current[param], targets[param])
        assert after[Param.LTV] <= after[Param.LIQUIDATION_THRESHOLD]
