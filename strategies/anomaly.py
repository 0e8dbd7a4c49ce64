"""The input guard: refuse to act on data that looks wrong, and say why.

Robust statistics only (median and MAD of returns), so the guard itself cannot be moved by
the outliers it looks for. A hold is not an error: the strategy proposes nothing for that
asset and states the reason."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from strategies.types import AssetHistory


@dataclass(frozen=True, kw_only=True)
class AnomalyGuard:
    max_staleness_s: int = 3 * 3_600
    min_history_hours: int = 24 * 14
    max_gap_s: int = 26 * 3_600
    jump_robust_sigmas: float = 15.0
    min_jump_fraction: float = 0.10
    max_reference_deviation: float = 0.05

    def check(self, asset: AssetHistory, as_of_s: int) -> str | None:
        """None when the asset's data can be used, else the reason to hold."""
        prices = asset.prices_usd
        times = asset.timestamps_s
        if len(prices) == 0:
            return "empty price history"
        if len(prices) != len(times):
            return f"{len(prices)} prices but {len(times)} timestamps"
        if any(not math.isfinite(p) for p in prices):
            return "price history contains NaN or infinite values"
        if any(p <= 0 for p in prices):
            return f"oracle reported a zero or negative price ({min(prices)})"
        if any(b <= a for a, b in zip(times, times[1:])):
            return "timestamps are not strictly increasing"
        if times[-1] > as_of_s:
            return "history extends past the decision time"
        if as_of_s - times[-1] > self.max_staleness_s:
            return f"stale price: last update {(as_of_s - times[-1]) / 3600:.1f} h before the decision"
        if times[-1] - times[0] < self.min_history_hours * 3_600:
            return f"only {(times[-1] - times[0]) / 3600:.0f} h of history; {self.min_history_hours} h needed"
        recent = np.asarray(times[-self.min_history_hours :])
        if np.max(np.diff(recent)) > self.max_gap_s:
            return f"gap of {np.max(np.diff(recent)) / 3600:.0f} h in the recent history"
        returns = np.diff(np.log(np.asarray(prices[-24 * 30 :])))
        if len(returns) >= 24:
            last = returns[-1]
            mad_sigma = 1.4826 * float(np.median(np.abs(returns[:-1] - np.median(returns[:-1]))))
            if abs(last) > max(self.jump_robust_sigmas * mad_sigma, math.log1p(self.min_jump_fraction)):
                return (
                    f"last price moved {math.expm1(last):+.1%} in one step "
                    f"({abs(last) / max(mad_sigma, 1e-12):.0f} robust sigmas); waiting for confirmation"
                )
        if asset.reference_price_usd is not None:
            if asset.reference_price_usd <= 0 or not math.isfinite(asset.reference_price_usd):
                return "reference price source reported a zero, negative or invalid price"
            deviation = abs(prices[-1] / asset.reference_price_usd - 1)
            if deviation > self.max_reference_deviation:
                return f"oracle price is {deviation:.1%} away from the reference source; possible manipulation"
        return None
