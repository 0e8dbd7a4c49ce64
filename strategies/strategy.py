"""The agent's strategy: one `propose(history, current, bounds)` used identically by the
enclave (live), `verify`, shadow mode and backtests, configured by the one measured strategy
config. Pure: no chain, no store, no clock; seeded randomness."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from strategies import caps, collateral, rates
from strategies.anomaly import AnomalyGuard, valid_returns
from strategies.bounds import Bounds, Param, project
from strategies.config import StrategyConfig, default_config
from strategies.inputs import AssetHistory, MarketHistory
from strategies.montecarlo import bad_debt, simulate_paths, synthetic_population
from strategies.types import AssetRecommendation, ParamChange, Recommendation, RiskParams, bounds_for
from strategies.volatility import ewma_sigma_series, select_and_forecast, winsorize


@dataclass(frozen=True, kw_only=True)
class RiskStrategy:
    """Configuration is data (`config`); `propose` is the only method that works."""

    config: StrategyConfig = field(default_factory=default_config)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def guard(self) -> AnomalyGuard:
        return AnomalyGuard(self.config.guard)

    def propose(
        self, history: MarketHistory, current: dict[str, RiskParams], bounds: dict[str, Bounds] | Bounds | None = None
    ) -> Recommendation:
        per_asset_bounds = bounds_for(history, bounds)
        guard = self.guard
        assets = []
        for asset in sorted(history.assets, key=lambda a: a.symbol):
            if asset.symbol not in current:
                assets.append(AssetRecommendation(asset.symbol, "hold", "no current parameters for this asset"))
                continue
            reason = guard.check(asset, history.as_of_s)
            if reason is not None:
                assets.append(AssetRecommendation(asset.symbol, "hold", reason))
                continue
            assets.append(
                self._propose_asset(asset, history, current[asset.symbol], per_asset_bounds.get(asset.symbol, Bounds()))
            )
        for symbol in sorted(set(current) - {a.symbol for a in history.assets}):
            assets.append(AssetRecommendation(symbol, "hold", "asset missing from the market history"))
        return Recommendation(self.name, history.as_of_s, tuple(assets), self.config.config_hash_hex)

    def _positions(self, asset: AssetHistory, history: MarketHistory, threshold: float) -> tuple[np.ndarray, np.ndarray, str]:
        given = history.positions.get(asset.symbol)
        if given is not None and len(given):
            return given.tokens * asset.last_price_usd, given.effective_debt_usd, given.source
        # No position data: a seeded population sized by the asset's share of borrowing power.
        borrowed_against_usd = asset.supplied_tokens * asset.last_price_usd * threshold * 0.5
        if borrowed_against_usd <= 0:
            return np.zeros(0), np.zeros(0), "none"
        seed = self.config.seed + sum(asset.symbol.encode())
        collateral_usd, debt_usd = synthetic_population(borrowed_against_usd, threshold, self.config.montecarlo.synthetic_positions, seed)
        return collateral_usd, debt_usd, "synthetic"

    def _risk_gate(self, prices: np.ndarray, returns: np.ndarray) -> str:
        """ACTIVE, or REDUCING when the market is in stress (then nothing is loosened)."""
        gate = self.config.risk_gate
        week = prices[-24 * 7:]
        drawdown = 1 - week[-1] / np.nanmax(week)
        recent = returns[-24:].std()
        daily = [returns[i - 24:i].std() for i in range(len(returns), max(len(returns) - 24 * 30, 24), -24)]
        baseline = float(np.median(daily)) if daily else recent
        if drawdown > gate.stress_drawdown or (baseline > 0 and recent > gate.stress_volatility_ratio * baseline):
            return "reducing"
        return "active"

    def _propose_asset(
        self, asset: AssetHistory, history: MarketHistory, params: RiskParams, bounds: Bounds
    ) -> AssetRecommendation:
        config = self.config
        c_collateral, c_bonus, c_vol = config.collateral, config.bonus, config.volatility
        returns = valid_returns(asset.prices_usd)
        forecast = select_and_forecast(returns, config.volatility)
        sigma = forecast.hourly_sigma
        # Standardized by the EWMA sigma, from winsorized returns: isolated aggregator spikes
        # (seen on stablecoin prints) must not masquerade as a tail; a real depeg moves sigma.
        standardized = winsorize(returns, c_vol.winsorize_robust_sigmas) / ewma_sigma_series(
            returns, c_vol.ewma_decay_per_hour, c_vol.ewma_warmup_hours, c_vol.winsorize_robust_sigmas)
        tail = collateral.fit_tail(standardized, c_collateral.confidence, config.tail)
        ltv_tail = collateral.fit_tail(standardized, c_collateral.ltv_confidence, config.tail)
        price = asset.last_price_usd
        threshold_now = params.liquidation_threshold_bps / 1e4
        bonus_now = params.liquidation_bonus_bps / 1e4
        collateral_usd, debt_usd, positions_source = self._positions(asset, history, threshold_now)

        # Horizon: how long the depth needs to absorb what a one-day 99% drop liquidates.
        stress_drop_1d = tail.drop_var(sigma, 24)
        stress_share = caps.liquidated_share(collateral_usd, debt_usd, threshold_now, stress_drop_1d)
        stress_liquidation_usd = stress_share * float(collateral_usd.sum()) * (1 - stress_drop_1d)
        absorb_hours = (stress_liquidation_usd / asset.liquidity_depth_usd if asset.liquidity_depth_usd > 0
                        else c_collateral.max_horizon_hours)
        horizon = float(np.clip(1 + absorb_hours, c_collateral.min_horizon_hours, c_collateral.max_horizon_hours))

        var = tail.drop_var(sigma, horizon)
        es = tail.drop_expected_shortfall(sigma, horizon)
        hourly_liquidation_usd = min(stress_liquidation_usd / max(horizon, 1.0), asset.liquidity_depth_usd)
        slippage = collateral.constant_product_slippage(hourly_liquidation_usd, asset.liquidity_depth_usd, c_bonus.depth_slippage)
        bonus_target = int(np.clip(round(1e4 * (1 + slippage) + c_bonus.liquidator_cost_bps), c_bonus.min_bonus_bps,
                                   c_bonus.max_bonus_bps))
        threshold_target = int(np.clip(np.floor(1e4 * (1 - es) / (bonus_target / 1e4)), c_collateral.min_threshold_bps,
                                       c_collateral.max_threshold_bps))
        ltv_drop = ltv_tail.drop_var(sigma, c_collateral.ltv_horizon_hours)
        ltv_target = int(np.floor(threshold_target * (1 - ltv_drop)))

        # Post-update check: a cut that liquidates too much at once is taken in smaller steps.
        immediate = collateral.newly_liquidatable(collateral_usd, debt_usd, threshold_now, threshold_target / 1e4)
        step_target = threshold_target
        split = False
        if (threshold_target < params.liquidation_threshold_bps
                and immediate.share_of_debt > c_collateral.max_new_liquidation_share):
            step_target = collateral.largest_safe_cut(
                collateral_usd, debt_usd, params.liquidation_threshold_bps, threshold_target,
                c_collateral.max_new_liquidation_share,
            )
            split = True

        # Caps from liquidation capacity at the 99% stress drop over the horizon.
        cap_share = caps.liquidated_share(collateral_usd, debt_usd, threshold_now, var)
        supply_cap_usd = caps.supply_cap_usd(asset.liquidity_depth_usd, config.caps.liquidation_hours, cap_share, var)
        supply_cap_tokens = max(int(supply_cap_usd / price), int(asset.supplied_tokens * 1.1), 1)
        borrow_cap_tokens = max(int(supply_cap_tokens * params.optimal_usage_ratio_bps / 1e4), 1)

        targets: dict[Param, int] = {
            Param.LIQUIDATION_THRESHOLD: step_target,
            Param.LTV: min(ltv_target, step_target),
            Param.LIQUIDATION_BONUS: bonus_target,
            Param.SUPPLY_CAP: supply_cap_tokens,
            Param.BORROW_CAP: borrow_cap_tokens,
        }
        recent_utilization = asset.utilization[-24:]
        utilization = float(np.nanmean(recent_utilization)) if np.isfinite(recent_utilization).any() else None
        if utilization is not None:
            rate_at_target = (params.base_variable_borrow_rate_bps + params.variable_rate_slope1_bps) / 1e4
            adapted = rates.adapted_rate_at_target(
                max(rate_at_target, 0.001), utilization, params.optimal_usage_ratio_bps / 1e4,
                config.window.decision_interval_s, config.rates.speed_per_year,
            )
            targets[Param.VARIABLE_RATE_SLOPE1] = max(int(round(adapted * 1e4)) - params.base_variable_borrow_rate_bps, 0)

        current_values = params.by_param()
        gate = self._risk_gate(asset.prices_usd[np.isfinite(asset.prices_usd)], returns)
        if gate == "reducing":
            for param in (Param.LTV, Param.LIQUIDATION_THRESHOLD, Param.SUPPLY_CAP, Param.BORROW_CAP):
                if param in targets:
                    targets[param] = min(targets[param], current_values[param])
        projection = project(current_values, targets, bounds, history.as_of_s, config.min_change())
        changes = projection.changes
        paths = simulate_paths(sigma, int(np.ceil(horizon)), config.montecarlo.paths, config.seed,
                               config.montecarlo.student_dof)
        after = {**current_values, **changes}
        delay = config.montecarlo.liquidation_delay_hours
        debt_now = bad_debt(paths, collateral_usd, debt_usd, threshold_now, bonus_now, delay)
        debt_after = bad_debt(
            paths, collateral_usd, debt_usd, after[Param.LIQUIDATION_THRESHOLD] / 1e4, after[Param.LIQUIDATION_BONUS] / 1e4,
            delay,
        )
        applied = collateral.newly_liquidatable(
            collateral_usd, debt_usd, threshold_now, after[Param.LIQUIDATION_THRESHOLD] / 1e4
        )
        metrics = {
            "hourly_volatility": sigma,
            "volatility_model": forecast.model,
            "horizon_hours": horizon,
            "var_drop": var,
            "expected_shortfall_drop": es,
            "tail_var_sigmas": tail.var_sigmas,
            "tail_es_sigmas": tail.es_sigmas,
            "ltv_buffer_drop": ltv_drop,
            "liquidation_slippage": slippage,
            "liquidity_depth_usd": asset.liquidity_depth_usd,
            "depth_source": asset.depth_source,
            "stress_liquidation_usd": stress_liquidation_usd,
            "utilization": utilization if utilization is not None else (
                asset.borrowed_tokens / asset.supplied_tokens if asset.supplied_tokens else 0.0),
            "positions_source": positions_source,
            "positions": len(debt_usd),
            "bad_debt_current_mean_usd": debt_now.mean_usd,
            "bad_debt_current_var95_usd": debt_now.var95_usd,
            "bad_debt_proposed_mean_usd": debt_after.mean_usd,
            "bad_debt_proposed_var95_usd": debt_after.var95_usd,
            "newly_liquidatable_positions": applied.positions,
            "newly_liquidatable_debt_usd": applied.debt_usd,
            "full_cut_newly_liquidatable_share": immediate.share_of_debt,
            "cut_split_into_steps": split,
            "risk_gate": gate,
            "carried_hours": asset.carried_hours,
            "gaps": len(asset.gaps),
            **{f"oos_rmse_{name}": value for name, value in forecast.oos_errors.items()},
        }
        target_names = {p.name: v for p, v in targets.items()}
        target_names[Param.LIQUIDATION_THRESHOLD.name] = threshold_target
        target_names["LIQUIDATION_THRESHOLD_STEP"] = step_target
        dropped = {p.name: reason for p, reason in sorted(projection.dropped.items())}
        if not changes:
            return AssetRecommendation(asset.symbol, "hold", "targets within dead band, cooldown or bounds", (),
                                       target_names, metrics, dropped)
        change_list = tuple(ParamChange(p, current_values[p], v) for p, v in sorted(changes.items()))
        reason = "move toward risk targets" + ("; threshold cut split to limit immediate liquidations" if split else "")
        return AssetRecommendation(asset.symbol, "update", reason, change_list, target_names, metrics, dropped)
