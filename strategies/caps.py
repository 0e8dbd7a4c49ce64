"""Supply and borrow caps from liquidation capacity and demand (the Chaos Labs approach).

The capacity is the largest supply whose stress liquidations (collateral of the positions a
stress drop pushes under HF 1) can be sold into the available depth within the slippage
limit in `liquidation_hours`; for borrows, the capacity times the optimal usage. Caps are
raised only when usage reaches a share of the cap, by bounded steps, never above the
capacity, and lowered to the capacity when the depth falls (`cap_target`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

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


def capacity_supply_cap_tokens(depth_usd: float, liquidation_hours: float, liquidated_share: float, stress_drop: float,
                               price_usd: float, min_liquidated_share: float, close_factor: float = 0.5) -> int:
    """The largest supply (tokens) whose stress liquidations fit the depth: after a
    `stress_drop`, `liquidated_share` of the supply (at least `min_liquidated_share`, since a
    population seen in a calm week understates who borrows in the next) is liquidated at the
    close factor, and the market absorbs `depth_usd` an hour for `liquidation_hours`:
    supply x price x (1 - drop) x share x close factor <= depth x hours."""
    if price_usd <= 0 or not 0 <= stress_drop < 1:
        raise ValueError(f"need a positive price and a drop in [0, 1), got {price_usd} and {stress_drop}")
    per_token_usd = price_usd * (1 - stress_drop) * max(liquidated_share, min_liquidated_share) * close_factor
    return max(int(depth_usd * liquidation_hours / per_token_usd), 1)


@dataclass(frozen=True)
class CapTarget:
    tokens: int
    reason: str


def cap_target(current_cap_tokens: int, usage_tokens: float, capacity_tokens: int, raise_usage_share: float,
               max_raise_share: float) -> CapTarget:
    """Chaos Labs' practice: above the liquidation capacity, lower to it (the depth fell or the
    stress grew); else raise only when usage has reached `raise_usage_share` of the cap, by at
    most `max_raise_share` (the steward's relative bound) and never above the capacity; else
    keep. A cap of 0 (Aave: no cap) is treated as unlimited, so the capacity becomes the cap."""
    if not 0 < raise_usage_share <= 1 or max_raise_share < 0:
        raise ValueError(f"raise share must be in (0, 1] and the step non-negative, got {raise_usage_share}, {max_raise_share}")
    if current_cap_tokens == 0 or capacity_tokens < current_cap_tokens:
        return CapTarget(capacity_tokens, "liquidation capacity")
    usage_share = usage_tokens / current_cap_tokens
    if usage_share >= raise_usage_share:
        raised = min(int(math.floor(current_cap_tokens * (1 + max_raise_share))), capacity_tokens)
        return CapTarget(raised, f"usage {usage_share:.0%} of the cap")
    return CapTarget(current_cap_tokens, f"usage {usage_share:.0%} of the cap, below {raise_usage_share:.0%}")
