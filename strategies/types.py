"""Typed outputs of every strategy (inputs live in `strategies.inputs`). Units are in the
names; on-chain quantities are integers in the pool's units (bps, whole tokens), model
quantities are floats."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

from strategies.bounds import Bounds
from strategies.inputs import AssetHistory, AssetPositions, MarketHistory
from strategies.params import Param, RiskParams

__all__ = [
    "AssetHistory", "AssetPositions", "AssetRecommendation", "MarketHistory", "ParamChange", "Recommendation",
    "RiskParams", "bounds_for", "canonical_json",
]


@dataclass(frozen=True)
class ParamChange:
    param: Param
    current: int
    proposed: int


@dataclass(frozen=True)
class AssetRecommendation:
    """`action` is "update" (changes to sign) or "hold" (nothing, with `reason`). `dropped`
    names every target the steward's bounds did not let through now, and why."""

    symbol: str
    action: str
    reason: str
    changes: tuple[ParamChange, ...] = ()
    targets: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)

    def changes_by_param(self) -> dict[Param, int]:
        return {c.param: c.proposed for c in self.changes}


@dataclass(frozen=True)
class Recommendation:
    """One decision's output. `config_hash` names the strategy config, `inputs_hash` the
    canonical inputs it was computed from (both hex)."""

    strategy: str
    as_of_s: int
    assets: tuple[AssetRecommendation, ...]
    config_hash: str = ""
    inputs_hash: str = ""

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
    if hasattr(value, "item"):  # numpy scalars
        return _canonical_value(value.item())
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
