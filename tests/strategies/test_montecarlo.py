"""Monte Carlo bad debt: hand-derived paths and positions, the liquidation delay, seeded paths,
and the pruned computation equal to the dense one bit for bit (the dense form, as it was on
main @bcaf696, is kept here as the reference). No ../shared/data needed."""

from __future__ import annotations

import numpy as np
import pytest

import strategies.montecarlo as montecarlo
from strategies.montecarlo import (
    BadDebtEstimate,
    _bad_debt_dense,
    _losing_pairs,
    _positions_reached,
    _row_sums,
    bad_debt,
    bad_debt_of_log_paths,
    path_minimum,
    running_minimum,
    simulate_log_paths,
    simulate_paths,
    sparse_row_sums,
    synthetic_population,
)

# Two paths over 3 hours: the first falls (1, 0.9, 0.7, 0.8), the second rises.
PATHS = np.array([[1.0, 0.9, 0.7, 0.8], [1.0, 1.1, 1.2, 1.3]])
# Collateral 100 each; debts 70, 78, 50. With LT 0.8 the HF reaches 1 at price multipliers
# (triggers) 70/80 = 0.875, 78/80 = 0.975 and 50/80 = 0.625.
COLLATERAL = np.array([100.0, 100.0, 100.0])
DEBT = np.array([70.0, 78.0, 50.0])


def reference_simulate_paths(hourly_sigma, horizon_hours, paths, seed, student_dof=4.0):
    rng = np.random.default_rng(seed)
    shocks = rng.standard_t(student_dof, size=(paths, horizon_hours)) / np.sqrt(student_dof / (student_dof - 2))
    log_paths = np.cumsum(hourly_sigma * shocks, axis=1)
    return np.exp(np.concatenate([np.zeros((paths, 1)), log_paths], axis=1))


def reference_bad_debt(price_paths, collateral_usd, debt_usd, liquidation_threshold, liquidation_bonus, delay=1):
    if len(debt_usd) == 0:
        return BadDebtEstimate(0.0, 0.0, 0.0)
    trigger = debt_usd / (collateral_usd * liquidation_threshold)
    horizon = price_paths.shape[1] - 1
    crossed = price_paths[:, :, None] <= trigger[None, None, :]
    ever = crossed.any(axis=1)
    first = np.where(ever, crossed.argmax(axis=1), horizon)
    execute_at = np.minimum(first + delay, horizon)
    execution_price = np.take_along_axis(price_paths, execute_at, axis=1)
    recoverable = collateral_usd[None, :] * execution_price / liquidation_bonus
    shortfall = np.where(ever, np.maximum(debt_usd[None, :] - recoverable, 0.0), 0.0)
    per_path = shortfall.sum(axis=1)
    liquidated = np.where(ever, debt_usd[None, :], 0.0).sum(axis=1)
    return BadDebtEstimate(float(per_path.mean()), float(np.quantile(per_path, 0.95)), float(liquidated.mean()))


def test_bad_debt_on_two_paths_matches_the_hand_computation():
    """Falling path: position 1 (trigger 0.875) crosses at hour 2 (0.7), is liquidated an
    hour later at 0.8: 100 x 0.8 / 1.05 = 76.19 covers its 70. Position 2 (0.975) crosses at
    hour 1 (0.9), is liquidated at hour 2 at 0.7: 100 x 0.7 / 1.05 = 66.667, shortfall
    78 - 66.667 = 11.333. Position 3 (0.625) never crosses. Rising path: nothing.
    Per path (11.333, 0): mean 5.667; 95% quantile by linear interpolation 0.95 x 11.333 =
    10.767; liquidated debt per path (70 + 78, 0), mean 74."""
    estimate = bad_debt(PATHS, COLLATERAL, DEBT, 0.8, 1.05, 1)
    shortfall = 78 - 70 / 1.05
    assert estimate.mean_usd == pytest.approx(shortfall / 2, rel=1e-12)
    assert estimate.var95_usd == pytest.approx(0.95 * shortfall, rel=1e-12)
    assert estimate.liquidated_mean_usd == pytest.approx(74.0, rel=1e-12)


def test_the_liquidation_delay_picks_the_execution_hour_capped_at_the_horizon():
    """Delay 0: position 1 sells at 0.7 (66.667 < 70: shortfall 3.333), position 2 at 0.9
    (85.71 covers 78). Delay 5: both sell at the last hour, 0.8: 76.19, position 2 short
    78 - 76.19 = 1.810. Means over the two paths are half of these."""
    now = bad_debt(PATHS, COLLATERAL, DEBT, 0.8, 1.05, 0)
    assert now.mean_usd == pytest.approx((70 - 70 / 1.05) / 2, rel=1e-12)
    late = bad_debt(PATHS, COLLATERAL, DEBT, 0.8, 1.05, 5)
    assert late.mean_usd == pytest.approx((78 - 80 / 1.05) / 2, rel=1e-12)


def test_no_positions_no_bad_debt():
    assert bad_debt(PATHS, np.zeros(0), np.zeros(0), 0.8, 1.05) == BadDebtEstimate(0.0, 0.0, 0.0)


def test_paths_start_at_one_are_seeded_and_equal_the_reference():
    paths = simulate_paths(0.01, 24, 500, seed=3)
    assert paths.shape == (500, 25) and (paths[:, 0] == 1.0).all()
    assert paths.tobytes() == reference_simulate_paths(0.01, 24, 500, 3).tobytes()
    assert paths.tobytes() != simulate_paths(0.01, 24, 500, seed=4).tobytes()


def test_shared_shocks_are_not_changed_by_their_users():
    """The shocks of a (seed, paths, hours, dof) are drawn once and reused: another sigma, a
    caller writing into its paths, and another dof leave the next call's paths as before."""
    first = simulate_paths(0.01, 48, 200, seed=9)
    other = simulate_paths(0.03, 48, 200, seed=9)
    other[:] = 0.0
    simulate_paths(0.01, 48, 200, seed=9, student_dof=6.0)
    assert simulate_paths(0.01, 48, 200, seed=9).tobytes() == first.tobytes()
    assert simulate_paths(0.01, 48, 200, seed=9, student_dof=6.0).tobytes() == reference_simulate_paths(
        0.01, 48, 200, 9, 6.0).tobytes()


SCENARIOS = [  # (hourly sigma, horizon, paths, positions, seed)
    (0.003, 24, 2_000, 400, 1),  # calm: almost nothing crosses
    (0.01, 48, 2_000, 400, 2),
    (0.03, 96, 1_000, 500, 3),  # crash: most positions cross on most paths
    (0.02, 5, 50, 1, 4),
    (0.02, 1, 7, 129, 5),
]


def population_with_edges(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic population plus positions already under HF 1 (every 5th), without debt
    (every 11th from 1) and without collateral (every 13th from 2)."""
    collateral, debt = synthetic_population(1e8, 0.8, count, seed)
    debt[::5] *= 1.3
    debt[1::11] = 0.0
    collateral[2::13] = 0.0
    return collateral, debt


@pytest.mark.parametrize(("sigma", "horizon", "paths", "count", "seed"), SCENARIOS)
def test_pruned_bad_debt_equals_the_dense_computation_bit_for_bit(sigma, horizon, paths, count, seed):
    """Synthetic populations plus positions already under HF 1, without debt, without
    collateral; several LT/LB/delay combinations."""
    price_paths = simulate_paths(sigma, horizon, paths, seed)
    collateral, debt = population_with_edges(count, seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        for threshold, bonus, delay in ((0.8, 1.05, 1), (0.7, 1.1, 0), (0.85, 1.01, 4)):
            got = bad_debt(price_paths, collateral, debt, threshold, bonus, delay)
            want = reference_bad_debt(price_paths, collateral, debt, threshold, bonus, delay)
            assert (got.mean_usd.hex(), got.var95_usd.hex(), got.liquidated_mean_usd.hex()) == (
                want.mean_usd.hex(), want.var95_usd.hex(), want.liquidated_mean_usd.hex())


def as_hex(estimate):
    return estimate.mean_usd.hex(), estimate.var95_usd.hex(), estimate.liquidated_mean_usd.hex()


def test_exp_of_some_values_is_exp_of_them_in_the_whole_array():
    """The premise of reading prices from log paths: np.exp of a gathered subset (one value,
    a row, scattered entries) gives each value's exp in the whole buffer, bit for bit."""
    log_paths = simulate_log_paths(0.02, 48, 2_000, seed=8)
    prices = np.exp(log_paths)
    rng = np.random.default_rng(8)
    hours, paths = rng.integers(0, 49, 5_000), rng.integers(0, 2_000, 5_000)
    assert np.exp(log_paths[hours, paths]).tobytes() == prices[hours, paths].tobytes()
    assert np.exp(log_paths[:, [5]]).tobytes() == prices[:, [5]].tobytes()
    assert np.exp(log_paths[7, 3:4]).tobytes() == prices[7, 3:4].tobytes()


@pytest.mark.parametrize(("sigma", "horizon", "paths", "count", "seed"), SCENARIOS)
def test_path_minimum_is_the_running_minimum_of_the_prices(sigma, horizon, paths, count, seed):
    """Hour 0 at log 0, exp of the logs the paths simulate_paths gives, and one exp a path
    (bar near ties) the minimum of each path's prices, bit for bit."""
    log_paths = simulate_log_paths(sigma, horizon, paths, seed)
    assert log_paths.shape == (horizon + 1, paths) and not log_paths[0].any()
    assert np.exp(log_paths).T.tobytes() == simulate_paths(sigma, horizon, paths, seed).tobytes()
    want = running_minimum(simulate_paths(sigma, horizon, paths, seed))[:, -1]
    assert path_minimum(log_paths).tobytes() == want.tobytes()


def test_path_minimum_with_near_ties_nan_and_extreme_logs():
    """Hours whose logs are equal to, 1e-13 above or 5e-10 above the lowest (within the
    margin: every price of the path taken), 2e-9 above (outside: one exp), a NaN (numpy's
    NaN minimum) and logs beyond exp's safe range (all prices): the running minimum's
    last column, bit for bit."""
    lowest = -0.0123456789
    columns = [
        [0.0, lowest, lowest],
        [0.0, lowest + 1e-13, lowest],
        [0.0, lowest, lowest + 5e-10],
        [0.0, lowest + 2e-9, lowest],
        [0.0, -0.2, np.nan],
        [0.0, -800.0, 1.0],
        [0.0, 750.0, 2.0],
        [0.0, 0.0, 0.0],
    ]
    log_paths = np.ascontiguousarray(np.array(columns).T)
    with np.errstate(over="ignore", invalid="ignore"):
        want = running_minimum(np.exp(log_paths).T)[:, -1]
        assert path_minimum(log_paths).tobytes() == want.tobytes()
        assert path_minimum(log_paths[:, :4]).tobytes() == want[:4].tobytes()


@pytest.mark.parametrize(("sigma", "horizon", "paths", "count", "seed"), SCENARIOS)
def test_bad_debt_of_log_paths_equals_bad_debt_over_the_prices(sigma, horizon, paths, count, seed):
    """The populations of the pruned test (positions under HF 1, without debt, without
    collateral), several LT/LB/delay, the path minimum passed or not: the estimates of
    bad_debt over simulate_paths' prices (and the dense reference's), bit for bit."""
    log_paths = simulate_log_paths(sigma, horizon, paths, seed)
    prices = simulate_paths(sigma, horizon, paths, seed)
    collateral, debt = population_with_edges(count, seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        for threshold, bonus, delay in ((0.8, 1.05, 1), (0.7, 1.1, 0), (0.85, 1.01, 4), (0.9, 1.3, 2)):
            want = bad_debt(prices, collateral, debt, threshold, bonus, delay, liquidated=False)
            dense = reference_bad_debt(prices, collateral, debt, threshold, bonus, delay)
            assert as_hex(want)[:2] == as_hex(dense)[:2]
            for path_min in (None, path_minimum(log_paths)):
                got = bad_debt_of_log_paths(log_paths, collateral, debt, threshold, bonus, delay, path_min=path_min)
                assert as_hex(got) == as_hex(want)


@pytest.mark.parametrize("delay", [0, 1, 2])
def test_bad_debt_of_log_paths_at_the_exact_boundaries(delay):
    """Collateral 1, LT 1 and LB 1: a trigger is the debt itself and a position can lose when
    its debt is above the path's minimum price. Debts at a path's exact minimum (reached,
    cannot lose), one ulp over it (reached, loses), at the exact price of hour 0 (reached at
    hour 0 on every path), one ulp under the minimum (never reached), and at a price the
    path passes later (the search reads its running minimum): bad_debt's estimates over
    np.exp of the same logs, bit for bit."""
    log_paths = simulate_log_paths(0.05, 6, 40, seed=12)
    prices = np.exp(log_paths).T
    lowest = running_minimum(prices)[:, -1]
    debt = np.array([lowest[3], np.nextafter(lowest[3], np.inf), prices[0, 0], np.nextafter(lowest.min(), 0),
                     prices[7, 4], np.nextafter(prices[9, 2], np.inf), lowest[11]])
    collateral = np.ones(len(debt))
    want = bad_debt(prices, collateral, debt, 1.0, 1.0, delay, liquidated=False)
    assert want.mean_usd > 0
    assert as_hex(want)[:2] == as_hex(reference_bad_debt(prices, collateral, debt, 1.0, 1.0, delay))[:2]
    assert as_hex(bad_debt_of_log_paths(log_paths, collateral, debt, 1.0, 1.0, delay)) == as_hex(want)


def test_bad_debt_of_log_paths_without_positions_or_with_negative_collateral():
    log_paths = simulate_log_paths(0.02, 3, 10, seed=1)
    assert bad_debt_of_log_paths(log_paths, np.zeros(0), np.zeros(0), 0.8, 1.05) == BadDebtEstimate(0.0, 0.0, 0.0)
    collateral, debt = np.array([100.0, -5.0]), np.array([95.0, 1.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        got = bad_debt_of_log_paths(log_paths, collateral, debt, 0.8, 1.05)
        want = bad_debt(np.exp(log_paths).T, collateral, debt, 0.8, 1.05, liquidated=False)
    assert as_hex(got) == as_hex(want)


def reached_pairs_that_can_lose(path_min, trigger, collateral, debt, bonus):
    rows, cols = _positions_reached(path_min, trigger)
    can_lose = debt[cols] > collateral[cols] * path_min[rows] / bonus
    return sorted(zip(rows[can_lose].tolist(), cols[can_lose].tolist(), strict=True))


@pytest.mark.parametrize("seed", range(8))
def test_losing_pairs_are_the_reached_pairs_that_can_lose(seed):
    """Path minima with many exact ties (paths that never fell: 1.0) and, for each position,
    minima at the exact place where debt > collateral x minimum / bonus turns and one ulp on
    either side of it, and of its trigger; positions without collateral, without debt or
    with neither, under HF 1, far from it: the same set of pairs as listing every reached
    pair and keeping those that can lose."""
    rng = np.random.default_rng(seed)
    collateral, debt = synthetic_population(1e7, 0.8, 60, seed)
    debt[::7] *= 1.6
    debt[3], collateral[5], (debt[8], collateral[8]) = 0.0, 0.0, (0.0, 0.0)
    threshold, bonus = 0.8, float(rng.choice([1.05, 1.1, 1.0 + 1e-9]))
    with np.errstate(divide="ignore", invalid="ignore"):
        trigger = debt / (collateral * threshold)
        turning = debt * bonus / collateral
    minima = [1.0] * 300 + rng.uniform(0.3, 1.0, 300).tolist()
    for value in np.concatenate([turning, trigger]):
        if np.isfinite(value) and value > 0:
            minima += [value, np.nextafter(value, 0), np.nextafter(value, np.inf), value]
    path_min = rng.permutation(np.array(minima))
    with np.errstate(divide="ignore", invalid="ignore"):
        path_index, position_index = _losing_pairs(path_min, trigger, collateral, debt, bonus)
        want = reached_pairs_that_can_lose(path_min, trigger, collateral, debt, bonus)
    assert sorted(zip(path_index.tolist(), position_index.tolist(), strict=True)) == want
    assert len(want) > 0


def test_losing_pairs_leave_inputs_that_are_not_finite_to_the_listing():
    path_min, debt = np.array([0.5, 1.0]), np.array([50.0, 10.0])
    assert _losing_pairs(path_min, debt / 80.0, np.array([100.0, np.inf]), debt, 1.05) is None
    assert _losing_pairs(np.array([0.5, np.nan]), debt / 80.0, np.full(2, 100.0), debt, 1.05) is None


def test_negative_collateral_takes_the_dense_path():
    """The pruning's premise (collateral x price / bonus rises with the price) needs
    collateral >= 0; otherwise the dense form answers."""
    collateral = np.array([100.0, -5.0])
    debt = np.array([78.0, 1.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        assert bad_debt(PATHS, collateral, debt, 0.8, 1.05) == _bad_debt_dense(PATHS, collateral, debt, 0.8, 1.05, 1)
        assert bad_debt(PATHS, collateral, debt, 0.8, 1.05) == reference_bad_debt(PATHS, collateral, debt, 0.8, 1.05)


@pytest.mark.parametrize("columns", [1, 7, 8, 9, 127, 128, 129, 257, 500, 1_500])
def test_sparse_row_sums_equal_numpy_row_sums_bit_for_bit(columns):
    """Values of very different magnitudes, so that any other order of additions than
    numpy's pairwise one shows in the last bits."""
    rng = np.random.default_rng(columns)
    dense = rng.standard_normal((40, columns)) * 10.0 ** rng.integers(-8, 9, (40, columns))
    dense[rng.random(dense.shape) < 0.7] = 0.0
    dense[3] = 0.0  # an empty row
    rows, cols = np.nonzero(dense)
    shuffled = rng.permutation(len(rows))  # entries in any order
    got = sparse_row_sums(rows[shuffled], cols[shuffled], dense[rows, cols][shuffled], dense.shape)
    assert got.tobytes() == dense.sum(axis=1).tobytes()


def test_synthetic_population_is_seeded_solvent_and_sums_to_the_debt():
    collateral, debt = synthetic_population(1e6, 0.8, 300, seed=2)
    again = synthetic_population(1e6, 0.8, 300, seed=2)
    assert collateral.tobytes() == again[0].tobytes() and debt.tobytes() == again[1].tobytes()
    assert debt.sum() == pytest.approx(1e6, rel=1e-12)
    assert (collateral * 0.8 / debt >= 1.0).all()


def test_liquidated_debt_can_be_skipped_without_changing_the_bad_debt():
    price_paths = simulate_paths(0.02, 48, 500, seed=6)
    collateral, debt = synthetic_population(1e8, 0.8, 300, seed=6)
    full = bad_debt(price_paths, collateral, debt, 0.8, 1.05, 1)
    lean = bad_debt(price_paths, collateral, debt, 0.8, 1.05, 1, liquidated=False)
    assert (lean.mean_usd, lean.var95_usd) == (full.mean_usd, full.var95_usd) and np.isnan(lean.liquidated_mean_usd)
    assert full.liquidated_mean_usd > 0


def test_running_minimum_is_numpy_accumulate():
    """Hour by hour on a transposed copy, the same array as np.minimum.accumulate along the
    hours (a minimum is exact in any order); also one hour (the start only)."""
    paths = simulate_paths(0.02, 48, 300, seed=11)
    assert running_minimum(paths).tobytes() == np.minimum.accumulate(paths, axis=1).tobytes()
    assert running_minimum(paths).shape == paths.shape
    assert running_minimum(paths[:, :1]).tobytes() == paths[:, :1].tobytes()
    row_major = np.ascontiguousarray(paths)  # a caller's own paths, stored path by path
    assert running_minimum(row_major).tobytes() == np.minimum.accumulate(row_major, axis=1).tobytes()


def test_paths_stored_hour_by_hour_are_the_reference_in_every_horizon():
    """simulate_paths exponentiates its hour-by-hour buffer in place (no transposed copies):
    the same values as exp over the path-by-path array, at 0, 1 and many hours."""
    for horizon in (0, 1, 2, 24, 96):
        paths = simulate_paths(0.015, horizon, 700, seed=21)
        assert paths.shape == (700, horizon + 1)
        assert paths.tobytes() == reference_simulate_paths(0.015, horizon, 700, 21).tobytes()


# Exact binary fractions: the third path's minimum is 0.5 at hour 2, then 0.625.
EDGE_PATHS = np.array([[1.0, 0.75, 0.5, 0.625], [1.0, 1.25, 1.5, 1.0], [1.0, 0.875, 0.5, 0.75]])


@pytest.mark.parametrize("delay", [0, 1, 2])
def test_pruning_at_the_exact_boundaries_equals_the_dense_form(delay):
    """Collateral 100, LT 0.8, LB 1.25. Debt 40: trigger 40 / 80 = 0.5, exactly the minimum of
    paths 1 and 3 (reached: HF <= 1), and 100 x 0.5 / 1.25 = 40 = its debt, so the pruning
    drops it as unable to lose; the dense form liquidates it at 0.5 (delay 0: recovers 40,
    shortfall 0) or later at 0.625 / 0.75 (more). Debt 40 + 1 ulp: reached, kept, and with
    delay 0 short by the ulp. Debt 39.5: reached, cannot lose. Debt 80: trigger 1.0, reached
    at hour 0 on every path. Debt 20: trigger 0.25, never reached. Every estimate equals the
    dense reference bit for bit, with the running minimum passed or not, and liquidated debt."""
    collateral = np.full(5, 100.0)
    debt = np.array([40.0, np.nextafter(40.0, np.inf), 39.5, 80.0, 20.0])
    want = reference_bad_debt(EDGE_PATHS, collateral, debt, 0.8, 1.25, delay)
    for running in (None, running_minimum(EDGE_PATHS)):
        got = bad_debt(EDGE_PATHS, collateral, debt, 0.8, 1.25, delay, running_min=running)
        assert (got.mean_usd.hex(), got.var95_usd.hex(), got.liquidated_mean_usd.hex()) == (
            want.mean_usd.hex(), want.var95_usd.hex(), want.liquidated_mean_usd.hex())
        unlisted = bad_debt(EDGE_PATHS, collateral, debt, 0.8, 1.25, delay, liquidated=False, running_min=running)
        assert (unlisted.mean_usd.hex(), unlisted.var95_usd.hex()) == (want.mean_usd.hex(), want.var95_usd.hex())
    if delay == 0:  # the ulp over 40 is the only shortfall, on paths 1 and 3: mean 2/3 of it
        assert want.mean_usd == (2 * (debt[1] - 40.0)) / 3


@pytest.mark.parametrize("dense_rows_max", [0, 1 << 18])
@pytest.mark.parametrize("columns", [1, 9, 129, 500])
def test_row_sums_dense_or_sparse_equal_numpy_row_sums(monkeypatch, dense_rows_max, columns):
    """Both ways `_row_sums` takes (occupied rows made dense and summed by numpy, or the
    sparse emulation) give `dense.sum(axis=1)` bit for bit, entries in any order; empty rows
    (row 3, and most rows) are exact zeros."""
    monkeypatch.setattr(montecarlo, "_DENSE_ROWS_MAX_VALUES", dense_rows_max)
    rng = np.random.default_rng(columns)
    dense = rng.standard_normal((200, columns)) * 10.0 ** rng.integers(-8, 9, (200, columns))
    dense[rng.random(200) < 0.8] = 0.0
    dense[rng.random(dense.shape) < 0.5] = 0.0
    dense[3] = 0.0
    rows, cols = np.nonzero(dense)
    shuffled = rng.permutation(len(rows))
    got = _row_sums(rows[shuffled], cols[shuffled], dense[rows, cols][shuffled], dense.shape)
    assert got.tobytes() == dense.sum(axis=1).tobytes()
    assert _row_sums(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0), (4, 3)).tolist() == [0.0] * 4


def test_rows_of_at_most_two_entries_equal_numpy_row_sums():
    """The shape of a book with positions already under HF 1 (they lose on every path, the
    rest never): each row a, b or a + b whatever numpy's grouping. Magnitudes 16 orders
    apart, an infinite entry, and a -0.0 entry (its sign could survive a sum of zeros: the
    general ways then), one column, and a row of one -0.0 alone (numpy keeps -0.0)."""
    rng = np.random.default_rng(2)
    dense = np.zeros((300, 40))
    for row in range(300):
        for col in rng.choice(40, int(rng.integers(0, 3)), replace=False):
            dense[row, col] = rng.standard_normal() * 10.0 ** rng.integers(-8, 9)
    dense[7, 3] = np.inf
    rows, cols = np.nonzero(dense)
    assert _row_sums(rows, cols, dense[rows, cols], dense.shape).tobytes() == dense.sum(axis=1).tobytes()
    dense[9, :] = 0.0
    dense[9, 5] = -0.0
    rows, cols = np.nonzero(dense)
    rows, cols = np.append(rows, 9), np.append(cols, 5)
    assert _row_sums(rows, cols, dense[rows, cols], dense.shape).tobytes() == dense.sum(axis=1).tobytes()
    one = np.array([[-0.0], [2.0]])
    assert _row_sums(np.array([0, 1]), np.array([0, 0]), one[:, 0], one.shape).tobytes() == one.sum(axis=1).tobytes()


def test_no_path_that_loses_gives_exact_zeros():
    """Everyone far from liquidation: mean and 95% quantile +0.0, as numpy's of a zero row."""
    collateral, debt = np.full(3, 1e6), np.full(3, 1.0)
    got = bad_debt(PATHS, collateral, debt, 0.8, 1.05, 1, liquidated=False)
    want = reference_bad_debt(PATHS, collateral, debt, 0.8, 1.05, 1)
    assert (got.mean_usd.hex(), got.var95_usd.hex()) == (want.mean_usd.hex(), want.var95_usd.hex()) == ("0x0.0p+0",) * 2
