"""Interest-rate parameters steered so utilization tracks its target (Morpho AdaptiveCurveIRM
applied to Aave v3.2 curves): the rate at the optimal usage (base + slope1) moves
exponentially with the utilization error, at `speed_per_year`, bounded."""

from __future__ import annotations

import math

SECONDS_PER_YEAR = 365 * 86_400


def utilization_error(utilization: float, target: float) -> float:
    """Morpho's normalized error: -1 at 0% utilization, 0 at target, +1 at 100%."""
    if utilization > target:
        return (utilization - target) / (1 - target)
    return (utilization - target) / target


def adapted_rate_at_target(
    rate_at_target: float, utilization: float, target: float, elapsed_s: float, speed_per_year: float = 50.0,
    min_rate: float = 0.001, max_rate: float = 2.0,
) -> float:
    err = utilization_error(utilization, target)
    adapted = rate_at_target * math.exp(speed_per_year * err * elapsed_s / SECONDS_PER_YEAR)
    return min(max(adapted, min_rate), max_rate)
