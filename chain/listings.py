"""What the demo market lists: per reserve its token decimals, starting price, DEX pair and risk
parameters. Parameters come from the registry (`strategies.params.AAVE_V3_OCT_2023`); only the
demo's own choices (decimals as on mainnet, round October-2023 prices, pair sizes) live here."""

from __future__ import annotations

from dataclasses import dataclass

from strategies.params import AAVE_V3_OCT_2023, RiskParams

PRICE_DECIMALS = 8  # Chainlink USD feeds and AaveOracle's base currency unit (1e8 = $1)


@dataclass(frozen=True)
class ReserveListing:
    """One reserve of the demo market.

    `pair_quote` is the other token of the reserve's DEX pair (every bundled pair history is
    against WETH, WETH's own is against USDC); `pair_reserve_usd` sizes the asset's side of
    that pair at deployment (the demo then replays history into it)."""

    symbol: str
    decimals: int
    price_usd_e8: int
    params: RiskParams
    pair_quote: str
    pair_reserve_usd: int = 20_000_000


# Decimals as on Ethereum mainnet; prices are round figures of October 2023.
_DEMO_TOKENS: dict[str, tuple[int, int, str]] = {
    "WETH": (18, 1_600 * 10**PRICE_DECIMALS, "USDC"),
    "WBTC": (8, 27_000 * 10**PRICE_DECIMALS, "WETH"),
    "USDC": (6, 1 * 10**PRICE_DECIMALS, "WETH"),
    "LINK": (18, 7 * 10**PRICE_DECIMALS, "WETH"),
    "CRV": (18, 10**PRICE_DECIMALS // 2, "WETH"),
}


def oct_2023_listings(symbols: tuple[str, ...] | None = None) -> tuple[ReserveListing, ...]:
    """The five reserves with Aave v3 Ethereum's October-2023 parameters (or a subset)."""
    chosen = tuple(AAVE_V3_OCT_2023) if symbols is None else symbols
    listings = []
    for symbol in chosen:
        decimals, price, quote = _DEMO_TOKENS[symbol]
        listings.append(ReserveListing(symbol, decimals, price, AAVE_V3_OCT_2023[symbol], quote))
    return tuple(listings)
