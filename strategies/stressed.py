"""Through-the-cycle targets: a stressed volatility floor and slow loosening.

Current-volatility targets loosen in calm weeks and are loosest when a crash starts (Basel
2.5's reason for a stressed VaR). Here the volatility a collateral target is computed at is
the largest of
- the current forecast,
- the stress record: the highest realized hourly volatility over any `stress_window_hours`
  window (12 months, Basel's stress period) in the asset's history before the decision,
  computed once by `backtests/stress_calibration.py` from the bundled history and stored in
  the versioned strategy config as the dated steps of its running maximum (a backtest on a
  date sees only the records set before it),
- the realized volatility of the decision's own input window (a stress newer than the stored
  records counts from the day it happens, until governance refreshes the records).
Targets fall with volatility, so this is the tighter of the current and the stressed target.
Loosening needs `calm_days` days in a row without stress and moves at most a share of the
steward's bound per step; tightening may use the whole bound. An asset whose history does not
yet hold one whole stress window has no through-the-cycle evidence (its calmest months may be
all there is): it is never loosened, only tightened, until it does.

Pure functions of their arguments: no clock, no I/O."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from strategies.params import Param

HOURS_PER_DAY = 24
# Raising any of these lets more risk in; lowering the bonus does too (liquidations pay less).
LOOSENS_UPWARD = frozenset({Param.LTV, Param.LIQUIDATION_THRESHOLD, Param.SUPPLY_CAP, Param.BORROW_CAP})
LOOSENS_DOWNWARD = frozenset({Param.LIQUIDATION_BONUS})


@dataclass(frozen=True)
class StressRecord:
    """From `window_end_s` on, the asset's history holds a window with this realized hourly
    volatility (the running maximum steps up at these times)."""

    window_end_s: int
    hourly_sigma: float


def stress_records(timestamps_s: np.ndarray, returns: np.ndarray, window_hours: int,
                   min_increase: float = 0.01) -> tuple[StressRecord, ...]:
    """The dated steps of the running maximum of rolling realized volatility sqrt(mean r^2)
    over `window_hours` consecutive hourly returns; `timestamps_s[i]` is the end of return i.
    A step is kept when it beats the last kept one by `min_increase` (relative), so between
    steps the running maximum is at most that much above the stored value."""
    if len(timestamps_s) != len(returns):
        raise ValueError(f"{len(timestamps_s)} timestamps but {len(returns)} returns")
    if window_hours < 1:
        raise ValueError(f"stress window must be at least one hour, got {window_hours}")
    if len(returns) < window_hours:
        return ()
    cumulative = np.concatenate([[0.0], np.cumsum(np.asarray(returns, dtype=float) ** 2)])
    sigma = np.sqrt((cumulative[window_hours:] - cumulative[:-window_hours]) / window_hours)
    ends = np.asarray(timestamps_s)[window_hours - 1:]
    records: list[StressRecord] = []
    best = 0.0
    for end_s, value in zip(ends, sigma):
        if value > best * (1 + min_increase) and value > 0:
            records.append(StressRecord(int(end_s), float(value)))
            best = float(value)
    return tuple(records)


def recorded_sigma(records: tuple[StressRecord, ...], as_of_s: int) -> float | None:
    """The stored stress volatility a decision at `as_of_s` may know: the highest record whose
    window had ended by then (None before the first)."""
    known = [r.hourly_sigma for r in records if r.window_end_s <= as_of_s]
    return max(known) if known else None


def covers_stress_window(records: tuple[StressRecord, ...], peg_history_start_s: int | None, as_of_s: int,
                         stress_window_hours: int) -> bool:
    """Whether the asset's history before `as_of_s` holds one whole stress window: a stress
    record has been set by then (the first is set when the first window ends), or, for a
    pegged asset, its peg history started at least `stress_window_hours` before."""
    if recorded_sigma(records, as_of_s) is not None:
        return True
    return peg_history_start_s is not None and as_of_s - peg_history_start_s >= stress_window_hours * 3_600


def window_sigma(returns: np.ndarray, min_hours: int) -> float | None:
    """Realized hourly volatility of the whole input window (None when shorter than
    `min_hours`: too little to call a stress)."""
    if len(returns) < min_hours:
        return None
    return float(math.sqrt(np.mean(np.asarray(returns, dtype=float) ** 2)))


@dataclass(frozen=True)
class StressedSigma:
    """The volatility targets are computed at, and which of the three set it."""

    hourly_sigma: float
    source: str  # "current", "stress record" or "input window"
    current: float
    recorded: float | None
    window: float | None


def through_the_cycle_sigma(current_sigma: float, records: tuple[StressRecord, ...], as_of_s: int,
                            window_returns: np.ndarray, min_window_hours: int = 24 * 30) -> StressedSigma:
    """max(current forecast, stress record before as_of, realized volatility of the input
    window). Ties go to the earlier of that order."""
    if not math.isfinite(current_sigma) or current_sigma < 0:
        raise ValueError(f"current volatility must be a finite non-negative number, got {current_sigma}")
    recorded = recorded_sigma(records, as_of_s)
    window = window_sigma(window_returns, min_window_hours)
    candidates = [("current", current_sigma), ("stress record", recorded), ("input window", window)]
    source, value = max(((name, v) for name, v in candidates if v is not None), key=lambda item: item[1])
    return StressedSigma(value, source, current_sigma, recorded, window)


def is_stressed(prices: np.ndarray, drawdown_limit: float, volatility_ratio_limit: float) -> bool:
    """The risk gate's stress signal on prices up to now (hourly): a drawdown from the 7-day
    high beyond `drawdown_limit`, or the last 24 h's volatility above
    `volatility_ratio_limit` x the median daily volatility of the 30 days before."""
    prices = np.asarray(prices, dtype=float)
    week = prices[-HOURS_PER_DAY * 7:]
    if 1 - week[-1] / week.max() > drawdown_limit:
        return True
    returns = np.diff(np.log(prices[-HOURS_PER_DAY * 31 - 1:]))
    if len(returns) < 2 * HOURS_PER_DAY:
        return False
    recent = returns[-HOURS_PER_DAY:].std()
    earlier = returns[:-HOURS_PER_DAY]
    days = len(earlier) // HOURS_PER_DAY
    daily = earlier[len(earlier) - days * HOURS_PER_DAY:].reshape(days, HOURS_PER_DAY).std(axis=1)
    baseline = float(np.median(daily))
    return baseline > 0 and recent > volatility_ratio_limit * baseline


def calm_days(prices: np.ndarray, lookback_days: int, drawdown_limit: float, volatility_ratio_limit: float) -> int:
    """How many of the last `lookback_days` daily checkpoints (now, 24 h ago, ...) in a row
    were free of stress, counting back from now; a decision can loosen only after a run."""
    prices = np.asarray(prices, dtype=float)
    stressed_at = _CheckpointStress(prices, lookback_days, drawdown_limit, volatility_ratio_limit)
    run = 0
    for day in range(lookback_days):
        end = len(prices) - day * HOURS_PER_DAY
        if end < HOURS_PER_DAY * 7 or stressed_at(end):
            break
        run += 1
    return run


class _CheckpointStress:
    """`is_stressed(prices[:end], ...)` for the daily checkpoints of `calm_days`, whose windows
    overlap: the log returns and the 24-hour standard deviations (days end at the
    checkpoints, so each day is a row shared by several) are computed once, each by the same
    operations on the same values as in the checkpoint's own call (an elementwise log and
    difference; numpy's std of a row is the std of those 24 values alone)."""

    def __init__(self, prices: np.ndarray, checkpoints: int, drawdown_limit: float,
                 volatility_ratio_limit: float) -> None:
        self.prices, self.drawdown_limit, self.volatility_ratio_limit = prices, drawdown_limit, volatility_ratio_limit
        # is_stressed looks at prices[end - 24 x 31 - 1 : end]; the earliest checkpoint's start:
        self.first = max(len(prices) - HOURS_PER_DAY * (max(checkpoints, 1) - 1) - HOURS_PER_DAY * 31 - 1, 0)
        self.returns = np.diff(np.log(prices[self.first:]))  # returns[i] ends at prices[first + i + 1]
        days = len(self.returns) // HOURS_PER_DAY  # rows end at the last price, 24 h before, ...
        self.daily_std = (self.returns[len(self.returns) - days * HOURS_PER_DAY:].reshape(days, HOURS_PER_DAY)
                          .std(axis=1))
        # `_median_of_few`'s checks (no NaN, no signed zero) made once: each checkpoint's days
        # are a slice of these rows, so a slice of a list that passed them passes them.
        self.daily_listed = self.daily_std.tolist() if _plain_for_median(self.daily_std) else None

    def __call__(self, end: int) -> bool:
        week = self.prices[max(end - HOURS_PER_DAY * 7, 0):end]
        if 1 - week[-1] / week.max() > self.drawdown_limit:
            return True
        start = max(end - HOURS_PER_DAY * 31 - 1, 0)  # the window's first price
        count = end - start - 1  # its returns
        if count < 2 * HOURS_PER_DAY:
            return False
        # Row k of daily_std (from the last) is the day ending k days before the last price.
        day_of_end = (len(self.prices) - end) // HOURS_PER_DAY
        rows = len(self.daily_std)
        recent = self.daily_std[rows - 1 - day_of_end]
        earlier_days = (count - HOURS_PER_DAY) // HOURS_PER_DAY
        days = slice(rows - 1 - day_of_end - earlier_days, rows - 1 - day_of_end)
        baseline = (_middle_of(self.daily_listed[days]) if self.daily_listed is not None and earlier_days > 0
                    else _median_of_few(self.daily_std[days]))
        return baseline > 0 and recent > self.volatility_ratio_limit * baseline


def _median_of_few(values: np.ndarray) -> float:
    """float(np.median(values)) for a few (30) values without NaN or signed zeros' doubt,
    with a Python sort instead of numpy's partition and its per-call overhead: numpy's
    median is the middle order statistic, or the mean of the two, (a + b) / 2 in float64,
    the very operations below. NaN, -0.0 or no values: numpy's own."""
    if len(values) == 0 or not _plain_for_median(values):
        return float(np.median(values))
    return _middle_of(values.tolist())


def _plain_for_median(values: np.ndarray) -> bool:
    """No NaN and no signed zero: `_middle_of` is numpy's median of such values."""
    return not (np.isnan(values).any() or (np.signbit(values) & (values == 0)).any())


def _middle_of(listed: list[float]) -> float:
    """The middle value of a non-empty list, or the mean (a + b) / 2 of the two middle ones."""
    listed = sorted(listed)
    middle = len(listed) // 2
    return listed[middle] if len(listed) % 2 else (listed[middle - 1] + listed[middle]) / 2


def loosens(param: Param, current: int, target: int) -> bool:
    return (param in LOOSENS_UPWARD and target > current) or (param in LOOSENS_DOWNWARD and target < current)


def step_shares(current: dict[Param, int], targets: dict[Param, int], loosening_share: float) -> dict[Param, float]:
    """`max_step_share` for `bounds.project`: the loosening moves get `loosening_share` of the
    bound, tightening moves are not listed (the whole bound)."""
    if not 0 < loosening_share <= 1:
        raise ValueError(f"loosening share must be in (0, 1], got {loosening_share}")
    return {p: loosening_share for p, v in targets.items() if loosens(p, current[p], v)}


MARGINED = (Param.LTV, Param.LIQUIDATION_THRESHOLD, Param.LIQUIDATION_BONUS)


def loosening_margin(current: dict[Param, int], targets: dict[Param, int], margin_bps: int) -> dict[Param, int]:
    """Targets with every loosening of LTV, LT and bonus aimed `margin_bps` short of the
    target, never past the value in force: LT in force 7,400, target 7,430, margin 50 -> 7,400
    (hold); target 7,480 -> 7,430; target 7,300 -> 7,300 (tightening, untouched). The value in
    force then stays within the margin below a target that wanders less than the margin."""
    aimed = dict(targets)
    for param in MARGINED:
        if param not in targets or not loosens(param, current[param], targets[param]):
            continue
        if param in LOOSENS_UPWARD:
            aimed[param] = max(current[param], targets[param] - margin_bps)
        else:
            aimed[param] = min(current[param], targets[param] + margin_bps)
    return aimed


def hold_loosening(current: dict[Param, int], targets: dict[Param, int]) -> dict[Param, int]:
    """Targets with every loosening move replaced by the value in force (no calm run yet)."""
    return {p: (current[p] if loosens(p, current[p], v) else v) for p, v in targets.items()}
