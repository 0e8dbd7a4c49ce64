"""The peg model on hand-made series (no ../shared/data): filtered deviation, depeg events,
the jump intensity, the exact mixture tail, and the source check (depeg vs manipulation)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from strategies.peg import (
    DepegEvent,
    JumpModel,
    PegCalibration,
    depeg_events,
    fit_jump_model,
    in_depeg,
    mixture_tail,
    noise_drops,
    peg_deviation,
    source_verdict,
)

YEAR_S = 365 * 86_400


def test_trailing_median_ignores_a_lone_print_and_keeps_a_lasting_move():
    """Prices 1, .97, 1, 1, .96, .95, .94, median of 3 trailing: 1 (one point), .985 (mean of
    two), then 1, 1, 1, .96, .95: the lone .97 is gone from the third point, the lasting fall
    shows from its second hour."""
    deviation = peg_deviation(np.array([1.0, 0.97, 1.0, 1.0, 0.96, 0.95, 0.94]))
    np.testing.assert_allclose(deviation, [0.0, -0.015, 0.0, 0.0, 0.0, -0.04, -0.05], atol=1e-12)
    np.testing.assert_allclose(peg_deviation(np.array([2.0, 1.9]), np.array([2.0, 2.0]), 1), [0.0, -0.05])


def test_depeg_event_by_hand():
    """Threshold 2%, 3 points to start, 2 to recover (above -1%):
    deviations 0, -.03, -.03, -.03, -.05, -.02, -.005, -.005, 0, -.03, 0 (times 0..10).
    Points 1-4 are below -2% (4 >= 3): an event from t=1; -.02 is not below -.02; recovery at
    points 6, 7: it ends at t=6; severity .05. The lone -.03 at t=9 is too short."""
    deviation = np.array([0, -0.03, -0.03, -0.03, -0.05, -0.02, -0.005, -0.005, 0, -0.03, 0])
    assert depeg_events(np.arange(11), deviation, 0.02, 3, 2) == (DepegEvent(1, 6, 0.05, True),)


def test_an_event_still_going_is_open():
    deviation = np.array([0.0, -0.03, -0.03, -0.03, -0.04])
    assert depeg_events(np.arange(5), deviation, 0.02, 3, 2) == (DepegEvent(1, 4, 0.04, False),)
    with pytest.raises(ValueError, match="threshold must be in"):
        depeg_events(np.arange(5), deviation, 0.0, 3, 2)


def test_jump_model_counts_own_events_and_pools_finished_severities():
    """Two years of history, one own event started before the decision, one after: Jeffreys
    intensity (1 + 1/2) / 2 = 0.75 a year. Severities: the finished pooled events that ended by
    then, .05 and .10 (the open one and the later one are not known). P(jump in 24 h) =
    1 - exp(-0.75 x 24 / 8760) = 0.00205268."""
    as_of = 2 * YEAR_S
    own = PegCalibration("USD", 0.02, 0, (DepegEvent(100, 200, 0.05), DepegEvent(as_of + 10, as_of + 20, 0.3)))
    pooled = (*own.events, DepegEvent(300, 400, 0.10), DepegEvent(500, as_of, 0.9, finished=False))
    jump = fit_jump_model(own, pooled, as_of, fallback_severity=0.2)
    assert jump.intensity_per_year == pytest.approx(0.75)
    assert jump.severities == (0.05, 0.10)
    assert jump.probability(24) == pytest.approx(0.00205268, abs=1e-8)
    assert fit_jump_model(own, (), as_of, 0.2).severities == (0.2,)
    with pytest.raises(ValueError, match="not before the decision"):
        fit_jump_model(own, pooled, 0, 0.2)


def test_mixture_tail_by_hand():
    """p = 1% of a jump over the horizon (intensity -ln .99 a year, 8,760 h), severities .3 and
    .1 (.005 each); noise .01, .02, 0, -.01 (.2475 each).
    99%: the 1% tail is exactly the two jumps: VaR .1, ES (.005 x .3 + .005 x .1) / .01 = .2.
    95%: the jumps and .04 of the .02 atom: VaR .02, ES (.0015 + .0005 + .0008) / .05 = .056."""
    jump = JumpModel(-math.log(0.99), (0.3, 0.1))
    noise = np.array([0.01, 0.02, 0.0, -0.01])
    tail99 = mixture_tail(jump, noise, 8_760, 0.99)
    assert tail99.jump_probability == pytest.approx(0.01)
    assert (tail99.var_drop, tail99.es_drop) == (pytest.approx(0.1), pytest.approx(0.2))
    tail95 = mixture_tail(jump, noise, 8_760, 0.95)
    assert (tail95.var_drop, tail95.es_drop) == (pytest.approx(0.02), pytest.approx(0.056))
    only_jumps = mixture_tail(jump, np.zeros(0), 8_760, 0.95)  # no calm window: noise is 0
    assert only_jumps.es_drop == pytest.approx((0.0015 + 0.0005) / 0.05)


def test_noise_leaves_out_windows_in_a_depeg():
    """Prices 1, .99, 1, .97, .96 (threshold 2%): one-hour drops .01 and 1 - 1/.99 = -.010101
    are calm; the windows ending at .97 or starting there are the depeg, left out."""
    drops = noise_drops(np.array([1.0, 0.99, 1.0, 0.97, 0.96]), 1.0, 1, 0.02)
    np.testing.assert_allclose(drops, [0.01, 1 - 1 / 0.99])


def test_depeg_state_needs_the_whole_run():
    assert in_depeg(np.array([0.0, -0.03, -0.03, -0.03]), 0.02, 3)
    assert not in_depeg(np.array([-0.03, -0.01, -0.03, -0.03]), 0.02, 3)
    assert not in_depeg(np.array([-0.03, -0.03]), 0.02, 3)


@pytest.mark.parametrize("oracle, reference, confirmed, kind, says", [
    (-0.10, -0.30, True, "depeg", "second source -30.0%"),         # UST: DEX leads, oracle lags, both off
    (-0.10, -0.30, False, "unconfirmed", "waiting"),      # the first hour of it
    (-0.10, 0.0, True, "manipulation", "only the oracle"),
    (0.0, -0.10, True, "manipulation", "only the second source"),
    (0.015, -0.015, True, "manipulation", "away from the second source"),  # 3.05% apart, limit 3%
    (0.01, -0.01, True, "consistent", "sources agree"),   # 2.02% apart
    (-0.10, None, True, "depeg", "no second source"),
    (-0.01, None, True, "consistent", "no second source"),
])
def test_source_verdict(oracle, reference, confirmed, kind, says):
    """Depeg threshold 2%, disagreement limit 3%: (1.015 / 0.985) - 1 = 3.05% > 3% is
    manipulation, (1.01 / 0.99) - 1 = 2.02% is not."""
    verdict = source_verdict(oracle, reference, 0.02, 0.03, confirmed)
    assert verdict.kind == kind and says in verdict.reason, verdict
