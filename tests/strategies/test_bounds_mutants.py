"""The steward's mirror at the edges its other tests leave open, found by mutation testing
(`make mutation`): each test pins one comparison, one argument or one reason that a plausible
one-character change would break. WETH's October-2023 values: LTV 8,050, LT 8,300, LB 10,500,
caps 1.8M / 1.4M, RF 1,500, optimal usage 8,000, base 0, slope1 280, slope2 8,000."""

from __future__ import annotations

import pytest

from strategies.bounds import (
    DEFAULT_BOUNDS,
    MAX_VALID_LTV_LT_LB,
    Bound,
    Bounds,
    BoundViolation,
    Param,
    ParamState,
    check_apply,
    check_consistency,
    check_step,
    check_submit,
    is_tightening_only,
    project,
)
from strategies.params import AAVE_V3_OCT_2023

WETH = AAVE_V3_OCT_2023["WETH"].by_param()
NOW = 1_000_000_000
DAY = 86_400


def violation(action) -> tuple:
    with pytest.raises(BoundViolation) as raised:
        action()
    return (raised.value.name, raised.value.error_args)


# ------------------------------------------------------------------ Bounds' own clocks


def test_a_parameter_that_never_moved_is_never_in_cooldown():
    """last_executed_at 0 means never: ready at 0, free even at second 1."""
    assert Bounds().cooldown_ready_at(Param.LTV) == 0
    assert check_submit(WETH, {Param.LTV: 8_025}, Bounds(), 1)[Param.LTV] == 8_025


def test_cooldown_ready_at_is_last_execution_plus_the_cooldown():
    bounds = Bounds(state={Param.SUPPLY_CAP: ParamState(last_executed_at=NOW)})
    assert bounds.cooldown_ready_at(Param.SUPPLY_CAP) == NOW + 3 * DAY


def test_pending_until_is_ready_plus_the_window_and_none_without_a_pending_operation():
    bounds = Bounds(state={Param.LTV: ParamState(pending_ready_at=NOW)}, execution_window_s=DAY)
    assert bounds.pending_until(Param.LTV, NOW + DAY) == NOW + DAY
    assert bounds.pending_until(Param.LTV, NOW + DAY + 1) is None
    assert Bounds().pending_until(Param.LTV, 10) is None


def test_a_violation_reads_as_the_contract_error():
    error = BoundViolation("UpdateInCooldown", 0, NOW + DAY)
    assert (str(error), error.name, error.error_args) == (f"UpdateInCooldown(0, {NOW + DAY})", "UpdateInCooldown", (0, NOW + DAY))


# ------------------------------------------------------------------ check_step / check_consistency


def test_step_reasons_carry_the_contract_arguments():
    bound = DEFAULT_BOUNDS[Param.LTV]
    assert violation(lambda: check_step(Param.LTV, 8_050, 8_050, bound)) == ("ParamUnchanged", (Param.LTV, 8_050))
    assert violation(lambda: check_step(Param.SUPPLY_CAP, 10, 0, DEFAULT_BOUNDS[Param.SUPPLY_CAP])) == (
        "ZeroValueNotAllowed", (Param.SUPPLY_CAP,))
    assert violation(lambda: check_step(Param.LTV, 8_050, 9_901, Bound(1, 10_000, False, 1, 9_900))) == (
        "OutsideFloorCeiling", (Param.LTV, 9_901, 1, 9_900))
    assert violation(lambda: check_step(Param.LTV, 8_050, 8_076, bound)) == ("UpdateNotInRange", (Param.LTV, 8_050, 8_076, 25))
    check_step(Param.LTV, 8_050, 8_075, bound)  # exactly the step: allowed
    check_step(Param.RESERVE_FACTOR, 100, 0, DEFAULT_BOUNDS[Param.RESERVE_FACTOR])  # zero allowed where not non-zero


def test_relative_step_is_a_share_of_the_current_value():
    """Caps move 30% of the current value: 1,800,000 -> at most +-540,000."""
    bound = DEFAULT_BOUNDS[Param.SUPPLY_CAP]
    check_step(Param.SUPPLY_CAP, 1_800_000, 2_340_000, bound)
    assert violation(lambda: check_step(Param.SUPPLY_CAP, 1_800_000, 2_340_001, bound)) == (
        "UpdateNotInRange", (Param.SUPPLY_CAP, 1_800_000, 2_340_001, 540_000))


def test_protocol_limit_is_inclusive_and_checked_for_every_param_when_none_is_named():
    """LB's field is 16 bits: 65,535 passes Aave's own limit, 65,536 does not (before any
    collateral-consistency check, so the reason is the limit's)."""
    at_limit = {**WETH, Param.LIQUIDATION_THRESHOLD: 1, Param.LTV: 1, Param.LIQUIDATION_BONUS: MAX_VALID_LTV_LT_LB}
    check_consistency(at_limit)
    above = {**at_limit, Param.LIQUIDATION_BONUS: MAX_VALID_LTV_LT_LB + 1}
    assert violation(lambda: check_consistency(above)) == (
        "AboveProtocolLimit", (Param.LIQUIDATION_BONUS, MAX_VALID_LTV_LT_LB + 1, MAX_VALID_LTV_LT_LB))
    assert violation(lambda: check_consistency(above, [Param.LIQUIDATION_BONUS]))[0] == "AboveProtocolLimit"


def test_only_the_groups_an_update_writes_are_checked_for_consistency():
    """LTV above LT in force (an inconsistent start) does not stop a cap change or a rate
    change; it stops any change to the collateral group."""
    broken = {**WETH, Param.LTV: 8_400}
    check_consistency(broken, [Param.SUPPLY_CAP])
    check_consistency(broken, [Param.VARIABLE_RATE_SLOPE1])
    assert violation(lambda: check_consistency(broken, [Param.LIQUIDATION_BONUS])) == ("LtvAboveThreshold", (8_400, 8_300))
    assert violation(lambda: check_consistency(broken)) == ("LtvAboveThreshold", (8_400, 8_300))


def test_ltv_equal_to_lt_and_lt_times_lb_exactly_100_are_consistent():
    check_consistency({**WETH, Param.LTV: 8_300}, [Param.LTV])
    lower = {**WETH, Param.LTV: 7_900, Param.LIQUIDATION_THRESHOLD: 8_000}
    check_consistency({**lower, Param.LIQUIDATION_BONUS: 12_500}, [Param.LIQUIDATION_BONUS])
    assert violation(lambda: check_consistency({**lower, Param.LIQUIDATION_BONUS: 12_501}, [Param.LIQUIDATION_BONUS])) == (
        "ThresholdTimesBonusAbove100", (8_000, 12_501))


def test_bonus_must_exceed_100_percent_unless_collateral_is_off():
    assert violation(lambda: check_consistency({**WETH, Param.LIQUIDATION_BONUS: 10_000}, [Param.LIQUIDATION_BONUS])) == (
        "BonusNotAbove100", (10_000,))
    check_consistency({**WETH, Param.LTV: 0, Param.LIQUIDATION_THRESHOLD: 0, Param.LIQUIDATION_BONUS: 10_000},
                      [Param.LIQUIDATION_THRESHOLD])


@pytest.mark.parametrize("changes, valid", [
    ({Param.OPTIMAL_USAGE_RATIO: 100}, True), ({Param.OPTIMAL_USAGE_RATIO: 99}, False),
    ({Param.OPTIMAL_USAGE_RATIO: 9_900}, True), ({Param.OPTIMAL_USAGE_RATIO: 9_901}, False),
    ({Param.VARIABLE_RATE_SLOPE1: 8_000}, True), ({Param.VARIABLE_RATE_SLOPE1: 8_001}, False),
    ({Param.BASE_VARIABLE_BORROW_RATE: 100_000 - 8_280}, True), ({Param.BASE_VARIABLE_BORROW_RATE: 100_000 - 8_279}, False),
])
def test_rate_curve_limits_to_the_unit(changes, valid):
    """Optimal usage in [1%, 99%], slope1 <= slope2 (8,000), base + slope1 + slope2 <= 1,000%."""
    values = {**WETH, **changes}
    if valid:
        check_consistency(values, list(changes))
    else:
        assert violation(lambda: check_consistency(values, list(changes))) == ("InvalidRateCurve", ())


# ------------------------------------------------------------------ submit / apply


def test_tightening_only_means_strictly_lower():
    assert not is_tightening_only(WETH, {Param.LTV: 8_050})
    assert is_tightening_only(WETH, {Param.LTV: 8_049})


def test_apply_honours_the_cooldown_to_the_second():
    """An operation ready at R whose parameter was changed (fast path) at C: executable from
    C + 1 day (within a 2-day window), refused the second before with the contract's arguments."""
    cut_at = NOW + 120
    bounds = Bounds(state={Param.LTV: ParamState(last_executed_at=cut_at, pending_ready_at=NOW + 60)},
                    execution_window_s=2 * DAY)
    assert violation(lambda: check_apply(WETH, {Param.LTV: 8_060}, bounds, cut_at + DAY - 1, NOW + 60)) == (
        "UpdateInCooldown", (Param.LTV, cut_at + DAY))
    assert check_apply(WETH, {Param.LTV: 8_060}, bounds, cut_at + DAY, NOW + 60)[Param.LTV] == 8_060


def test_apply_is_not_blocked_by_its_own_pending_state():
    """At execution the parameter's pendingReadyAt is this very operation's: not a block."""
    bounds = Bounds(state={Param.LIQUIDATION_BONUS: ParamState(pending_ready_at=NOW)})
    assert check_apply(WETH, {Param.LIQUIDATION_BONUS: 10_550}, bounds, NOW, NOW)[Param.LIQUIDATION_BONUS] == 10_550


def test_an_empty_update_is_malformed():
    assert violation(lambda: check_submit(WETH, {}, Bounds(), NOW)) == ("MalformedUpdate", ())


# ------------------------------------------------------------------ project: every reason, every edge


def test_a_change_in_cooldown_until_its_ready_second_and_free_at_it():
    bounds = Bounds(state={Param.LTV: ParamState(last_executed_at=NOW - DAY)})
    assert project(WETH, {Param.LTV: 8_000}, bounds, NOW).changes == {Param.LTV: 8_025}
    late = project(WETH, {Param.LTV: 8_000}, bounds, NOW - 1)
    assert (late.changes, late.dropped) == ({}, {Param.LTV: f"in cooldown until {NOW}"})


def test_a_change_long_out_of_cooldown_is_projected():
    bounds = Bounds(state={Param.LTV: ParamState(last_executed_at=NOW - 30 * DAY)})
    assert project(WETH, {Param.LTV: 8_000}, bounds, NOW).changes == {Param.LTV: 8_025}


def test_pending_blocks_a_raise_or_a_bonus_cut_but_not_a_tightening():
    """LTV and LB each with a live pending operation: an LTV cut is tightening (fast path, kept);
    an LTV raise and an LB cut (a lower bonus is not a tightening) are dropped for the pending."""
    bounds = Bounds(state={p: ParamState(pending_ready_at=NOW + 10) for p in (Param.LTV, Param.LIQUIDATION_BONUS)})
    pending = f"an operation is pending (ready at {NOW + 10})"
    assert project(WETH, {Param.LTV: 8_000}, bounds, NOW).changes == {Param.LTV: 8_025}
    raised = project(WETH, {Param.LTV: 8_100, Param.LIQUIDATION_BONUS: 10_400}, bounds, NOW)
    assert (raised.changes, raised.dropped) == ({}, {Param.LTV: pending, Param.LIQUIDATION_BONUS: pending})


def test_steps_stop_at_the_floor_and_the_ceiling():
    limits = {**DEFAULT_BOUNDS, Param.LIQUIDATION_THRESHOLD: Bound(DAY, 25, False, 8_290, 8_310)}
    bounds = Bounds(limits=limits)
    assert project(WETH, {Param.LIQUIDATION_THRESHOLD: 9_000}, bounds, NOW).changes == {Param.LIQUIDATION_THRESHOLD: 8_310}
    assert project(WETH, {Param.LIQUIDATION_THRESHOLD: 7_000}, bounds, NOW).changes == {Param.LIQUIDATION_THRESHOLD: 8_290}


def test_a_non_zero_parameter_is_never_projected_to_zero_and_the_others_still_are_judged():
    """A supply cap of 10 with an absolute step of 10 and floor 0 could reach 0: dropped as
    'would be zero'; the reserve factor listed after it still moves (one drop does not end
    the projection)."""
    limits = {**DEFAULT_BOUNDS, Param.SUPPLY_CAP: Bound(DAY, 10, False, 0, 100)}
    current = {**WETH, Param.SUPPLY_CAP: 10}
    projection = project(current, {Param.SUPPLY_CAP: 0, Param.RESERVE_FACTOR: 1_400}, Bounds(limits=limits), NOW)
    assert (projection.changes, projection.dropped) == ({Param.RESERVE_FACTOR: 1_400}, {Param.SUPPLY_CAP: "would be zero"})
    limits_rf = {**DEFAULT_BOUNDS, Param.RESERVE_FACTOR: Bound(DAY, 2_000, False, 0, 9_900)}
    assert project(WETH, {Param.RESERVE_FACTOR: 0}, Bounds(limits=limits_rf), NOW).changes == {Param.RESERVE_FACTOR: 0}


def test_the_dead_band_keeps_a_step_equal_to_it_and_one_unit_by_default():
    assert project(WETH, {Param.LTV: 8_045}, Bounds(), NOW, min_change={Param.LTV: 5}).changes == {Param.LTV: 8_045}
    assert project(WETH, {Param.LTV: 8_049}, Bounds(), NOW).changes == {Param.LTV: 8_049}
    small = project(WETH, {Param.LTV: 8_046}, Bounds(), NOW, min_change={Param.LTV: 5})
    assert small.dropped == {Param.LTV: "step -4 below the dead band"}


def test_lt_cut_below_the_ltv_in_force_is_given_up_when_ltv_cannot_follow():
    """LT 8,300 -> 8,275 wanted, but LTV (8,300 here) is in cooldown: LT may not go under it."""
    current = {**WETH, Param.LTV: 8_300}
    bounds = Bounds(state={Param.LTV: ParamState(last_executed_at=NOW - 60)})
    projection = project(current, {Param.LIQUIDATION_THRESHOLD: 8_200, Param.LTV: 8_200}, bounds, NOW)
    assert projection.changes == {}
    assert projection.dropped == {Param.LTV: f"in cooldown until {NOW - 60 + DAY}",
                                  Param.LIQUIDATION_THRESHOLD: "would put LT under the LTV in force"}


def test_lt_cut_to_exactly_the_ltv_in_force_is_kept():
    current = {**WETH, Param.LTV: 8_275}
    assert project(current, {Param.LIQUIDATION_THRESHOLD: 8_000}, Bounds(), NOW).changes == {Param.LIQUIDATION_THRESHOLD: 8_275}


def test_ltv_raise_above_lt_is_dropped_and_up_to_lt_is_kept():
    current = {**WETH, Param.LTV: 8_290}
    over = project(current, {Param.LTV: 8_400}, Bounds(), NOW)
    assert (over.changes, over.dropped) == ({}, {Param.LTV: "would put LTV above LT"})
    assert project(current, {Param.LTV: 8_300}, Bounds(), NOW).changes == {Param.LTV: 8_300}


def test_a_bonus_raise_is_dropped_past_lt_times_lb_100_percent_and_kept_at_it():
    """LT 8,000: LB may reach 12,500 (8,000 x 12,500 = 1e8 exactly), not 12,501."""
    current = {**WETH, Param.LTV: 7_900, Param.LIQUIDATION_THRESHOLD: 8_000, Param.LIQUIDATION_BONUS: 12_480}
    assert project(current, {Param.LIQUIDATION_BONUS: 12_500}, Bounds(), NOW).changes == {Param.LIQUIDATION_BONUS: 12_500}
    over = project(current, {Param.LIQUIDATION_BONUS: 12_501}, Bounds(), NOW)
    assert (over.changes, over.dropped) == ({}, {Param.LIQUIDATION_BONUS: "LT x LB would exceed 100%"})
    assert project(WETH, {Param.LIQUIDATION_BONUS: 10_550}, Bounds(), NOW).changes == {Param.LIQUIDATION_BONUS: 10_550}


def test_slope1_may_reach_slope2_but_not_pass_it():
    current = {**WETH, Param.VARIABLE_RATE_SLOPE1: 7_980}
    assert project(current, {Param.VARIABLE_RATE_SLOPE1: 8_000}, Bounds(), NOW).changes == {Param.VARIABLE_RATE_SLOPE1: 8_000}
    over = project(current, {Param.VARIABLE_RATE_SLOPE1: 8_010}, Bounds(), NOW)
    assert (over.changes, over.dropped) == ({}, {Param.VARIABLE_RATE_SLOPE1: "slope1 would exceed slope2"})


def test_what_the_steward_would_still_refuse_is_dropped_with_its_error():
    """LT 8,300 -> 8,325 with LB 12,040 in force: 8,325 x 12,040 > 1e8. `project` does not move
    LB here, so the steward's own check refuses the LT raise, and the reason names it."""
    current = {**WETH, Param.LIQUIDATION_BONUS: 12_040}
    projection = project(current, {Param.LIQUIDATION_THRESHOLD: 8_325}, Bounds(), NOW)
    assert projection.changes == {}
    assert projection.dropped == {
        Param.LIQUIDATION_THRESHOLD: "refused by the steward's check: ThresholdTimesBonusAbove100(8325, 12040)"}


def test_submit_checks_only_the_groups_the_update_writes():
    """LTV above LT in force (an inconsistent start): a supply-cap cut still passes submit."""
    broken = {**WETH, Param.LTV: 8_400}
    assert check_submit(broken, {Param.SUPPLY_CAP: 1_700_000}, Bounds(), NOW)[Param.SUPPLY_CAP] == 1_700_000


def test_when_the_fast_part_is_refused_the_slow_part_is_still_judged():
    """LB 10,000 in force (not above 100%): an LTV cut (fast) and an LT raise (slow) both write
    the collateral group, so the steward would refuse each with BonusNotAbove100(10000)."""
    broken = {**WETH, Param.LIQUIDATION_BONUS: 10_000}
    projection = project(broken, {Param.LTV: 8_025, Param.LIQUIDATION_THRESHOLD: 8_325}, Bounds(), NOW)
    refused = "refused by the steward's check: BonusNotAbove100(10000)"
    assert projection.changes == {}
    assert projection.dropped == {Param.LTV: refused, Param.LIQUIDATION_THRESHOLD: refused}


def test_an_ltv_raise_to_exactly_the_lt_in_force_survives_a_dropped_lt_cut():
    """LTV 8,275 -> 8,300 and LT 8,300 -> 8,275 together would cross: the LT cut is given up,
    and LTV at exactly the LT in force (8,300) is kept."""
    current = {**WETH, Param.LTV: 8_275}
    projection = project(current, {Param.LTV: 8_300, Param.LIQUIDATION_THRESHOLD: 8_275}, Bounds(), NOW)
    assert projection.changes == {Param.LTV: 8_300}
    assert projection.dropped == {Param.LIQUIDATION_THRESHOLD: "would put LT under the LTV in force"}
