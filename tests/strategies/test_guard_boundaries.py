"""The guard's gap limit in seconds of the feed's own prints, through the hourly builder: the
grid carries a print for at most `max_carry_hours` (2), so a hole between two prints becomes
NaN marks, and the guard holds when more than `max_gap_hours` (26) marks in the recent
history are NaN. One second on the late print decides."""

from __future__ import annotations

import numpy as np
import pytest

from strategies.anomaly import AnomalyGuard
from strategies.config import default_config
from strategies.inputs import HOUR_S, hourly_grid
from tests.strategies.test_anomaly import AS_OF, HOURS, calm_history

CONFIG = default_config()
CARRY = CONFIG.window.max_carry_hours  # 2
MAX_GAP = CONFIG.guard.max_gap_hours  # 26


@pytest.mark.parametrize("late_s, gap_hours", [(-1, MAX_GAP), (0, MAX_GAP), (1, MAX_GAP + 1)])
def test_a_hole_in_the_prints_holds_the_guard_one_second_past_its_limit(late_s, gap_hours):
    """Hourly prints on the marks, none strictly between t0 = AS_OF - 100 h and t1 = t0 + 29 h.
    Marks t0 + 1 h and t0 + 2 h carry t0's print (less than 3 h old); t0 + 3 h ... t0 + 28 h
    are NaN: 26 marks, the limit, and the guard passes. The print after the hole 1 s early
    (t1 - 1 s) still covers mark t1: 26. One second late (t1 + 1 s) mark t1 has nothing
    younger than 3 h: 27 NaN marks, and the guard holds, naming the gap."""
    calm = calm_history().prices_usd
    marks = AS_OF - HOUR_S * np.arange(HOURS - 1, -1, -1)
    t0 = AS_OF - 100 * HOUR_S
    t1 = t0 + (CARRY + 1 + MAX_GAP) * HOUR_S
    keep = (marks <= t0) | (marks >= t1)
    times = marks[keep].copy()
    times[times == t1] = t1 + late_s
    grid = hourly_grid(times, calm[keep], AS_OF, HOURS, max_carry_hours=CARRY)
    assert int(np.isnan(grid.values).sum()) == gap_hours
    reason = AnomalyGuard(CONFIG.guard).check(calm_history(prices_usd=grid.values), AS_OF)
    assert reason == (None if gap_hours <= MAX_GAP else f"gap of {gap_hours} h in the recent history")
