"""Monte Carlo of price paths and a borrower population: bad debt under a parameter set.

Paths are hourly log returns with Student-t innovations (`student_dof` degrees of freedom,
unit variance) at the forecast volatility; a position whose health factor falls below 1 is
liquidated `liquidation_delay_hours` later at that hour's price. Whatever its collateral
cannot cover (after the bonus) is bad debt. Seeded: same inputs, same numbers.

Speed without changing a bit (`tests/strategies/test_montecarlo.py` keeps the dense form and
compares): the standardized shocks of a (seed, paths, hours, dof) are drawn once and reused
by every asset and both parameter sets of a decision; and bad debt is computed only for the
(path, position) pairs that can lose. A position is liquidated on a path exactly when the
path's minimum reaches its trigger, at the first hour the running minimum does (a binary
search on the running minimum instead of comparing every hour with every position); and it
can leave a shortfall only if its collateral at the path's minimum, after the bonus, is below
its debt, since `collateral * price / bonus` cannot decrease as the price rises. Every other
pair contributes the exact zero the dense form computes, and the per-path sums add the
non-zero entries in numpy's own pairwise order (`sparse_row_sums`: an exact zero changes no
running sum), so the estimates are the dense form's bit for bit. A decision reads only a few
of the paths' prices (each path's minimum, and the paths and hours of the pairs that can
lose), so it keeps the paths in log space (`simulate_log_paths`) and takes np.exp of just
those values (`bad_debt_of_log_paths`): the same exp of the same doubles."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from strategies.order_statistics import quantile

STUDENT_DOF = 4.0


@dataclass(frozen=True)
class BadDebtEstimate:
    mean_usd: float
    var95_usd: float
    liquidated_mean_usd: float


@lru_cache(maxsize=16)
def _standardized_shocks(seed: int, paths: int, horizon_hours: int, student_dof: float) -> np.ndarray:
    """Unit-variance Student-t shocks drawn as shape (paths, horizon_hours), stored hour by
    hour (the transpose, contiguous: shape (horizon_hours, paths)); read-only, shared."""
    rng = np.random.default_rng(seed)
    shocks = rng.standard_t(student_dof, size=(paths, horizon_hours)) / np.sqrt(student_dof / (student_dof - 2))
    by_hour = np.ascontiguousarray(shocks.T)
    by_hour.setflags(write=False)
    return by_hour


def simulate_log_paths(hourly_sigma: float, horizon_hours: int, paths: int, seed: int,
                       student_dof: float = STUDENT_DOF) -> np.ndarray:
    """The log price multipliers `simulate_paths` exponentiates, stored hour by hour: shape
    (horizon_hours + 1, paths), C-contiguous, hour 0 all zeros.

    sigma x shocks summed hour by hour over all paths at once: a cumulative sum is
    sequential, log[h] = log[h - 1] + step[h], in any layout (numpy's cumsum along short
    rows walks each row on its own, 3x slower), so these are the values of
    cumsum(sigma x shocks, axis=1) path by path."""
    shocks_by_hour = _standardized_shocks(int(seed), int(paths), int(horizon_hours), float(student_dof))
    by_hour = np.empty((horizon_hours + 1, paths))
    by_hour[0] = 0.0
    log_by_hour = np.multiply(hourly_sigma, shocks_by_hour, out=by_hour[1:])
    for hour in range(1, horizon_hours):
        np.add(log_by_hour[hour - 1], log_by_hour[hour], out=log_by_hour[hour])
    return by_hour


def simulate_paths(hourly_sigma: float, horizon_hours: int, paths: int, seed: int,
                   student_dof: float = STUDENT_DOF) -> np.ndarray:
    """Price multipliers, shape (paths, horizon_hours + 1), starting at 1: a view of an array
    stored hour by hour (its transpose is C-contiguous), as `running_minimum` and the
    first-hour search read it.

    exp(concatenate([0, cumsum(sigma x shocks, axis=1)])) with exp taken in place over the
    contiguous hour-by-hour buffer instead of path by path: exp is taken value by value (the
    same routine on a contiguous array in either layout), so the values are the same and no
    transposed copy is made on the way in or out."""
    by_hour = simulate_log_paths(hourly_sigma, horizon_hours, paths, seed, student_dof)
    return np.exp(by_hour, out=by_hour).T


def running_minimum(price_paths: np.ndarray) -> np.ndarray:
    """np.minimum.accumulate(price_paths, axis=1), hour by hour over all paths at once on a
    copy stored hour by hour (the accumulate walks each short row on its own, several times
    slower; the copy is a plain one for `simulate_paths`' layout); a view of shape
    (paths, hours + 1). A minimum is one of its arguments, so any order gives the same array.
    Computed once per paths array: both parameter sets of a decision take it
    (`bad_debt(..., running_min=)`)."""
    by_hour = np.array(price_paths.T, order="C")
    for hour in range(1, by_hour.shape[0]):
        np.minimum(by_hour[hour - 1], by_hour[hour], out=by_hour[hour])
    return by_hour.T


def _first_hour_at_or_below(running_min: np.ndarray, path_index: np.ndarray, trigger: np.ndarray) -> np.ndarray:
    """For each (path, trigger) pair whose path reaches the trigger: the first hour h with
    running_min[path, h] <= trigger (running_min is non-increasing along each path). Hour 0
    answers for a position already at or under its trigger (HF <= 1 now, on every path):
    only the others are searched."""
    paths, hours = running_min.shape
    by_hour = np.ascontiguousarray(running_min.T).reshape(-1)  # no copy for `running_minimum`'s view
    first = np.zeros(len(path_index), dtype=np.int64)
    later = np.flatnonzero(by_hour[path_index] > trigger)
    if not len(later):
        return first
    path_index, trigger = path_index[later], trigger[later]
    low = np.ones(len(later), dtype=np.int64)
    high = np.full(len(later), hours - 1, dtype=np.int64)
    while True:
        open_ = low < high
        if not open_.any():
            first[later] = low
            return first
        middle = (low + high) // 2
        above = by_hour[middle * paths + path_index] > trigger
        low = np.where(open_ & above, middle + 1, low)
        high = np.where(open_ & ~above, middle, high)


# ------------------------------------------------------------------ exact sums of sparse rows

_PAIRWISE_LANES = 8  # numpy's pairwise summation: 8 running sums per block ...
_PAIRWISE_BLOCK = 128  # ... of at most 128 values, longer rows halved (at multiples of 8)


def _pairwise_blocks(start: int, length: int) -> tuple:
    """numpy's pairwise-summation tree over [start, start + length): ("leaf", start, length)
    or ("split", left, right)."""
    if length <= _PAIRWISE_BLOCK:
        return ("leaf", start, length)
    half = length // 2
    half -= half % _PAIRWISE_LANES
    return ("split", _pairwise_blocks(start, half), _pairwise_blocks(start + half, length - half))


def _sum_tree(node: tuple, rows: np.ndarray, cols: np.ndarray, values: np.ndarray, row_count: int) -> np.ndarray:
    if node[0] == "split":
        return (_sum_tree(node[1], rows, cols, values, row_count)
                + _sum_tree(node[2], rows, cols, values, row_count))
    _, start, length = node
    inside = (cols >= start) & (cols < start + length)
    rows, cols, values = rows[inside], cols[inside] - start, values[inside]
    total = np.zeros(row_count)
    if length < _PAIRWISE_LANES:  # a plain running sum from 0
        np.add.at(total, rows, values)
        return total
    unrolled = length - length % _PAIRWISE_LANES
    lane = cols < unrolled
    lanes = np.zeros(row_count * _PAIRWISE_LANES)
    # Each of the 8 lanes of a row is a running sum, in column order.
    np.add.at(lanes, rows[lane] * _PAIRWISE_LANES + cols[lane] % _PAIRWISE_LANES, values[lane])
    r = lanes.reshape(row_count, _PAIRWISE_LANES)
    total = ((r[:, 0] + r[:, 1]) + (r[:, 2] + r[:, 3])) + ((r[:, 4] + r[:, 5]) + (r[:, 6] + r[:, 7]))
    np.add.at(total, rows[~lane], values[~lane])  # the last length % 8 values, one by one
    return total


def sparse_row_sums(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """`dense.sum(axis=1)` of the matrix of `shape` that is zero except dense[rows, cols] =
    values ((row, col) pairs unique), bit for bit: numpy's pairwise summation evaluated on the
    non-zero entries only, since adding an exact zero changes no running sum. `np.add.at`
    adds in the order given, so entries are taken in (row, column) order."""
    row_count, col_count = shape
    totals = np.zeros(row_count)
    if len(rows) == 0:
        return totals
    key = rows.astype(np.int64) * col_count + cols
    if np.any(key[1:] <= key[:-1]):
        order = np.argsort(key, kind="stable")
        rows, cols, values = rows[order], cols[order], values[order]
    starts = np.flatnonzero(np.concatenate(([True], rows[1:] != rows[:-1])))
    compact = np.cumsum(np.concatenate(([0], (rows[1:] != rows[:-1]).astype(np.int64))))
    totals[rows[starts]] = _sum_tree(_pairwise_blocks(0, col_count), compact, cols, values, len(starts))
    return totals


def _sparse_sums_match_numpy() -> bool:
    """The emulation is tied to numpy's summation order; checked once against numpy itself
    (values of very different magnitudes, so any other order shows): if numpy ever sums
    differently, bad debt is computed densely (slower, never different)."""
    rng = np.random.default_rng(0)
    for col_count in (5, 8, 100, 129, 1_000):
        dense = rng.standard_normal((6, col_count)) * 10.0 ** rng.integers(-6, 7, (6, col_count))
        dense[rng.random(dense.shape) < 0.5] = 0.0
        rows, cols = np.nonzero(dense)
        if not np.array_equal(sparse_row_sums(rows, cols, dense[rows, cols], dense.shape), dense.sum(axis=1)):
            return False
    return True


_SPARSE_SUMS_EXACT = _sparse_sums_match_numpy()


_DENSE_ROWS_MAX_VALUES = 1 << 18  # 2 MB: above it, the sparse emulation (no dense buffer)


def _row_sums(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """`dense.sum(axis=1)` of the matrix of `shape` that is zero except dense[rows, cols] =
    values ((row, col) pairs unique, any order), bit for bit. Rows of at most two entries
    need no order; when the rows holding an entry are few, only they are made dense and numpy
    sums them (each row the very row of the full matrix, summed by the same routine);
    otherwise `sparse_row_sums`."""
    totals = np.zeros(shape[0])
    if len(rows) == 0:
        return totals
    per_row = np.bincount(rows, minlength=shape[0])
    if per_row.max() <= 2 and not (np.signbit(values) & (values == 0)).any():
        # At most two entries a row (positions already under HF 1 lose on every path, the
        # rest rarely): the row's sum is a + b, or a, whatever the grouping (the others are
        # exact zeros), and bincount adds 0.0 + a + b. A -0.0 entry (whose sign a sum of
        # zeros might keep) takes the ways below.
        return np.bincount(rows, weights=values, minlength=shape[0])
    occupied = np.zeros(shape[0], dtype=bool)
    occupied[rows] = True
    row_count = int(np.count_nonzero(occupied))
    if row_count * shape[1] > _DENSE_ROWS_MAX_VALUES:
        return sparse_row_sums(rows, cols, values, shape)
    compact = np.cumsum(occupied) - 1  # a row's place among the occupied rows
    dense = np.zeros((row_count, shape[1]))
    dense[compact[rows], cols] = values
    totals[occupied] = dense.sum(axis=1)
    return totals


def _positions_reached(path_min: np.ndarray, trigger: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All (path, position) pairs with path_min[path] <= trigger[position]: a suffix of the
    positions sorted by trigger for each path (NaN triggers are never reached)."""
    valid = np.flatnonzero(~np.isnan(trigger))
    order = valid[np.argsort(trigger[valid], kind="stable")]
    first = np.searchsorted(trigger[order], path_min, side="left")
    counts = len(order) - first
    rows = np.repeat(np.arange(len(path_min)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + np.repeat(first, counts)
    return rows, order[offsets]


def _losing_pairs(path_min: np.ndarray, trigger: np.ndarray, collateral_usd: np.ndarray, debt_usd: np.ndarray,
                  liquidation_bonus: float) -> tuple[np.ndarray, np.ndarray] | None:
    """The (path, position) pairs that can lose: `_positions_reached(path_min, trigger)` kept
    where debt > collateral x path_min / bonus (the same set, in another order), without
    listing the reached pairs that cannot lose (most of them: a position under HF 1 is
    reached on every path). Both conditions hold on a prefix of the paths sorted by their
    minimum: the first compares the minimum with the trigger, and collateral x price / bonus
    cannot decrease as the price rises (collateral >= 0 and bonus > 0; rounding to nearest
    is monotone), so each position loses on the shorter prefix. The second prefix ends near
    debt x bonus / collateral and is moved to where the very comparison above turns. Inputs
    that are not all finite: None (the caller lists the reached pairs)."""
    if not (np.isfinite(path_min).all() and np.isfinite(collateral_usd).all() and np.isfinite(debt_usd).all()):
        return None
    order = np.argsort(path_min)  # any order among equal minima: they share both verdicts
    lowest = path_min[order]
    paths = len(lowest)
    reached = np.searchsorted(lowest, trigger, side="right")  # minima <= trigger
    reached[np.isnan(trigger)] = 0  # a position with neither debt nor collateral is never reached
    # Where debt > collateral x minimum / bonus stops holding: estimated, then moved (past or
    # before a whole group of equal minima at a time) until the comparison turns there; the
    # estimate only saves steps.
    with np.errstate(divide="ignore", invalid="ignore"):
        estimate = debt_usd * liquidation_bonus / collateral_usd
    end = np.searchsorted(lowest, estimate, side="left")
    end[np.isnan(estimate)] = 0
    while True:
        ahead = np.flatnonzero(end < paths)
        ahead = ahead[debt_usd[ahead] > collateral_usd[ahead] * lowest[end[ahead]] / liquidation_bonus]
        behind = np.flatnonzero(end > 0)
        behind = behind[~(debt_usd[behind] > collateral_usd[behind] * lowest[end[behind] - 1] / liquidation_bonus)]
        if not len(ahead) and not len(behind):
            break
        end[ahead] = np.searchsorted(lowest, lowest[end[ahead]], side="right")
        end[behind] = np.searchsorted(lowest, lowest[end[behind] - 1], side="left")
    count = np.minimum(reached, end)
    positions = np.flatnonzero(count)
    per_position = count[positions]
    position_index = np.repeat(positions, per_position)
    path_index = order[np.arange(len(position_index)) - np.repeat(np.cumsum(per_position) - per_position, per_position)]
    return path_index, position_index


def bad_debt(
    price_paths: np.ndarray,
    collateral_usd: np.ndarray,
    debt_usd: np.ndarray,
    liquidation_threshold: float,
    liquidation_bonus: float,
    liquidation_delay_hours: int = 1,
    *,
    liquidated: bool = True,
    running_min: np.ndarray | None = None,
) -> BadDebtEstimate:
    """Bad debt per path for positions (collateral value now, debt) under one LT and LB.
    `liquidated=False` skips the mean liquidated debt (NaN then), which costs about as much
    as the bad debt itself when many positions are liquidated and bad debt is rare.
    `running_min` is `running_minimum(price_paths)` when the caller has it (computed here
    otherwise)."""
    if len(debt_usd) == 0:
        return BadDebtEstimate(0.0, 0.0, 0.0)
    if not _pruning_holds(collateral_usd, liquidation_bonus):
        estimate = _bad_debt_dense(price_paths, collateral_usd, debt_usd, liquidation_threshold, liquidation_bonus,
                                   liquidation_delay_hours)
        return estimate if liquidated else BadDebtEstimate(estimate.mean_usd, estimate.var95_usd, float("nan"))
    if running_min is None:
        running_min = running_minimum(price_paths)
    return _bad_debt_pruned(
        running_min[:, -1],  # the path's minimum (a minimum in any order is the same)
        lambda path_index, trigger: _first_hour_at_or_below(running_min, path_index, trigger),
        lambda path_index, hours: price_paths[path_index, hours],
        price_paths.shape[1] - 1, collateral_usd, debt_usd, liquidation_threshold, liquidation_bonus,
        liquidation_delay_hours, liquidated)


def bad_debt_of_log_paths(
    log_by_hour: np.ndarray,
    collateral_usd: np.ndarray,
    debt_usd: np.ndarray,
    liquidation_threshold: float,
    liquidation_bonus: float,
    liquidation_delay_hours: int = 1,
    *,
    path_min: np.ndarray | None = None,
) -> BadDebtEstimate:
    """`bad_debt(np.exp(log_by_hour).T, ..., liquidated=False)` bit for bit, for paths given
    as `simulate_log_paths` gives them, with exp taken only where a price is read: each
    path's minimum (`path_minimum`, computed here unless the caller has it), the price at
    hour 0 and the hours the first-crossing search reads on the paths of the pairs that can
    lose, and each such pair's sale. Each is the same np.exp of the same double as in the
    whole array, so it is the same price; the rest of the paths' ~50,000 prices are never
    read. Most of a decision's paths fall too little to make anyone lose."""
    if len(debt_usd) == 0:
        return BadDebtEstimate(0.0, 0.0, 0.0)
    if not _pruning_holds(collateral_usd, liquidation_bonus):
        return bad_debt(np.exp(log_by_hour).T, collateral_usd, debt_usd, liquidation_threshold, liquidation_bonus,
                        liquidation_delay_hours, liquidated=False)
    return _bad_debt_pruned(
        path_minimum(log_by_hour) if path_min is None else path_min,
        lambda path_index, trigger: _first_hour_on_log_paths(log_by_hour, path_index, trigger),
        lambda path_index, hours: np.exp(log_by_hour[hours, path_index]),
        log_by_hour.shape[0] - 1, collateral_usd, debt_usd, liquidation_threshold, liquidation_bonus,
        liquidation_delay_hours, liquidated=False)


def _pruning_holds(collateral_usd: np.ndarray, liquidation_bonus: float) -> bool:
    """The premise of the pruned computation: collateral x price / bonus rises with the price
    (collateral not negative, bonus positive), and numpy sums as `sparse_row_sums` does."""
    return bool(_SPARSE_SUMS_EXACT and liquidation_bonus > 0 and np.all(collateral_usd >= 0))


def _bad_debt_pruned(
    path_min: np.ndarray,
    first_hours: Callable[[np.ndarray, np.ndarray], np.ndarray],
    prices_at: Callable[[np.ndarray, np.ndarray], np.ndarray],
    horizon: int,
    collateral_usd: np.ndarray,
    debt_usd: np.ndarray,
    liquidation_threshold: float,
    liquidation_bonus: float,
    liquidation_delay_hours: int,
    liquidated: bool,
) -> BadDebtEstimate:
    """The pairs that can lose, from each path's minimum price; `first_hours(path_index,
    trigger)` is the first hour each pair's running minimum reaches its trigger and
    `prices_at(path_index, hours)` the prices there (module docstring)."""
    # Price multiplier at which each position's HF reaches 1.
    trigger = debt_usd / (collateral_usd * liquidation_threshold)
    shape = (len(path_min), len(debt_usd))
    losing = None if liquidated else _losing_pairs(path_min, trigger, collateral_usd, debt_usd, liquidation_bonus)
    if losing is None:
        rows, cols = _positions_reached(path_min, trigger)
        can_lose = debt_usd[cols] > collateral_usd[cols] * path_min[rows] / liquidation_bonus
        losing = rows[can_lose], cols[can_lose]
    path_index, position_index = losing
    shortfall = np.zeros(0)
    if len(path_index):
        first = first_hours(path_index, trigger[position_index])
        execute_at = np.minimum(first + liquidation_delay_hours, horizon)
        execution_price = prices_at(path_index, execute_at)
        recoverable = collateral_usd[position_index] * execution_price / liquidation_bonus
        shortfall = np.maximum(debt_usd[position_index] - recoverable, 0.0)
    per_path = _row_sums(path_index, position_index, shortfall, shape)
    if not len(path_index) and not liquidated:  # no path loses: mean and quantile of zeros
        return BadDebtEstimate(0.0, 0.0, float("nan"))
    liquidated_mean = float(_row_sums(rows, cols, debt_usd[cols], shape).mean()) if liquidated else float("nan")
    return BadDebtEstimate(float(per_path.mean()), quantile(per_path, 0.95), liquidated_mean)


# A log price above a path's lowest by more than this is not its lowest price: np.exp is
# within a few ULP (relative 1e-15) of exp in every implementation numpy dispatches to, a
# million times less than this margin, and exp rises by the factor e^margin over it.
_LOWEST_LOG_MARGIN = 1e-9
_EXP_SAFE_LOG = 700.0  # |log| under this: exp neither overflows nor goes subnormal


def path_minimum(log_by_hour: np.ndarray) -> np.ndarray:
    """Each path's lowest price, `running_minimum(np.exp(log_by_hour).T)[:, -1]` bit for bit,
    with one exp a path: that of its lowest log value. Any other hour's log is either more
    than `_LOWEST_LOG_MARGIN` above it, so its price (as np.exp computes it) is above the
    lowest one's, or within it: a path with such a near tie takes the minimum of all its
    prices. NaN or extreme logs: all prices."""
    lowest = log_by_hour.min(axis=0)
    if not np.all(np.abs(lowest) < _EXP_SAFE_LOG):
        return np.exp(log_by_hour).min(axis=0)
    minimum = np.exp(lowest)
    near = log_by_hour <= lowest + _LOWEST_LOG_MARGIN
    # Counted in 16 bits (a few times faster than count_nonzero along the hours; exact below
    # 65,535 hours).
    counts = near.sum(axis=0, dtype=np.uint16) if near.shape[0] < 65_535 else near.sum(axis=0)
    tied = np.flatnonzero(counts > 1)
    if len(tied):
        minimum[tied] = np.exp(log_by_hour[:, tied]).min(axis=0)
    return minimum


def _first_hour_on_log_paths(log_by_hour: np.ndarray, path_index: np.ndarray, trigger: np.ndarray) -> np.ndarray:
    """`_first_hour_at_or_below` on the running minimum of np.exp(log_by_hour).T, reading
    prices only on the paths of the pairs not already at or under their trigger at hour 0
    (their whole running minimum, for the search)."""
    first = np.zeros(len(path_index), dtype=np.int64)
    later = np.flatnonzero(np.exp(log_by_hour[0, path_index]) > trigger)
    if len(later):
        paths, place = np.unique(path_index[later], return_inverse=True)
        first[later] = _first_hour_at_or_below(running_minimum(np.exp(log_by_hour[:, paths]).T), place,
                                               trigger[later])
    return first


def _bad_debt_dense(
    price_paths: np.ndarray, collateral_usd: np.ndarray, debt_usd: np.ndarray, liquidation_threshold: float,
    liquidation_bonus: float, liquidation_delay_hours: int,
) -> BadDebtEstimate:
    """Every hour against every position: for inputs where the pruning's premise (collateral
    not negative, bonus positive) does not hold."""
    trigger = debt_usd / (collateral_usd * liquidation_threshold)
    horizon = price_paths.shape[1] - 1
    crossed = price_paths[:, :, None] <= trigger[None, None, :]
    ever = crossed.any(axis=1)
    first = np.where(ever, crossed.argmax(axis=1), horizon)
    execute_at = np.minimum(first + liquidation_delay_hours, horizon)
    execution_price = np.take_along_axis(price_paths, execute_at, axis=1)
    recoverable = collateral_usd[None, :] * execution_price / liquidation_bonus
    shortfall = np.where(ever, np.maximum(debt_usd[None, :] - recoverable, 0.0), 0.0)
    per_path = shortfall.sum(axis=1)
    liquidated = np.where(ever, debt_usd[None, :], 0.0).sum(axis=1)
    return BadDebtEstimate(float(per_path.mean()), quantile(per_path, 0.95), float(liquidated.mean()))


def synthetic_population(total_debt_usd: float, liquidation_threshold: float, count: int,
                         seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A borrower population when none is given: health factors log-normal around 1.6 with a
    tail near 1 (as seen in Aave v2 snapshots), debts Pareto-sized; collateral implied by HF."""
    rng = np.random.default_rng(seed)
    health = 1.0 + rng.lognormal(mean=np.log(0.5), sigma=0.8, size=count)
    sizes = rng.pareto(1.5, size=count) + 1.0
    debt = total_debt_usd * sizes / sizes.sum()
    collateral = debt * health / liquidation_threshold
    return collateral, debt
