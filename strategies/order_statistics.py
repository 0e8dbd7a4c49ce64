"""Medians and quantiles of a decision's samples, the very values `np.median` and
`np.quantile` (its default 'linear' method) return, from one `np.partition` each.

Why: a decision takes about a hundred of them of a few thousand values (the winsorizing
median and MAD, the guard's, the tails' quantiles, the Monte Carlo's 95% bad debt), and
numpy's functions spend more time in their generic setup than in the partition (a median of
2,880 values 27 -> 10 us, two quantiles 68 -> 15 us).

Exact: a partition puts each requested order statistic at its place whatever its algorithm,
and what numpy does with them is a few IEEE operations, repeated here on the same doubles in
the same order (Python floats are IEEE doubles; nothing is fused): the median is the middle
value, or (a + b) / 2 of the two middle ones; the quantile at p sits at the virtual index
(n - 1) x p, between order statistics floor and floor + 1 (the last or the first when it
falls outside), with gamma = index - floor and numpy's `_lerp`: a + (b - a) x gamma, or
b - (b - a) x (1 - gamma) when gamma >= 0.5. Samples numpy treats specially are left to
numpy itself: NaN anywhere (it sorts last), a zero median value (signed zeros), not a 1-D
float64 array. Both are checked against numpy at import on samples built to show a
different rule; if numpy ever computes otherwise, numpy's functions are used (slower, never
different)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def _plain(values: np.ndarray) -> bool:
    return isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype == np.float64 and len(values) > 0


def _median(values: np.ndarray) -> np.float64:
    count = len(values)
    middle = count // 2
    if count % 2:
        part = np.partition(values, (middle, count - 1))
        value = float(part[middle])
        if value == 0.0 or math.isnan(part[-1]):
            return np.median(values)
        return np.float64(value)
    part = np.partition(values, (middle - 1, middle, count - 1))
    lower, upper = float(part[middle - 1]), float(part[middle])
    if lower == 0.0 or upper == 0.0 or math.isnan(part[-1]):
        return np.median(values)
    return np.float64((lower + upper) / 2)


def _quantiles(values: np.ndarray, probabilities: Sequence[float]) -> list[float]:
    count = len(values)
    spans = []  # (index of the lower order statistic, of the upper one, gamma) per probability
    for probability in probabilities:
        virtual = (count - 1) * float(probability)
        if not 0.0 <= probability <= 1.0 or math.isnan(virtual):
            return [float(v) for v in np.quantile(values, list(probabilities))]
        if virtual >= count - 1:
            spans.append((count - 1, count - 1, virtual - -1.0))
        elif virtual < 0:
            spans.append((0, 0, virtual - 0.0))
        else:
            floor = math.floor(virtual)
            spans.append((floor, floor + 1, virtual - floor))
    kth = sorted({0, count - 1, *(s[0] for s in spans), *(s[1] for s in spans)})
    part = np.partition(values, kth)
    if math.isnan(part[-1]):
        return [float(v) for v in np.quantile(values, list(probabilities))]
    result = []
    for lower_index, upper_index, gamma in spans:
        lower, upper = float(part[lower_index]), float(part[upper_index])
        difference = upper - lower
        result.append(upper - difference * (1 - gamma) if gamma >= 0.5 else lower + difference * gamma)
    return result


def median(values: np.ndarray) -> np.float64:
    """`np.median(values)`."""
    if not (_EXACT and _plain(values)):
        return np.median(values)
    return _median(values)


def quantiles(values: np.ndarray, probabilities: Sequence[float]) -> list[float]:
    """`[float(q) for q in np.quantile(values, probabilities)]`: each probability's quantile,
    from one partition (numpy computes each quantile of a list as it computes it alone)."""
    if not (_EXACT and _plain(values)):
        return [float(v) for v in np.quantile(values, list(probabilities))]
    return _quantiles(values, probabilities)


def quantile(values: np.ndarray, probability: float) -> float:
    """`float(np.quantile(values, probability))`."""
    return quantiles(values, (probability,))[0]


def _agrees_with_numpy() -> bool:
    """The rules above against numpy on samples where another rule would show: lengths 1 to
    a few thousand, odd and even, ties, values of very different magnitudes (any other
    interpolation or averaging rounds differently), probabilities at, near and between
    order statistics, 0 and 1."""
    rng = np.random.default_rng(0)
    probabilities = (0.0, 0.01, 0.05, 0.25, 0.5, 0.5 + 1e-12, 0.95, 0.99, 1.0, 1 / 3)
    for count in (1, 2, 3, 4, 7, 8, 9, 100, 101, 719, 2_000, 2_879):
        for _ in range(2):
            values = rng.standard_t(3, count) * 10.0 ** rng.integers(-8, 8, count)
            if count > 4:
                values[rng.integers(0, count, count // 4)] = values[0]  # ties
            ours = [float(_median(values)), *_quantiles(values, probabilities)]
            numpy_own = [float(np.median(values)), *np.quantile(values, probabilities).tolist()]
            if [v.hex() for v in ours] != [v.hex() for v in numpy_own]:
                return False
    return True


_EXACT = _agrees_with_numpy()
