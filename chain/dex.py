"""Constant-product (Uniswap v2) pair arithmetic: the one place depth and swap output are computed.

Pure functions, no chain access: the reader feeds them the reserves it read.
"""

from __future__ import annotations

UNISWAP_V2_FEE_PER_THOUSAND = 3


def depth_usd(reserve_asset_usd: float, slippage: float) -> float:
    """USD value of the asset that can be sold into a constant-product pair whose asset-side
    reserve is worth `reserve_asset_usd`, before the trade's average price is `slippage` (a
    fraction) below the spot price, fees aside.

    Selling d into reserve x pays y*d/(x+d) against d*y/x at spot: slippage s = d/(x+d), so
    d = x * s / (1 - s)."""
    if not 0.0 < slippage < 1.0:
        raise ValueError(f"slippage must be a fraction in (0, 1), got {slippage}")
    if reserve_asset_usd < 0:
        raise ValueError(f"a reserve cannot be negative, got {reserve_asset_usd}")
    return reserve_asset_usd * slippage / (1.0 - slippage)


def amount_out(amount_in: int, reserve_in: int, reserve_out: int,
               fee_per_thousand: int = UNISWAP_V2_FEE_PER_THOUSAND) -> int:
    """Uniswap v2's `getAmountOut` (raw units): the most a pair pays for `amount_in`."""
    if amount_in <= 0:
        raise ValueError("amount_in must be positive")
    if reserve_in <= 0 or reserve_out <= 0:
        raise ValueError("the pair has no liquidity")
    with_fee = amount_in * (1000 - fee_per_thousand)
    return with_fee * reserve_out // (reserve_in * 1000 + with_fee)
