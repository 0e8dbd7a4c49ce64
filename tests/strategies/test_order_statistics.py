"""Medians and quantiles from one partition: the doubles np.median and np.quantile return, bit
for bit, on seeded samples shaped like a decision's and on arbitrary ones (NaN, infinities,
signed zeros, subnormals, ties), and numpy's own answer for what is not a 1-D float64 array."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import strategies.order_statistics as order_statistics
from strategies.order_statistics import median, quantile, quantiles

PROBABILITIES = (0.01, 0.05, 0.5, 0.95, 0.99)


def same_doubles(ours, numpy_own) -> bool:
    return np.asarray(ours, dtype=np.float64).tobytes() == np.asarray(numpy_own, dtype=np.float64).tobytes()


def test_the_rules_agree_with_this_numpy():
    assert order_statistics._EXACT


@pytest.mark.parametrize("count", [1, 2, 3, 24, 30, 718, 719, 2_000, 2_856, 2_879])
@pytest.mark.parametrize("seed", range(3))
def test_decision_like_samples_equal_numpy(count, seed):
    """Standardized returns (fat tails), their absolute deviations and per-path bad debts
    (mostly exact zeros, so a quantile can fall on zeros or between a zero and a loss)."""
    rng = np.random.default_rng(seed)
    returns = rng.standard_t(4, count) * 0.004
    deviations = np.abs(returns - np.median(returns))
    losses = np.where(rng.random(count) < 0.9, 0.0, rng.pareto(1.3, count) * 1e4)
    for sample in (returns, deviations, losses):
        assert same_doubles(median(sample), np.median(sample))
        assert same_doubles(quantiles(sample, PROBABILITIES), np.quantile(sample, PROBABILITIES))
        assert same_doubles(quantile(sample, 0.95), np.quantile(sample, 0.95))


@settings(max_examples=400, deadline=None)
@given(arrays(np.float64, st.integers(1, 60), elements=st.floats(allow_nan=True, allow_infinity=True, width=64)),
       st.lists(st.floats(0.0, 1.0), min_size=1, max_size=4))
def test_any_sample_equals_numpy(values, probabilities):
    with np.errstate(all="ignore"):
        assert same_doubles(median(values), np.median(values))
        assert same_doubles(quantiles(values, probabilities), np.quantile(values, probabilities))


def test_the_input_is_left_as_it_was_and_other_arrays_go_to_numpy():
    values = np.random.default_rng(4).standard_normal(101)
    before = values.copy()
    median(values), quantiles(values, PROBABILITIES)
    assert values.tobytes() == before.tobytes()
    table = values[:100].reshape(10, 10)
    assert same_doubles(median(table), np.median(table))
    as_float32 = values.astype(np.float32)
    assert same_doubles(quantiles(as_float32, (0.3,)), np.quantile(as_float32, (0.3,)))
    with pytest.raises(ValueError):
        quantiles(values, (1.5,))
