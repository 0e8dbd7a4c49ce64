"""Supply and borrow caps from liquidation capacity (the Chaos Labs approach).

The supply cap is the largest supply whose stress liquidations (collateral of the positions a
stress drop pushes under HF 1) can be sold into the available depth within the slippage
limit in `max_liquidation_hours`. The borrow cap is the supply cap times the optimal usage."""

from __future__ import annotations

import numpy as np


def liquidated_share(collateral_usd: np.ndarray, debt_usd: np.ndarray, threshold: float, drop: float) -> float:
    """Share of the asset's collateral value in positions that a `drop` makes liquidatable."""
    if len(collateral_usd) == 0 or collateral_usd.sum() <= 0:
        return 0.0
    health_after = collateral_usd * (1 - drop) * threshold / debt_usd
    return float(collateral_usd[health_after < 1.0].sum() / collateral_usd.sum())


def supply_cap_usd(depth_usd: float, max_liquidation_hours: float, share: float, drop: float, close_factor: float = 0.5) -> float:
    """Largest supply (USD) whose stress liquidation volume fits the depth over the hours."""
    per_unit_supply = max(share, 0.01) * (1 - drop) * close_factor
    return depth_usd * max_liquidation_hours / per_unit_supply


def chaos_stress_drop(market_cap_usd: float | None, is_stablecoin: bool) -> float:
    """Chaos Labs' stress drop tiers: -50% under $2B, -35% for $2-20B, -15% above and stables."""
    if is_stablecoin or (market_cap_usd is not None and market_cap_usd > 20e9):
        return 0.15
    if market_cap_usd is not None and market_cap_usd >= 2e9:
        return 0.35
    return 0.50
