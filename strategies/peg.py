"""Peg model for assets that track another (USDC, DAI, USDT, UST track the dollar; stETH
tracks ETH): most of the time small noise around the peg, rarely a depeg jump.

- Deviation: price / peg - 1, as the trailing median of the last `median_hours` hourly prints.
  A lone aggregator print 1-2.5% off (common in the CoinGecko stablecoin series) moves one
  print; a median of three ignores it, a depeg that lasts hours does not go away.
- Depeg events: the deviation below -threshold for `min_points` points in a row; the event
  ends when it is back above -threshold/2 for `recovery_points` points. Severity = the
  deepest deviation in the event.
- Jump component: depegs arrive as a Poisson process, intensity (n + 1/2) / T per year from
  the asset's own n events over T years of history (the Jeffreys prior: a young asset with no
  event yet is not treated as safe); severities are drawn from every pegged asset's finished
  events (few per asset, so pooled).
- The h-hour drop is the mixture: with probability p = 1 - exp(-intensity x h / 8760) a jump
  of a pooled severity, else a draw of the noise (past h-hour drops of the filtered price in
  the decision window); VaR and ES are exact on that discrete mixture.
- The source check tells a depeg (oracle and second source both off the peg, the oracle for
  hours) from manipulation (one source moves): manipulation holds, a depeg tightens.

Pure functions; calibration data (events) comes in from the strategy config."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

HOURS_PER_YEAR = 8_760
SECONDS_PER_YEAR = 365 * 86_400


def peg_deviation(prices: np.ndarray, peg_prices: np.ndarray | float = 1.0, median_points: int = 3) -> np.ndarray:
    """Trailing median over `median_points` of price / peg - 1 (causal: point i uses i and the
    points before it; the first points use what there is)."""
    ratio = np.asarray(prices, dtype=float) / np.asarray(peg_prices, dtype=float) - 1.0
    if median_points < 1:
        raise ValueError(f"median needs at least one point, got {median_points}")
    if len(ratio) == 0 or median_points == 1:
        return ratio
    padded = np.concatenate([np.full(median_points - 1, np.nan), ratio])
    windows = np.lib.stride_tricks.sliding_window_view(padded, median_points)
    return np.nanmedian(windows, axis=1)


@dataclass(frozen=True)
class DepegEvent:
    """One depeg: from `start_s` (first point of the run below -threshold) to `end_s` (first
    point of the recovery, or the last point seen while it lasts); `severity` is the deepest
    fall below the peg, a positive fraction."""

    start_s: int
    end_s: int
    severity: float
    finished: bool = True


def depeg_events(timestamps_s: np.ndarray, deviation: np.ndarray, threshold: float, min_points: int,
                 recovery_points: int) -> tuple[DepegEvent, ...]:
    """Runs of at least `min_points` points below -threshold, each ending once the deviation
    stays above -threshold/2 for `recovery_points` points."""
    if not 0 < threshold < 1:
        raise ValueError(f"depeg threshold must be in (0, 1), got {threshold}")
    if len(timestamps_s) != len(deviation):
        raise ValueError(f"{len(timestamps_s)} timestamps but {len(deviation)} deviations")
    below = np.asarray(deviation) < -threshold
    recovered = np.asarray(deviation) >= -threshold / 2
    events: list[DepegEvent] = []
    i, n = 0, len(below)
    while i < n:
        if not below[i]:
            i += 1
            continue
        run = i
        while run < n and below[run]:
            run += 1
        if run - i < min_points:
            i = run
            continue
        start, j, streak = i, i, 0
        while j < n and streak < recovery_points:
            streak = streak + 1 if recovered[j] else 0
            j += 1
        finished = streak >= recovery_points
        end_index = j - recovery_points if finished else n - 1
        severity = float(-np.min(deviation[start:end_index + 1]))
        events.append(DepegEvent(int(timestamps_s[start]), int(timestamps_s[end_index]), severity, finished))
        i = j
    return tuple(events)


@dataclass(frozen=True)
class PegCalibration:
    """What the strategy config holds for one pegged asset: what it tracks ("USD" or the
    symbol of the asset), the depeg threshold (above its routine noise), where its history
    starts, and the depeg events found in it (backtests/peg_calibration.py)."""

    peg: str
    depeg_threshold: float
    history_start_s: int
    events: tuple[DepegEvent, ...] = ()


@dataclass(frozen=True)
class JumpModel:
    intensity_per_year: float
    severities: tuple[float, ...]

    def probability(self, horizon_hours: float) -> float:
        return float(-math.expm1(-self.intensity_per_year * horizon_hours / HOURS_PER_YEAR))


def fit_jump_model(own: PegCalibration, pooled_events: tuple[DepegEvent, ...], as_of_s: int,
                   fallback_severity: float) -> JumpModel:
    """Intensity from the asset's own events that started by `as_of_s` over its history so
    far (Jeffreys: (n + 1/2) / T); severities of every finished event known by then, or
    `fallback_severity` when none is."""
    years = (as_of_s - own.history_start_s) / SECONDS_PER_YEAR
    if years <= 0:
        raise ValueError(f"history starts at {own.history_start_s}, not before the decision at {as_of_s}")
    count = sum(1 for e in own.events if e.start_s <= as_of_s)
    severities = tuple(sorted(e.severity for e in pooled_events if e.finished and e.end_s <= as_of_s))
    return JumpModel((count + 0.5) / years, severities or (fallback_severity,))


@dataclass(frozen=True)
class MixtureTail:
    """VaR and expected shortfall of the h-hour drop (fractions) and the jump probability."""

    var_drop: float
    es_drop: float
    jump_probability: float


def mixture_tail(jump: JumpModel, noise_drops: np.ndarray, horizon_hours: float, confidence: float) -> MixtureTail:
    """Exact VaR/ES of the discrete mixture: each severity has mass p/m, each noise drop
    (1 - p)/k. Sorted from the worst, the tail is the first 1 - confidence of mass (the atom
    at the edge counted in part); VaR is the loss at that edge. No calm window in the sample
    (a depeg fills it): the noise is a point at 0 and the depeg state decides."""
    noise = np.asarray(noise_drops, dtype=float)
    if len(noise) == 0:
        noise = np.zeros(1)
    p = jump.probability(horizon_hours)
    losses = np.concatenate([np.asarray(jump.severities, dtype=float), noise])
    masses = np.concatenate([np.full(len(jump.severities), p / len(jump.severities)), np.full(len(noise), (1 - p) / len(noise))])
    order = np.argsort(-losses, kind="stable")
    losses, masses = losses[order], masses[order]
    tail_mass = 1 - confidence
    taken = np.minimum(masses, np.maximum(tail_mass - np.concatenate([[0.0], np.cumsum(masses)[:-1]]), 0.0))
    edge = int(np.argmax(np.cumsum(masses) >= tail_mass - 1e-15))
    return MixtureTail(float(losses[edge]), float(np.sum(taken * losses) / tail_mass), p)


def noise_drops(filtered_prices: np.ndarray, peg_prices: np.ndarray | float, horizon_hours: int,
                depeg_threshold: float) -> np.ndarray:
    """Past h-hour drops 1 - P(t + h) / P(t) of the filtered price, one per start hour, leaving
    out windows that start or end in a depeg (those are the jump part, not noise)."""
    prices = np.asarray(filtered_prices, dtype=float)
    if len(prices) <= horizon_hours:
        return np.zeros(0)
    deviation = prices / np.asarray(peg_prices, dtype=float) - 1
    calm = deviation >= -depeg_threshold
    keep = calm[horizon_hours:] & calm[:-horizon_hours]
    return (1 - prices[horizon_hours:] / prices[:-horizon_hours])[keep]


def in_depeg(deviation: np.ndarray, threshold: float, min_points: int) -> bool:
    """The last `min_points` filtered deviations are all below -threshold: a depeg is on."""
    recent = np.asarray(deviation)[-min_points:]
    return len(recent) == min_points and bool(np.all(recent < -threshold))


@dataclass(frozen=True)
class SourceVerdict:
    """`kind`: "consistent"; "manipulation" or "unconfirmed" (hold); "depeg" (tighten LTV, LT
    and caps at the full bound)."""

    kind: str
    reason: str


def source_verdict(oracle_deviation: float, reference_deviation: float | None, depeg_threshold: float,
                   max_disagreement: float, oracle_depeg_confirmed: bool) -> SourceVerdict:
    """Oracle vs second source, both as deviations from the peg (the oracle's filtered).

    Both below -threshold is a depeg, however far apart they are (in a real depeg the DEX
    leads and the oracle lags), once the oracle has been off for hours
    (`oracle_depeg_confirmed`); before that, hold and wait. One below and the other at the peg
    is one source moving: manipulation. Neither off the peg but apart by more than
    `max_disagreement`: manipulation. Without a second source the oracle's confirmed depeg is
    a depeg."""
    oracle_off = oracle_deviation < -depeg_threshold
    reference_off = reference_deviation is not None and reference_deviation < -depeg_threshold
    if oracle_off and (reference_off or reference_deviation is None):
        if not oracle_depeg_confirmed:
            return SourceVerdict("unconfirmed", f"oracle {oracle_deviation:+.1%} off its peg; waiting for it to last")
        second = "no second source" if reference_deviation is None else f"second source {reference_deviation:+.1%}"
        return SourceVerdict("depeg", f"oracle {oracle_deviation:+.1%} off its peg for hours, {second}: depeg")
    if reference_deviation is None:
        return SourceVerdict("consistent", "no second source")
    if oracle_off or reference_off:
        moved = "oracle" if oracle_off else "second source"
        return SourceVerdict("manipulation", f"only the {moved} is off the peg (oracle {oracle_deviation:+.1%}, "
                                             f"second source {reference_deviation:+.1%}); possible manipulation")
    disagreement = abs((1 + oracle_deviation) / (1 + reference_deviation) - 1)
    if disagreement > max_disagreement:
        return SourceVerdict("manipulation", f"oracle is {disagreement:.1%} away from the second source; possible manipulation")
    return SourceVerdict("consistent", "sources agree")
