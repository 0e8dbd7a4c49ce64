"""The input guard: refuse to act on data that looks wrong, and say why.

It reads the hourly history the builder made (`strategies.inputs.build_history`) and holds
an asset when: no usable price; the oracle reported zero, negative or NaN prices in the
window; the newest observation (the feed's own `updatedAt`) is older than
`max_staleness_s`; too little history; a gap longer than `max_gap_hours` in the recent
history; the last hour jumped beyond `jump_robust_sigmas` robust sigmas (and
`min_jump_fraction`), waiting for confirmation; or the second price source disagrees by more
than `max_reference_deviation` (for pegged assets the peg model's source check decides:
manipulation holds, a depeg both sources show tightens). Robust statistics only (median and MAD), so the guard itself
cannot be moved by the outliers it looks for. A hold is not an error: the strategy proposes
nothing for that asset and states the reason."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from strategies.config import GuardConfig
from strategies.inputs import HOUR_S, AssetHistory
from strategies.order_statistics import median


def valid_returns(prices_usd: np.ndarray) -> np.ndarray:
    """Hourly log returns between consecutive hours that both have a price (a return that
    would span a gap is left out, never interpolated)."""
    returns = np.diff(np.log(prices_usd))
    return returns[np.isfinite(returns)]


def longest_gap_hours(prices_usd: np.ndarray) -> int:
    missing = np.isnan(prices_usd).astype(np.int8)
    if not missing.any():
        return 0
    edges = np.flatnonzero(np.diff(np.concatenate(([0], missing, [0]))))
    return int(np.max(edges[1::2] - edges[::2]))


@dataclass(frozen=True)
class AnomalyGuard:
    config: GuardConfig

    def check(self, asset: AssetHistory, as_of_s: int, pegged: bool = False) -> str | None:
        """None when the asset's data can be used, else the reason to hold. For a `pegged`
        asset the second source is judged by `strategies.peg.source_verdict` instead (a depeg
        both sources agree on must tighten, not hold)."""
        config = self.config
        prices = asset.prices_usd
        if asset.last_observation_s == 0 or not np.isfinite(prices).any():
            return "empty price history"
        if asset.invalid_observations:
            return (f"oracle reported {asset.invalid_observations} zero, negative or NaN prices "
                    f"(first at {asset.first_invalid_s})")
        staleness = as_of_s - asset.last_observation_s
        if staleness > config.max_staleness_s or math.isnan(prices[-1]):
            return f"stale price: last update {staleness / HOUR_S:.1f} h before the decision"
        first = int(np.flatnonzero(np.isfinite(prices))[0])
        available = len(prices) - first
        if available < config.min_history_hours:
            return f"only {available} h of history; {config.min_history_hours} h needed"
        gap = longest_gap_hours(prices[-config.min_history_hours:])
        if gap > config.max_gap_hours:
            return f"gap of {gap} h in the recent history"
        returns = valid_returns(prices[-24 * 30:])
        if len(returns) >= 24 and np.isfinite(prices[-2]):
            last = returns[-1]
            earlier = returns[:-1]
            mad_sigma = 1.4826 * float(median(np.abs(earlier - median(earlier))))
            if abs(last) > max(config.jump_robust_sigmas * mad_sigma, math.log1p(config.min_jump_fraction)):
                return (
                    f"last price moved {math.expm1(last):+.1%} in one hour "
                    f"({abs(last) / max(mad_sigma, 1e-12):.0f} robust sigmas); waiting for confirmation"
                )
        reference = asset.reference_price_usd
        if reference is not None:
            if not math.isfinite(reference) or reference <= 0:
                return "reference price source reported a zero, negative or invalid price"
            deviation = abs(prices[-1] / reference - 1)
            if deviation > config.max_reference_deviation and not pegged:
                return f"oracle price is {deviation:.1%} away from the reference source; possible manipulation"
        return None
