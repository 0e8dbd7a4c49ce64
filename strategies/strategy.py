"""The agent's strategy: one `propose(history, current, bounds)` used identically by the
enclave (live), `verify`, shadow mode and backtests, configured by the one measured strategy
config. Pure: no chain, no store, no clock; seeded randomness.

Per asset (docs/methodology.md): the volatility is the largest of the forecast, the stress
record and the input window's (through the cycle); the LT covers the expected shortfall over
the liquidation horizon under the risk appetite, with the tail fitted at that horizon; pegged
assets use the peg model; the bonus makes liquidations pay at the depth; caps follow the
liquidation capacity and demand; the whole rate curve is steered to a utilization band.
Loosening waits for a calm run and moves half the bound; a depeg tightens at the full bound."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from strategies import caps, collateral, peg, rates, stressed
from strategies.anomaly import AnomalyGuard, valid_returns
from strategies.bounds import Bounds, Param, project
from strategies.config import StrategyConfig, default_config
from strategies.inputs import AssetHistory, MarketHistory
from strategies.montecarlo import bad_debt_of_log_paths, path_minimum, simulate_log_paths, synthetic_population
from strategies.order_statistics import median
from strategies.params import MAX_CAP_TOKENS
from strategies.types import AssetRecommendation, ParamChange, Recommendation, RiskParams, bounds_for
from strategies.volatility import ewma_sigma_series, select_and_forecast, select_and_forecast_daily, winsorize


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
            reason = guard.check(asset, history.as_of_s, pegged=self.config.peg_calibration(asset.symbol) is not None)
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
        peak = week.max()  # np.nanmax's value unless a NaN is there (max answers NaN then)
        drawdown = 1 - week[-1] / (peak if not math.isnan(peak) else np.nanmax(week))
        # The std of each of the last 30 days, days ending at len, len - 24, ... (as many as
        # end after hour 24): rows of one contiguous slice, each the std of its 24 values as
        # numpy takes it of them alone; the last row is the last 24 hours'.
        count = len(returns)
        days = len(range(count, max(count - 24 * 30, 24), -24)) if count >= 24 else 0
        daily = returns[count - 24 * days:].reshape(days, 24).std(axis=1) if days else np.zeros(0)
        recent = daily[-1] if days else returns[-24:].std()
        baseline = float(median(daily)) if days else recent
        if drawdown > gate.stress_drawdown or (baseline > 0 and recent > gate.stress_volatility_ratio * baseline):
            return "reducing"
        return "active"

    def _peg_view(self, asset: AssetHistory, history: MarketHistory, horizon_hours: int) -> PegView | None:
        """The peg model's view of a pegged asset (config [depegs]); None for the others, and
        for an asset pegged to one the market does not carry (then the volatile tail alone)."""
        calibration = self.config.peg_calibration(asset.symbol)
        if calibration is None:
            return None
        if calibration.peg == "USD":
            peg_prices: np.ndarray | float = asset.peg_usd or 1.0
        else:
            try:
                peg_prices = history.asset(calibration.peg).prices_usd
            except KeyError:
                return None
        c_peg = self.config.peg_model
        finite = np.isfinite(asset.prices_usd) & np.isfinite(peg_prices)
        prices = asset.prices_usd[finite]
        pegs = peg_prices[finite] if isinstance(peg_prices, np.ndarray) else peg_prices
        if len(prices) <= horizon_hours:
            return None
        deviation = peg.peg_deviation(prices, pegs, c_peg.median_hours)
        filtered = (1 + deviation) * pegs
        jump = peg.fit_jump_model(calibration, self.config.pooled_depeg_events(), history.as_of_s, c_peg.fallback_severity)
        appetite = self.config.risk_appetite

        def tail(hours: int, confidence: float) -> peg.MixtureTail:
            noise = peg.noise_drops(filtered, pegs, hours, calibration.depeg_threshold)
            return peg.mixture_tail(jump, noise, hours, confidence)

        depegged = peg.in_depeg(deviation, calibration.depeg_threshold, c_peg.min_points)
        last_peg = float(pegs[-1]) if isinstance(pegs, np.ndarray) else float(pegs)
        reference = asset.reference_price_usd
        verdict = peg.source_verdict(float(deviation[-1]), reference / last_peg - 1 if reference else None,
                                     calibration.depeg_threshold, c_peg.max_disagreement, depegged)
        off_peg = np.flatnonzero(deviation < -calibration.depeg_threshold)
        hours_on_peg = len(deviation) - 1 - int(off_peg[-1]) if len(off_peg) else len(deviation)
        return PegView(calibration.peg, float(deviation[-1]), depegged, verdict, jump,
                       tail(horizon_hours, appetite.lt_confidence), tail(appetite.ltv_horizon_hours, appetite.ltv_confidence),
                       hours_on_peg // 24)

    def _propose_asset(
        self, asset: AssetHistory, history: MarketHistory, params: RiskParams, bounds: Bounds
    ) -> AssetRecommendation:
        config = self.config
        appetite, ttc, c_collateral, c_bonus, c_vol = (config.risk_appetite, config.through_the_cycle, config.collateral,
                                                        config.bonus, config.volatility)
        k = c_vol.winsorize_robust_sigmas
        returns = valid_returns(asset.prices_usd)
        forecast = (select_and_forecast_daily(asset.prices_usd, history.as_of_s, c_vol) if c_vol.selection == "daily"
                    else select_and_forecast(returns, c_vol))
        clipped = winsorize(returns, k)  # once: the EWMA, the input window and the tails winsorize the same returns
        ewma = ewma_sigma_series(returns, c_vol.ewma_decay_per_hour, c_vol.ewma_warmup_hours, k, clipped=clipped)
        # Through the cycle: the largest of the forecast, the stress record before now and the
        # input window's realized volatility (strategies.stressed).
        stressed_sigma = stressed.through_the_cycle_sigma(forecast.hourly_sigma, config.stress_records_of(asset.symbol),
                                                          history.as_of_s, clipped, ttc.min_window_hours)
        sigma = stressed_sigma.hourly_sigma
        price = asset.last_price_usd
        threshold_now = params.liquidation_threshold_bps / 1e4
        bonus_now = params.liquidation_bonus_bps / 1e4
        collateral_usd, debt_usd, positions_source = self._positions(asset, history, threshold_now)
        depth = asset.liquidity_depth_usd

        # Horizon: how long the depth needs to absorb what the stress drop liquidates.
        horizon_tail = collateral.HorizonTails(returns, ewma, config.tail, k, clipped,  # shares work between tails
                                               (appetite.lt_confidence, appetite.ltv_confidence)).fit

        base_tail = horizon_tail(appetite.min_horizon_hours, appetite.lt_confidence)
        stress_drop = base_tail.drop_var(sigma, appetite.min_horizon_hours)
        stress_share = caps.liquidated_share(collateral_usd, debt_usd, threshold_now, stress_drop)
        stress_liquidation_usd = stress_share * float(collateral_usd.sum()) * (1 - stress_drop)
        absorb_hours = stress_liquidation_usd / depth if depth > 0 else appetite.max_horizon_hours
        horizon = int(np.ceil(np.clip(1 + absorb_hours, appetite.min_horizon_hours, appetite.max_horizon_hours)))
        tail = base_tail if horizon == appetite.min_horizon_hours else horizon_tail(horizon, appetite.lt_confidence)
        ltv_tail = horizon_tail(appetite.ltv_horizon_hours, appetite.ltv_confidence)
        var = tail.drop_var(sigma, horizon)
        es = tail.drop_expected_shortfall(sigma, horizon)
        ltv_drop = ltv_tail.drop_var(sigma, appetite.ltv_horizon_hours)

        # Pegged assets: the peg model replaces the volatile tail while the peg holds (a
        # dollar stable's volatility is aggregator noise); once it breaks, the larger of the
        # two. An asset pegged to another (stETH/ETH) carries both: 1 - (1 - vol)(1 - peg).
        peg_view = self._peg_view(asset, history, horizon)
        if peg_view is not None:
            if peg_view.verdict.kind in ("manipulation", "unconfirmed"):
                return AssetRecommendation(asset.symbol, "hold", peg_view.verdict.reason)
            peg_lt, peg_ltv = peg_view.lt_tail, peg_view.ltv_tail
            if peg_view.peg != "USD":
                var, es = 1 - (1 - var) * (1 - peg_lt.var_drop), 1 - (1 - es) * (1 - peg_lt.es_drop)
                ltv_drop = 1 - (1 - ltv_drop) * (1 - peg_ltv.var_drop)
            elif peg_view.depegged:
                var, es, ltv_drop = max(var, peg_lt.var_drop), max(es, peg_lt.es_drop), max(ltv_drop, peg_ltv.var_drop)
            else:
                var, es, ltv_drop = peg_lt.var_drop, peg_lt.es_drop, peg_ltv.var_drop
        depeg = peg_view is not None and peg_view.verdict.kind == "depeg"

        # Bonus: the stress's typical liquidation must pay after slippage at the depth and gas,
        # in the busiest hour of the stress (which carries `peak_hour_share` of its volume).
        hourly_liquidation_usd = stress_liquidation_usd * c_bonus.peak_hour_share
        reference_repay = collateral.reference_repay_usd(collateral_usd, debt_usd, threshold_now, stress_drop)
        bonus = collateral.liquidation_bonus_bps(
            hourly_liquidation_usd, depth, c_bonus.depth_slippage, reference_repay if reference_repay > 0 else math.inf,
            c_bonus.gas_usd_per_liquidation, c_bonus.margin_bps, c_bonus.min_bonus_bps, c_bonus.max_bonus_bps)
        threshold_target = int(np.clip(collateral.threshold_target_bps(es, bonus.bonus_bps, appetite.max_bad_debt_share),
                                       c_collateral.min_threshold_bps, c_collateral.max_threshold_bps))
        ltv_target = collateral.ltv_target_bps(threshold_target, ltv_drop)

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

        # Caps: the liquidation capacity at the stressed ES, raised only on demand.
        c_caps = config.caps
        cap_share = caps.liquidated_share(collateral_usd, debt_usd, threshold_now, es)
        capacity = min(caps.capacity_supply_cap_tokens(depth, c_caps.liquidation_hours, cap_share, min(es, 0.999), price,
                                                       c_caps.min_liquidated_share), MAX_CAP_TOKENS)
        borrow_capacity = max(int(capacity * params.optimal_usage_ratio_bps / 1e4), 1)
        supply_cap = caps.cap_target(params.supply_cap_tokens, asset.supplied_tokens, capacity, c_caps.raise_usage_share,
                                     bounds.limits[Param.SUPPLY_CAP].max_change / 1e4)
        borrow_cap = caps.cap_target(params.borrow_cap_tokens, asset.borrowed_tokens, borrow_capacity,
                                     c_caps.raise_usage_share, bounds.limits[Param.BORROW_CAP].max_change / 1e4)

        targets: dict[Param, int] = {
            Param.LIQUIDATION_THRESHOLD: step_target,
            Param.LTV: min(ltv_target, step_target),
            Param.LIQUIDATION_BONUS: bonus.bonus_bps,
            Param.SUPPLY_CAP: supply_cap.tokens,
            Param.BORROW_CAP: borrow_cap.tokens,
        }
        recent_utilization = asset.utilization[-24:]
        utilization = float(np.nanmean(recent_utilization)) if np.isfinite(recent_utilization).any() else None
        if utilization is not None:
            c_rates = config.rates
            curve = rates.RateCurve.from_params(params)
            kink = min(curve.optimal_usage, rates.optimal_usage_target(
                asset.utilization, c_rates.liquidity_buffer_multiple, c_rates.min_optimal_usage, c_rates.max_optimal_usage))
            steered = rates.steer_curve(curve, utilization, c_rates.band_width, config.window.decision_interval_s,
                                        c_rates.speed_per_year, c_rates.slope2_speed_per_year, c_rates.min_rate_at_kink,
                                        c_rates.max_rate_at_kink, c_rates.min_slope2, c_rates.max_slope2, kink)
            targets.update(steered.targets_bps())

        current_values = params.by_param()
        finite_prices = asset.prices_usd[np.isfinite(asset.prices_usd)]
        if peg_view is not None and peg_view.peg == "USD":
            # A dollar stable's volatility is aggregator noise: its stress is being off the peg.
            gate = "reducing" if peg_view.depegged else "active"
            calm = min(peg_view.days_on_peg, ttc.calm_days_to_loosen)
        else:
            gate = self._risk_gate(finite_prices, returns)
            calm = stressed.calm_days(finite_prices, ttc.calm_days_to_loosen, config.risk_gate.stress_drawdown,
                                      config.risk_gate.stress_volatility_ratio)
        model_targets = dict(targets)  # what the method asks for, reported; below, what may move now
        if depeg:
            # A depeg both sources show: LTV, LT and caps down by the whole bound.
            for param in (Param.LTV, Param.LIQUIDATION_THRESHOLD, Param.SUPPLY_CAP, Param.BORROW_CAP):
                targets[param] = bounds.limits[param].floor
        calibration = config.peg_calibration(asset.symbol)
        full_cycle = stressed.covers_stress_window(config.stress_records_of(asset.symbol),
                                                   calibration.history_start_s if calibration else None,
                                                   history.as_of_s, ttc.stress_window_hours)
        loosening_held = gate == "reducing" or calm < ttc.calm_days_to_loosen or depeg or not full_cycle
        if loosening_held:
            targets = stressed.hold_loosening(current_values, targets)
        targets = stressed.loosening_margin(current_values, targets, ttc.loosening_margin_bps)
        shares = stressed.step_shares(current_values, targets, ttc.loosening_share)
        projection = project(current_values, targets, bounds, history.as_of_s, config.min_change(), shares)
        changes = projection.changes
        # The paths before exp: bad debt reads prices only where someone can lose (the same
        # estimates as bad_debt over simulate_paths, bit for bit).
        log_paths = simulate_log_paths(sigma, horizon, config.montecarlo.paths, config.seed,
                                       config.montecarlo.student_dof)
        after = {**current_values, **changes}
        delay = config.montecarlo.liquidation_delay_hours
        path_min = path_minimum(log_paths)  # shared by both parameter sets
        debt_now = bad_debt_of_log_paths(log_paths, collateral_usd, debt_usd, threshold_now, bonus_now, delay,
                                         path_min=path_min)
        unchanged = (after[Param.LIQUIDATION_THRESHOLD] == params.liquidation_threshold_bps
                     and after[Param.LIQUIDATION_BONUS] == params.liquidation_bonus_bps)
        debt_after = debt_now if unchanged else bad_debt_of_log_paths(
            log_paths, collateral_usd, debt_usd, after[Param.LIQUIDATION_THRESHOLD] / 1e4,
            after[Param.LIQUIDATION_BONUS] / 1e4, delay, path_min=path_min,
        )
        applied = collateral.newly_liquidatable(
            collateral_usd, debt_usd, threshold_now, after[Param.LIQUIDATION_THRESHOLD] / 1e4
        )
        metrics = {
            "hourly_volatility": forecast.hourly_sigma,
            "volatility_model": forecast.model,
            "stressed_volatility": sigma,
            "stressed_volatility_source": stressed_sigma.source,
            "stress_record_volatility": stressed_sigma.recorded if stressed_sigma.recorded is not None else 0.0,
            "input_window_volatility": stressed_sigma.window if stressed_sigma.window is not None else 0.0,
            "calm_days": calm,
            "stress_window_covered": full_cycle,
            "loosening_held": loosening_held,
            "horizon_hours": horizon,
            "var_drop": var,
            "expected_shortfall_drop": es,
            "tail_var_sigmas": tail.var_sigmas,
            "tail_es_sigmas": tail.es_sigmas,
            "ltv_buffer_drop": ltv_drop,
            "liquidation_slippage": bonus.slippage,
            "liquidation_gas_share": bonus.gas_share,
            "reference_repay_usd": reference_repay,
            "liquidity_depth_usd": depth,
            "depth_source": asset.depth_source,
            "stress_liquidation_usd": stress_liquidation_usd,
            "supply_cap_capacity_tokens": capacity,
            "supply_cap_reason": supply_cap.reason,
            "borrow_cap_reason": borrow_cap.reason,
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
        if peg_view is not None:
            metrics.update({
                "peg": peg_view.peg, "peg_deviation": peg_view.deviation, "peg_state": peg_view.verdict.kind,
                "depeg_intensity_per_year": peg_view.jump.intensity_per_year,
                "depeg_probability_horizon": peg_view.lt_tail.jump_probability,
                "peg_es_drop": peg_view.lt_tail.es_drop, "peg_ltv_var_drop": peg_view.ltv_tail.var_drop,
            })
        target_names = {p.name: v for p, v in model_targets.items()}
        target_names[Param.LIQUIDATION_THRESHOLD.name] = threshold_target
        target_names["LIQUIDATION_THRESHOLD_STEP"] = step_target
        dropped = {p.name: reason for p, reason in sorted(projection.dropped.items())}
        if not changes:
            return AssetRecommendation(asset.symbol, "hold", "targets within dead band, cooldown or bounds", (),
                                       target_names, metrics, dropped)
        change_list = tuple(ParamChange(p, current_values[p], v) for p, v in sorted(changes.items()))
        reason = ("depeg: tighten at the full bound; " + peg_view.verdict.reason) if depeg else "move toward risk targets"
        reason += "; threshold cut split to limit immediate liquidations" if split else ""
        return AssetRecommendation(asset.symbol, "update", reason, change_list, target_names, metrics, dropped)


@dataclass(frozen=True)
class PegView:
    peg: str
    deviation: float
    depegged: bool
    verdict: peg.SourceVerdict
    jump: peg.JumpModel
    lt_tail: peg.MixtureTail
    ltv_tail: peg.MixtureTail
    days_on_peg: int
