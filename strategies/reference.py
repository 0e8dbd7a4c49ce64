"""Reference methods to compare against in backtests, behind the same `propose` interface.

- SmartLTV (B.Protocol / Risk DAO): LTV = exp(-c * sigma / sqrt(l / d)) - beta, with sigma
  the daily volatility, l the DEX liquidity, d the debt, beta the liquidation incentive and c
  the confidence; LT keeps the current LT - LTV gap.
- Chaos Labs caps: supply cap so the collateral liquidated in a tiered stress drop can be
  sold into the depth; borrow cap = supply cap x optimal usage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from strategies import caps
from strategies.anomaly import AnomalyGuard
from strategies.bounds import Bounds, Param, project
from strategies.config import default_config
from strategies.inputs import AssetHistory, MarketHistory
from strategies.types import AssetRecommendation, ParamChange, Recommendation, RiskParams, bounds_for
from strategies.anomaly import valid_returns
from strategies.volatility import EwmaVolatility


def _recommend(symbol: str, current: RiskParams, targets: dict[Param, int], bounds: Bounds, now_s: int,
               metrics: dict) -> AssetRecommendation:
    values = current.by_param()
    projection = project(values, targets, bounds, now_s)
    changes = projection.changes
    names = {p.name: v for p, v in targets.items()}
    dropped = {p.name: reason for p, reason in sorted(projection.dropped.items())}
    if not changes:
        return AssetRecommendation(symbol, "hold", "targets within cooldown or bounds", (), names, metrics, dropped)
    return AssetRecommendation(symbol, "update", "reference method target",
                               tuple(ParamChange(p, values[p], v) for p, v in sorted(changes.items())), names, metrics,
                               dropped)


def _propose_each(strategy, history: MarketHistory, current: dict[str, RiskParams], bounds) -> Recommendation:
    """The loop both reference methods share: guard each asset, then ask the method for
    targets and project them into the steward's bounds."""
    per_asset = bounds_for(history, bounds)
    out = []
    for asset in sorted(history.assets, key=lambda a: a.symbol):
        reason = strategy.guard.check(asset, history.as_of_s) if asset.symbol in current else "no current parameters"
        if reason:
            out.append(AssetRecommendation(asset.symbol, "hold", reason))
            continue
        params = current[asset.symbol]
        targets, metrics = strategy.targets(asset, params)
        out.append(_recommend(asset.symbol, params, targets, per_asset[asset.symbol], history.as_of_s, metrics))
    return Recommendation(strategy.name, history.as_of_s, tuple(out))


@dataclass(frozen=True, kw_only=True)
class SmartLtvStrategy:
    name: str = "smart-ltv"
    confidence_c: float = 2.33
    guard: AnomalyGuard = field(default_factory=lambda: AnomalyGuard(default_config().guard))

    def propose(self, history: MarketHistory, current: dict[str, RiskParams], bounds=None) -> Recommendation:
        return _propose_each(self, history, current, bounds)

    def targets(self, asset: AssetHistory, params: RiskParams) -> tuple[dict[Param, int], dict]:
        sigma_daily = EwmaVolatility().forecast_hourly(valid_returns(asset.prices_usd)) * math.sqrt(24)
        debt_usd = max(asset.borrowed_tokens * asset.last_price_usd, 1.0)
        ratio = max(asset.liquidity_depth_usd / debt_usd, 1e-9)
        beta = params.liquidation_bonus_bps / 1e4 - 1
        ltv = math.exp(-self.confidence_c * sigma_daily / math.sqrt(ratio)) - beta
        ltv_bps = int(np.clip(ltv * 1e4, 100, 9_500))
        gap = params.liquidation_threshold_bps - params.ltv_bps
        targets = {Param.LTV: ltv_bps, Param.LIQUIDATION_THRESHOLD: min(ltv_bps + gap, 9_500)}
        return targets, {"daily_volatility": sigma_daily, "liquidity_to_debt": ratio}


@dataclass(frozen=True, kw_only=True)
class ChaosCapStrategy:
    name: str = "chaos-caps"
    max_liquidation_hours: float = 24.0
    guard: AnomalyGuard = field(default_factory=lambda: AnomalyGuard(default_config().guard))

    def propose(self, history: MarketHistory, current: dict[str, RiskParams], bounds=None) -> Recommendation:
        return _propose_each(self, history, current, bounds)

    def targets(self, asset: AssetHistory, params: RiskParams) -> tuple[dict[Param, int], dict]:
        drop = caps.chaos_stress_drop(None, asset.is_stablecoin)
        # Chaos assumes the positions at risk hold about half the supply in a stress drop.
        cap_usd = caps.supply_cap_usd(asset.liquidity_depth_usd, self.max_liquidation_hours, 0.5, drop)
        supply_cap = max(int(cap_usd / asset.last_price_usd), 1)
        targets = {Param.SUPPLY_CAP: supply_cap,
                   Param.BORROW_CAP: max(int(supply_cap * params.optimal_usage_ratio_bps / 1e4), 1)}
        return targets, {"stress_drop": drop}
