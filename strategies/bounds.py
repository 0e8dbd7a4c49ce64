"""The steward's bounds, ported line for line from `RiskSteward` so every proposal can be
checked (and projected) off chain exactly as the contract will check it.

Units are the pool's: bps for LTV/LT/LB/RF/rates, whole tokens for caps. Parameter ids match
`RiskSteward.Param`. This module is pure: no chain, no clock (time is passed in).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

BPS_MAX = 10_000
MAX_BORROW_RATE_BPS = 100_000
MIN_OPTIMAL_USAGE_RATIO_BPS = 100
MAX_OPTIMAL_USAGE_RATIO_BPS = 9_900
UINT256_MAX = 2**256 - 1


class Param(IntEnum):
    LTV = 0
    LIQUIDATION_THRESHOLD = 1
    LIQUIDATION_BONUS = 2
    SUPPLY_CAP = 3
    BORROW_CAP = 4
    RESERVE_FACTOR = 5
    OPTIMAL_USAGE_RATIO = 6
    BASE_VARIABLE_BORROW_RATE = 7
    VARIABLE_RATE_SLOPE1 = 8
    VARIABLE_RATE_SLOPE2 = 9


NON_ZERO_PARAMS = frozenset({Param.LTV, Param.LIQUIDATION_THRESHOLD, Param.LIQUIDATION_BONUS, Param.SUPPLY_CAP, Param.BORROW_CAP})


@dataclass(frozen=True)
class Bound:
    """`RiskSteward.Bound`: cooldown in seconds; max step in bps (of current value if relative)."""

    cooldown_seconds: int
    max_change: int
    is_relative: bool
    floor: int
    ceiling: int

    def max_difference(self, current: int) -> int:
        return self.max_change * current // BPS_MAX if self.is_relative else self.max_change


# RiskSteward.defaultBounds(): Aave steward values (see the contract for sources).
DEFAULT_BOUNDS: dict[Param, Bound] = {
    Param.LTV: Bound(86_400, 25, False, 1, 9_900),
    Param.LIQUIDATION_THRESHOLD: Bound(86_400, 25, False, 1, 9_900),
    Param.LIQUIDATION_BONUS: Bound(86_400, 50, False, 10_001, 15_000),
    Param.SUPPLY_CAP: Bound(3 * 86_400, 3_000, True, 1, UINT256_MAX),
    Param.BORROW_CAP: Bound(3 * 86_400, 3_000, True, 1, UINT256_MAX),
    Param.RESERVE_FACTOR: Bound(3 * 86_400, 500, False, 0, 9_900),
    Param.OPTIMAL_USAGE_RATIO: Bound(3 * 86_400, 300, False, 100, 9_900),
    Param.BASE_VARIABLE_BORROW_RATE: Bound(86_400, 50, False, 0, 100_000),
    Param.VARIABLE_RATE_SLOPE1: Bound(86_400, 50, False, 0, 100_000),
    Param.VARIABLE_RATE_SLOPE2: Bound(8 * 3_600, 400, False, 0, 100_000),
}


class BoundViolation(Exception):
    """A change the steward would refuse; `name` is the contract's custom error name and
    `args` its arguments, so an off-chain refusal reads the same as the on-chain revert."""

    def __init__(self, name: str, *args: int) -> None:
        super().__init__(f"{name}({', '.join(str(a) for a in args)})")
        self.name = name
        self.error_args = args


@dataclass(frozen=True)
class Bounds:
    """Bounds per parameter plus when each parameter of the asset last changed (seconds)."""

    limits: dict[Param, Bound] = field(default_factory=lambda: dict(DEFAULT_BOUNDS))
    last_updated_at: dict[Param, int] = field(default_factory=dict)


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


def check_consistency(values: dict[Param, int]) -> None:
    """RiskSteward._checkConsistency over the full post-update parameter set."""
    ltv = values[Param.LTV]
    threshold = values[Param.LIQUIDATION_THRESHOLD]
    bonus = values[Param.LIQUIDATION_BONUS]
    if ltv > threshold:
        raise BoundViolation("LtvAboveThreshold", ltv, threshold)
    if threshold != 0 and bonus <= BPS_MAX:
        raise BoundViolation("BonusNotAbove100", bonus)
    if threshold * bonus > BPS_MAX * BPS_MAX:
        raise BoundViolation("ThresholdTimesBonusAbove100", threshold, bonus)
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


def check_update(
    current: dict[Param, int], changes: dict[Param, int], bounds: Bounds, now_seconds: int
) -> dict[Param, int]:
    """RiskSteward._checkAndBuildCalls: raises `BoundViolation` as the contract would revert,
    else returns the full post-update parameter set."""
    if not changes:
        raise BoundViolation("MalformedUpdate")
    after = dict(current)
    for param, proposed in changes.items():
        bound = bounds.limits[param]
        check_step(param, current[param], proposed, bound)
        last = bounds.last_updated_at.get(param, 0)
        ready_at = last + bound.cooldown_seconds
        if last != 0 and now_seconds < ready_at:
            raise BoundViolation("UpdateInCooldown", param, ready_at)
        after[param] = proposed
    check_consistency(after)
    return after


def project(
    current: dict[Param, int],
    targets: dict[Param, int],
    bounds: Bounds,
    now_seconds: int,
    min_change: dict[Param, int] | None = None,
) -> dict[Param, int]:
    """Moves each parameter toward its target as far as the steward allows now, and returns
    only the changes that pass `check_update` as a whole (the contract's exact checks).

    Parameters in cooldown stay; steps are clamped to the bound and floor/ceiling; a change
    smaller than `min_change` is dropped (no churn). Linked fields are kept consistent: LTV
    follows LT down, and a change that would break LTV <= LT or LT x LB <= 100% is dropped."""
    changes: dict[Param, int] = {}
    for param, target in targets.items():
        bound = bounds.limits[param]
        last = bounds.last_updated_at.get(param, 0)
        if last != 0 and now_seconds < last + bound.cooldown_seconds:
            continue
        now_value = current[param]
        step = bound.max_difference(now_value)
        value = min(max(target, now_value - step, bound.floor), now_value + step, bound.ceiling)
        if value == 0 and param in NON_ZERO_PARAMS:
            continue
        threshold = (min_change or {}).get(param, 1)
        if abs(value - now_value) < threshold:
            continue
        changes[param] = value

    def merged() -> dict[Param, int]:
        return {**current, **changes}

    # Keep LTV <= LT: move LTV down with LT if LTV may move; otherwise give up the LT cut.
    if merged()[Param.LTV] > merged()[Param.LIQUIDATION_THRESHOLD]:
        changes.pop(Param.LIQUIDATION_THRESHOLD, None)
        if merged()[Param.LTV] > merged()[Param.LIQUIDATION_THRESHOLD]:
            changes.pop(Param.LTV, None)
    values = merged()
    if values[Param.LIQUIDATION_THRESHOLD] * values[Param.LIQUIDATION_BONUS] > BPS_MAX * BPS_MAX:
        changes.pop(Param.LIQUIDATION_BONUS, None)
    values = merged()
    if values[Param.VARIABLE_RATE_SLOPE1] > values[Param.VARIABLE_RATE_SLOPE2]:
        changes.pop(Param.VARIABLE_RATE_SLOPE1, None)
    if not changes:
        return {}
    try:
        check_update(current, changes, bounds, now_seconds)
    except BoundViolation:
        return {}
    return changes
