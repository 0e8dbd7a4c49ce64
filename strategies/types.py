"""Typed inputs and outputs of every strategy. Units are in the names; on-chain quantities are
integers in the pool's units (bps, whole tokens), model quantities are floats."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

from strategies.bounds import Bounds, Param
from strategies.params import RiskParams


@dataclass(frozen=True)
class BorrowerPosition:
    """One borrower: collateral in one asset against stable-valued debt (USD)."""

    collateral_symbol: str
    collateral_tokens: float
    debt_usd: float


@dataclass(frozen=True)
class AssetHistory:
    """What the strategy may know of one asset up to the decision time.

    `liquidity_depth_usd` is how much of the asset can be sold within `depth_slippage_bps`
    (from DEX reserves or order books); `reference_price_usd` is an independent second source
    (a DEX TWAP, another oracle) for the manipulation check, None when there is none."""

    symbol: str
    timestamps_s: tuple[int, ...]
    prices_usd: tuple[float, ...]
    liquidity_depth_usd: float
    supplied_tokens: float = 0.0
    borrowed_tokens: float = 0.0
    utilization_history: tuple[float, ...] = ()
    reference_price_usd: float | None = None
    is_stablecoin: bool = False

    @property
    def last_price_usd(self) -> float:
        return self.prices_usd[-1]


@dataclass(frozen=True)
class MarketHistory:
    """The decision's whole view of the market; `as_of_s` is the time of the decision (the last
    snapshot's block time), the only clock a strategy sees."""

    as_of_s: int
    assets: tuple[AssetHistory, ...]
    positions: tuple[BorrowerPosition, ...] = ()

    def asset(self, symbol: str) -> AssetHistory:
        for asset in self.assets:
            if asset.symbol == symbol:
                return asset
        raise KeyError(symbol)


@dataclass(frozen=True)
class ParamChange:
    param: Param
    current: int
    proposed: int


@dataclass(frozen=True)
class AssetRecommendation:
    """`action` is "update" (changes to sign) or "hold" (nothing, with `reason`)."""

    symbol: str
    action: str
    reason: str
    changes: tuple[ParamChange, ...] = ()
    targets: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)

    def changes_by_param(self) -> dict[Param, int]:
        return {c.param: c.proposed for c in self.changes}


@dataclass(frozen=True)
class Recommendation:
    strategy: str
    as_of_s: int
    assets: tuple[AssetRecommendation, ...]

    def asset(self, symbol: str) -> AssetRecommendation:
        for asset in self.assets:
            if asset.symbol == symbol:
                return asset
        raise KeyError(symbol)

    def to_canonical_json(self) -> bytes:
        return canonical_json(asdict(self))


def _canonical_value(value: object) -> object:
    """Fixed number formatting: floats to 10 significant digits, non-finite as strings."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return float(f"{value:.10g}")
    if isinstance(value, dict):
        return {str(k.name if isinstance(k, Param) else k): _canonical_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical_value(v) for v in value]
    raise TypeError(f"not canonically serializable: {type(value).__name__}")


def canonical_json(value: object) -> bytes:
    """Sorted keys, no whitespace, fixed float formatting: same value, same bytes."""
    return json.dumps(_canonical_value(value), sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def bounds_for(history: MarketHistory, bounds: dict[str, Bounds] | Bounds | None) -> dict[str, Bounds]:
    if bounds is None:
        return {a.symbol: Bounds() for a in history.assets}
    if isinstance(bounds, Bounds):
        return {a.symbol: bounds for a in history.assets}
    return bounds
