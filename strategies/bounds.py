"""The steward's bounds, ported line for line from `RiskSteward` so every proposal can be
checked (and projected) off chain exactly as the contract will check it.

The rules (the contract states them as invariants):
- a change moves at most its bound from the value in force, stays in [floor, ceiling] and within
  Aave's own limits, and is never zero for the non-zero parameters; after it, in each group the
  update writes, LTV <= LT, LB > 100%, LT x LB <= 100% (collateral) and the curve is valid (rates);
- a parameter moves at most once per cooldown, counted from its last *execution*;
- at most one pending (scheduled, not executed, not expired, not vetoed) operation per
  parameter; an operation executes only within `execution_window_s` after it became ready,
  and is checked again at execution against the values then in force;
- an update that only lowers LTV, LT or caps (the tightening-only fast path) applies at once;
  anything else waits the timelock delay;
- a fast-path update supersedes the operation pending on each parameter it writes: that
  operation can no longer execute (the contract tags each parameter's pending operation with
  its update hash; here the pending ready time stands for the tag).

Units are the pool's: bps, whole tokens. Pure: no chain, no clock (time is passed in).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from strategies.params import (
    BPS_MAX,
    DEFAULT_BOUNDS,
    MAX_CAP_TOKENS,
    NON_ZERO_PARAMS,
    SPECS,
    TIGHTENS_DOWNWARD,
    Bound,
    Group,
    Param,
)

MAX_BORROW_RATE_BPS = 100_000
MIN_OPTIMAL_USAGE_RATIO_BPS = 100
MAX_OPTIMAL_USAGE_RATIO_BPS = 9_900
DEFAULT_EXECUTION_WINDOW_S = 86_400
# Aave v3 ReserveConfiguration's own limits (RiskSteward._protocolLimit): 16-bit LTV/LT/LB,
# 36-bit caps, reserve factor <= 100%; the rate parameters are bounded by the curve check.
MAX_VALID_LTV_LT_LB = 65_535
MAX_VALID_RESERVE_FACTOR_BPS = 10_000
PROTOCOL_LIMITS: dict[Param, int] = {
    Param.LTV: MAX_VALID_LTV_LT_LB,
    Param.LIQUIDATION_THRESHOLD: MAX_VALID_LTV_LT_LB,
    Param.LIQUIDATION_BONUS: MAX_VALID_LTV_LT_LB,
    Param.SUPPLY_CAP: MAX_CAP_TOKENS,
    Param.BORROW_CAP: MAX_CAP_TOKENS,
    Param.RESERVE_FACTOR: MAX_VALID_RESERVE_FACTOR_BPS,
}

__all__ = [
    "Bound", "BoundViolation", "Bounds", "DEFAULT_BOUNDS", "DEFAULT_EXECUTION_WINDOW_S", "PROTOCOL_LIMITS", "Param",
    "ParamState",
    "Projection", "check_apply", "check_consistency", "check_step", "check_submit", "is_tightening_only", "project",
    "split_fast_and_slow",
]


class BoundViolation(Exception):
    """A change the steward would refuse; `name` is the contract's custom error name and
    `error_args` its arguments, so an off-chain refusal reads the same as the on-chain revert."""

    def __init__(self, name: str, *args: int) -> None:
        super().__init__(f"{name}({', '.join(str(a) for a in args)})")
        self.name = name
        self.error_args = args


@dataclass(frozen=True)
class ParamState:
    """`RiskSteward.paramState(asset, param)`: when the parameter last changed through the
    steward (0: never) and when its pending operation becomes ready (0: none)."""

    last_executed_at: int = 0
    pending_ready_at: int = 0


@dataclass(frozen=True)
class Bounds:
    """Bounds per parameter, each parameter's state, and the execution window of the slow path."""

    limits: dict[Param, Bound] = field(default_factory=lambda: dict(DEFAULT_BOUNDS))
    state: dict[Param, ParamState] = field(default_factory=dict)
    execution_window_s: int = DEFAULT_EXECUTION_WINDOW_S

    def state_of(self, param: Param) -> ParamState:
        return self.state.get(param, ParamState())

    def cooldown_ready_at(self, param: Param) -> int:
        """First second at which `param` may move again (0 when it never moved)."""
        last = self.state_of(param).last_executed_at
        return last + self.limits[param].cooldown_seconds if last != 0 else 0

    def pending_until(self, param: Param, now_seconds: int) -> int | None:
        """When `param`'s pending operation stops blocking (ready + window), or None."""
        ready = self.state_of(param).pending_ready_at
        if ready == 0 or now_seconds > ready + self.execution_window_s:
            return None
        return ready + self.execution_window_s


def check_step(param: Param, current: int, proposed: int, bound: Bound) -> None:
    """RiskSteward._checkStep."""
    if current == proposed:
        raise BoundViolation("ParamUnchanged", param, current)
    if proposed == 0 and param in NON_ZERO_PARAMS:
        raise BoundViolation("ZeroValueNotAllowed", param)
    if proposed < bound.floor or proposed > bound.ceiling:
        raise BoundViolation("OutsideFloorCeiling", param, proposed, bound.floor, bound.ceiling)
    difference = abs(current - proposed)
    max_difference = bound.max_difference(current)
    if difference > max_difference:
        raise BoundViolation("UpdateNotInRange", param, current, proposed, max_difference)


def check_consistency(values: dict[Param, int], changed: Iterable[Param] | None = None) -> None:
    """RiskSteward._checkConsistency over the full post-update parameter set: Aave's own limit
    of each changed value (in update order), then the consistency of each group the update
    writes (collateral: LTV <= LT, LB > 100%, LT x LB <= 100%; rates: the curve). `changed`
    None checks every parameter and group."""
    order = list(Param) if changed is None else list(changed)
    for param in order:
        limit = PROTOCOL_LIMITS.get(param)
        if limit is not None and values[param] > limit:
            raise BoundViolation("AboveProtocolLimit", param, values[param], limit)
    groups = {SPECS[param].group for param in order}
    if Group.COLLATERAL in groups:
        ltv = values[Param.LTV]
        threshold = values[Param.LIQUIDATION_THRESHOLD]
        bonus = values[Param.LIQUIDATION_BONUS]
        if ltv > threshold:
            raise BoundViolation("LtvAboveThreshold", ltv, threshold)
        if threshold != 0 and bonus <= BPS_MAX:
            raise BoundViolation("BonusNotAbove100", bonus)
        if threshold * bonus > BPS_MAX * BPS_MAX:
            raise BoundViolation("ThresholdTimesBonusAbove100", threshold, bonus)
    if Group.RATES in groups:
        optimal = values[Param.OPTIMAL_USAGE_RATIO]
        slope1 = values[Param.VARIABLE_RATE_SLOPE1]
        slope2 = values[Param.VARIABLE_RATE_SLOPE2]
        if (
            optimal < MIN_OPTIMAL_USAGE_RATIO_BPS
            or optimal > MAX_OPTIMAL_USAGE_RATIO_BPS
            or slope1 > slope2
            or values[Param.BASE_VARIABLE_BORROW_RATE] + slope1 + slope2 > MAX_BORROW_RATE_BPS
        ):
            raise BoundViolation("InvalidRateCurve")


def _check_changes(current: dict[Param, int], changes: dict[Param, int], bounds: Bounds, now_seconds: int,
                   *, check_pending: bool) -> dict[Param, int]:
    if not changes:
        raise BoundViolation("MalformedUpdate")
    after = dict(current)
    for param, proposed in changes.items():
        check_step(param, current[param], proposed, bounds.limits[param])
        ready_at = bounds.cooldown_ready_at(param)
        if ready_at != 0 and now_seconds < ready_at:
            raise BoundViolation("UpdateInCooldown", param, ready_at)
        if check_pending:
            until = bounds.pending_until(param, now_seconds)
            if until is not None:
                raise BoundViolation("ParamPending", param, bounds.state_of(param).pending_ready_at)
        after[param] = proposed
    check_consistency(after, changes)
    return after


def is_tightening_only(current: dict[Param, int], changes: dict[Param, int]) -> bool:
    """True when every change lowers a parameter whose decrease only reduces risk."""
    return bool(changes) and all(p in TIGHTENS_DOWNWARD and v < current[p] for p, v in changes.items())


def check_submit(current: dict[Param, int], changes: dict[Param, int], bounds: Bounds, now_seconds: int) -> dict[Param, int]:
    """RiskSteward.submit's parameter checks: raises `BoundViolation` as the contract would
    revert, else returns the full post-update parameter set. A tightening-only update takes
    the fast path and is not blocked by a pending operation (it still honours the cooldown)."""
    return _check_changes(current, changes, bounds, now_seconds, check_pending=not is_tightening_only(current, changes))


def check_apply(current: dict[Param, int], changes: dict[Param, int], bounds: Bounds, now_seconds: int,
                ready_at: int) -> dict[Param, int]:
    """RiskSteward.apply (the timelock executing a scheduled update): within the execution
    window, still the operation pending on each of its parameters (not superseded by a
    fast-path update since), and every check again against the values in force now."""
    if now_seconds > ready_at + bounds.execution_window_s:
        raise BoundViolation("OperationExpired", ready_at + bounds.execution_window_s)
    for param in changes:
        if bounds.state_of(param).pending_ready_at != ready_at:
            raise BoundViolation("OperationSuperseded", int(param))
    return _check_changes(current, changes, bounds, now_seconds, check_pending=False)


# Backwards-compatible name: the slow path's submit check.
check_update = check_submit


@dataclass(frozen=True)
class Projection:
    """What `project` kept, and for every target it did not keep, why (never a silent `{}`)."""

    changes: dict[Param, int]
    dropped: dict[Param, str]


def project(
    current: dict[Param, int],
    targets: dict[Param, int],
    bounds: Bounds,
    now_seconds: int,
    min_change: dict[Param, int] | None = None,
    max_step_share: dict[Param, float] | None = None,
) -> Projection:
    """Moves each parameter toward its target as far as the steward allows now.

    Parameters in cooldown or with a pending operation stay; steps are clamped to the bound
    (times `max_step_share`, for slow loosening) and floor/ceiling; a change smaller than
    `min_change` is dropped (no churn). Linked fields are kept consistent: LTV follows LT down,
    and a change that would break LTV <= LT or LT x LB <= 100% is dropped. Each parameter is
    judged on its own, so one in cooldown never costs another its change. The result passes
    `check_submit` for each part `split_fast_and_slow` makes of it."""
    changes: dict[Param, int] = {}
    dropped: dict[Param, str] = {}
    for param, target in targets.items():
        bound = bounds.limits[param]
        now_value = current[param]
        if target == now_value:
            continue
        ready_at = bounds.cooldown_ready_at(param)
        if ready_at != 0 and now_seconds < ready_at:
            dropped[param] = f"in cooldown until {ready_at}"
            continue
        tightening = param in TIGHTENS_DOWNWARD and target < now_value
        if not tightening and bounds.pending_until(param, now_seconds) is not None:
            dropped[param] = f"an operation is pending (ready at {bounds.state_of(param).pending_ready_at})"
            continue
        step = bound.max_difference(now_value)
        if max_step_share and param in max_step_share:
            step = int(step * max_step_share[param])
        value = min(max(target, now_value - step, bound.floor), now_value + step, bound.ceiling)
        if value == 0 and param in NON_ZERO_PARAMS:
            dropped[param] = "would be zero"
            continue
        if abs(value - now_value) < (min_change or {}).get(param, 1):
            dropped[param] = f"step {value - now_value:+d} below the dead band"
            continue
        changes[param] = value

    def merged() -> dict[Param, int]:
        return {**current, **changes}

    def drop(param: Param, reason: str) -> None:
        if param in changes:
            del changes[param]
            dropped[param] = reason

    # Keep LTV <= LT: LTV follows LT down when it may move; otherwise give up the LT cut.
    if merged()[Param.LTV] > merged()[Param.LIQUIDATION_THRESHOLD]:
        drop(Param.LIQUIDATION_THRESHOLD, "would put LT under the LTV in force")
        if merged()[Param.LTV] > merged()[Param.LIQUIDATION_THRESHOLD]:
            drop(Param.LTV, "would put LTV above LT")
    values = merged()
    if values[Param.LIQUIDATION_THRESHOLD] * values[Param.LIQUIDATION_BONUS] > BPS_MAX * BPS_MAX:
        drop(Param.LIQUIDATION_BONUS, "LT x LB would exceed 100%")
    values = merged()
    if values[Param.VARIABLE_RATE_SLOPE1] > values[Param.VARIABLE_RATE_SLOPE2]:
        drop(Param.VARIABLE_RATE_SLOPE1, "slope1 would exceed slope2")
    # Whatever is left must pass the contract's own checks, part by part, in submit order.
    fast, slow = split_fast_and_slow(current, changes)
    state = dict(current)
    for part in (fast, slow):
        if not part:
            continue
        try:
            check_submit(state, part, bounds, now_seconds)
        except BoundViolation as violation:
            for param in part:
                drop(param, f"refused by the steward's check: {violation}")
            continue
        state.update(part)
    return Projection(dict(changes), dropped)


def split_fast_and_slow(current: dict[Param, int], changes: dict[Param, int]) -> tuple[dict[Param, int], dict[Param, int]]:
    """(tightening-only part, the rest): the first applies at once, the second waits the delay.
    Submitted in that order, each is checked against the values the previous one left."""
    fast = {p: v for p, v in changes.items() if is_tightening_only(current, {p: v})}
    slow = {p: v for p, v in changes.items() if p not in fast}
    return fast, slow
