"""The backtest engine: a borrower population against hourly prices, liquidations with close
factor, bonus and depth-based slippage, bad debt, interest on the pool's curve, and a strategy
deciding every N hours from data up to that hour only, its updates passing the steward's
bounds and cooldown and taking effect after the timelock delay, as on chain.

Positions are single-collateral with USD debt. A position is liquidatable when
debt x index / (tokens x LT) >= price; with positions sorted by debt/tokens, one binary
search per asset and hour finds them (interest and LT changes scale all of an asset's
liquidation prices by the same factor, so the order never changes between liquidations)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from backtests.steward_model import SimulatedSteward
from strategies.config import StrategyConfig, default_config
from strategies.decision import recommend
from strategies.inputs import Anchor, AssetInputs, DecisionInputs, Observations, PairReserves, PositionBook, build_history
from strategies.params import RiskParams
from strategies.strategy import RiskStrategy

HOUR_S = 3_600
HOURS_PER_YEAR = 8_760


@dataclass(frozen=True)
class MarketPath:
    """Hourly prices of one collateral asset (ascending hourly timestamps, no gaps) for the
    liquidation engine; `observations`, when given, are the source's own prints at their own
    cadence (gaps included), which is what the strategy is shown. `utilization` is the
    reserve's hourly utilization when the data has it."""

    symbol: str
    timestamps_s: np.ndarray
    prices_usd: np.ndarray
    liquidity_depth_usd: float
    is_stablecoin: bool = False
    observations: Observations | None = None
    utilization: np.ndarray | None = None


@dataclass(frozen=True, kw_only=True)
class SimulationConfig:
    """The simulated market and deployment; the strategy's own settings (window, decision
    interval) come from the strategy config, as in the enclave."""

    delay_hours: int = 24
    warmup_hours: int = 24 * 30
    positions_per_asset: int = 1_000
    total_collateral_usd_per_asset: float = 100e6
    seed: int = 1
    depth_slippage: float = 0.02
    liquidation_protocol_fee: float = 0.10
    stable_reserve_factor: float = 0.10
    stable_target_utilization: float = 0.80
    stable_rate: tuple[float, float, float, float] = (0.90, 0.0, 0.035, 0.60)  # uOpt, base, slope1, slope2
    close_factor_hf_threshold: float = 0.95
    max_positions_to_strategy: int = 500
    start_hour: int = 0  # hours before this are history only (the strategy's first window)
    record_inputs: bool = False  # keep each decision's canonical inputs (for re-running them in the enclave)


@dataclass
class AssetBook:
    """One asset's positions, sorted by debt per token (the liquidation-price base)."""

    tokens: np.ndarray
    debt_usd: np.ndarray  # at index 1.0; multiply by the debt index for today's debt

    def sort(self) -> None:
        with np.errstate(divide="ignore", invalid="ignore"):
            base = np.where(self.tokens > 0, self.debt_usd / np.maximum(self.tokens, 1e-300), 0.0)
        order = np.argsort(base, kind="stable")
        self.tokens, self.debt_usd = self.tokens[order], self.debt_usd[order]
        self.base = base[order]


@dataclass
class BacktestResult:
    strategy: str
    hours: int
    bad_debt_usd: float = 0.0
    liquidated_debt_usd: float = 0.0
    liquidations: int = 0
    borrower_bonus_losses_usd: float = 0.0
    protocol_revenue_usd: float = 0.0
    updates: int = 0
    mean_capital_efficiency: float = 0.0
    mean_utilization_gap: float = 0.0
    skipped_unprofitable_liquidations: int = 0
    refused_at_execution: int = 0
    decisions: list[tuple[int, str, tuple]] = field(default_factory=list)
    recommendations: dict[int, bytes] = field(default_factory=dict)  # decision time -> canonical recommendation
    inputs: dict[int, bytes] = field(default_factory=dict)  # decision time -> canonical inputs (record_inputs)
    parameters: dict[str, list[tuple[int, int, int, int]]] = field(default_factory=dict)  # ts, ltv, lt, lb
    series: dict[str, np.ndarray] = field(default_factory=dict)

    def metrics(self) -> dict[str, float]:
        return {
            "bad_debt_usd": float(self.bad_debt_usd),
            "liquidated_debt_usd": float(self.liquidated_debt_usd),
            "liquidations": self.liquidations,
            "borrower_bonus_losses_usd": float(self.borrower_bonus_losses_usd),
            "protocol_revenue_usd": float(self.protocol_revenue_usd),
            "capital_efficiency": self.mean_capital_efficiency,
            "utilization_gap": self.mean_utilization_gap,
            "updates": self.updates,
        }


def make_population(path: MarketPath, params: RiskParams, config: SimulationConfig, seed: int) -> AssetBook:
    """Health factors 1.02-4 (log-normal above 1), collateral sizes Pareto-distributed."""
    rng = np.random.default_rng(seed)
    n = config.positions_per_asset
    health = 1.02 + rng.lognormal(np.log(0.45), 0.7, n)
    sizes = rng.pareto(1.3, n) + 1
    collateral_usd = config.total_collateral_usd_per_asset * sizes / sizes.sum()
    threshold = params.liquidation_threshold_bps / 1e4
    debt = np.minimum(collateral_usd * threshold / health, collateral_usd * params.ltv_bps / 1e4)
    book = AssetBook(collateral_usd / path.prices_usd[config.start_hour], debt)
    book.sort()
    return book


def _stable_borrow_rate(utilization: float, config: SimulationConfig) -> float:
    optimal, base, slope1, slope2 = config.stable_rate
    if utilization <= optimal:
        return base + slope1 * utilization / optimal
    return base + slope1 + slope2 * (utilization - optimal) / (1 - optimal)


def _slippage(trade_usd: float, depth_usd: float, depth_slippage: float) -> float:
    reserve = depth_usd * (1 - depth_slippage) / depth_slippage
    return trade_usd / (reserve + trade_usd)


def simulate(
    paths: list[MarketPath],
    initial: dict[str, RiskParams],
    strategy=None,
    config: SimulationConfig = SimulationConfig(),
    progress: Callable[[int], None] | None = None,
    name: str | None = None,
    strategy_config: StrategyConfig | None = None,
) -> BacktestResult:
    """Runs hour by hour; `strategy` None keeps the initial parameters (static baseline).

    Every `decision_interval_s` (strategy config) the engine builds `DecisionInputs` from data
    up to that hour only and runs the one decision path (`strategies.decision.recommend` for
    the agent, exactly what the enclave runs); the changes go through a simulated steward
    with the contract's checks, fast path and timelock delay."""
    strategy_config = strategy_config or (strategy.config if isinstance(strategy, RiskStrategy) else default_config())
    interval_hours = max(strategy_config.window.decision_interval_s // HOUR_S, 1)
    hours = min(len(p.prices_usd) for p in paths)
    steward = SimulatedSteward(dict(initial), config.delay_hours * HOUR_S)
    books = {p.symbol: make_population(p, steward.params[p.symbol], config, config.seed + i) for i, p in enumerate(paths)}
    result = BacktestResult(name or getattr(strategy, "name", "static"), hours)
    result.parameters = {p.symbol: [] for p in paths}
    debt_index = 1.0
    stable_supply = sum(b.debt_usd.sum() for b in books.values()) / config.stable_target_utilization
    efficiency, gaps = np.zeros(hours), np.zeros(hours)
    bad_debt_series = np.zeros(hours)
    utilization_series = np.zeros(hours)

    def record(symbol: str, now_s: int) -> None:
        p = steward.params[symbol]
        result.parameters[symbol].append((now_s, p.ltv_bps, p.liquidation_threshold_bps, p.liquidation_bonus_bps))

    for t in range(config.start_hour, hours):
        now_s = int(paths[0].timestamps_s[t])
        # Scheduled updates whose timelock delay has passed are executed (checked again).
        for symbol, _ in steward.execute_ready(now_s):
            record(symbol, now_s)
        # Interest on all debt at the stable reserve's curve.
        total_debt = sum(b.debt_usd.sum() for b in books.values()) * debt_index
        utilization = min(total_debt / stable_supply, 1.0) if stable_supply else 0.0
        utilization_series[t] = utilization
        rate = _stable_borrow_rate(utilization, config)
        interest = total_debt * rate / HOURS_PER_YEAR
        debt_index *= 1 + rate / HOURS_PER_YEAR
        result.protocol_revenue_usd += interest * config.stable_reserve_factor
        gaps[t] = abs(utilization - config.stable_rate[0])

        borrowing_power = 0.0
        for path in paths:
            symbol, price = path.symbol, float(path.prices_usd[t])
            book, p = books[symbol], steward.params[symbol]
            threshold, bonus = p.liquidation_threshold_bps / 1e4, p.liquidation_bonus_bps / 1e4
            # Liquidatable: base x index / LT >= price  <=>  base >= price x LT / index.
            first = int(np.searchsorted(book.base, price * threshold / debt_index, side="left"))
            if first < len(book.base):
                _liquidate(book, first, price, threshold, bonus, debt_index, path, config, result)
                book.sort()
            borrowing_power += float(book.tokens.sum()) * price * p.ltv_bps / 1e4
        bad_debt_series[t] = result.bad_debt_usd
        total_debt = sum(b.debt_usd.sum() for b in books.values()) * debt_index
        efficiency[t] = total_debt / borrowing_power if borrowing_power > 0 else 0.0

        if (strategy is not None and t >= max(config.warmup_hours, config.start_hour)
                and (t - config.start_hour) % interval_hours == 0):
            inputs = _inputs(paths, books, steward, t, now_s, debt_index, config, strategy_config)
            if isinstance(strategy, RiskStrategy):
                recommendation = recommend(inputs, strategy_config)
            else:
                recommendation = strategy.propose(build_history(inputs, strategy_config),
                                                  {a.symbol: a.params for a in inputs.assets},
                                                  {a.symbol: a.bounds for a in inputs.assets})
            result.recommendations[now_s] = recommendation.to_canonical_json()
            if config.record_inputs:
                result.inputs[now_s] = inputs.canonical_bytes()
            for asset in recommendation.assets:
                changes = asset.changes_by_param()
                result.decisions.append((now_s, asset.symbol, tuple(sorted((int(k), v) for k, v in changes.items()))))
                if asset.action != "update" or not changes:
                    continue
                before = steward.submitted
                if steward.submit(asset.symbol, changes, now_s):
                    record(asset.symbol, now_s)
                result.updates += steward.submitted - before
        if progress is not None:
            progress(t)

    result.refused_at_execution = steward.refused_at_execution
    window = slice(config.start_hour, hours)
    result.hours = hours - config.start_hour
    result.mean_capital_efficiency = float(efficiency[window].mean())
    result.mean_utilization_gap = float(gaps[window].mean())
    result.series = {"efficiency": efficiency[window], "bad_debt_usd": bad_debt_series[window],
                     "timestamps_s": paths[0].timestamps_s[window], "utilization": utilization_series[window],
                     **{f"price_{p.symbol}": p.prices_usd[window] for p in paths}}
    return result


def _liquidate(book: AssetBook, first: int, price: float, threshold: float, bonus: float, debt_index: float,
               path: MarketPath, config: SimulationConfig, result: BacktestResult) -> None:
    """Liquidates positions [first:] once each this hour (close factor, bonus, slippage)."""
    for i in range(first, len(book.base)):
        tokens, debt = book.tokens[i], book.debt_usd[i] * debt_index
        if debt <= 0:
            continue
        collateral_value = tokens * price
        health = collateral_value * threshold / debt
        close_factor = 1.0 if health <= config.close_factor_hf_threshold else 0.5
        repay = debt * close_factor
        seized_value = min(repay * bonus, collateral_value)
        if seized_value < repay * bonus:
            repay = seized_value / bonus
        slippage = _slippage(seized_value, path.liquidity_depth_usd, config.depth_slippage)
        if slippage >= bonus - 1 and collateral_value > 0:
            result.skipped_unprofitable_liquidations += 1  # no liquidator takes a loss: the position waits
            continue
        bonus_value = seized_value - repay
        result.liquidations += 1
        result.liquidated_debt_usd += repay
        result.borrower_bonus_losses_usd += bonus_value
        result.protocol_revenue_usd += bonus_value * config.liquidation_protocol_fee
        book.tokens[i] = tokens - seized_value / price
        remaining = debt - repay
        if book.tokens[i] <= 1e-12 and remaining > 0:
            result.bad_debt_usd += remaining  # no collateral left: written off
            remaining = 0.0
            book.tokens[i] = 0.0
        book.debt_usd[i] = remaining / debt_index


def _inputs(paths: list[MarketPath], books: dict[str, AssetBook], steward: SimulatedSteward, t: int, now_s: int,
            debt_index: float, config: SimulationConfig, strategy_config: StrategyConfig) -> DecisionInputs:
    """The decision's inputs at hour t, from data up to and including hour t only: the engine
    cuts, the strategy never sees past t."""
    window_s = (strategy_config.window.history_hours + strategy_config.window.max_carry_hours + 1) * HOUR_S
    assets = []
    accounts: list[str] = []
    collateral: dict[str, list[np.ndarray]] = {p.symbol: [] for p in paths}
    debts: list[np.ndarray] = []
    for index, path in enumerate(paths):
        if path.observations is not None:
            obs = path.observations
            keep = (obs.timestamps_s <= now_s) & (obs.timestamps_s > now_s - window_s)
            prices = Observations(obs.source, obs.timestamps_s[keep], obs.values[keep])
        else:
            start = max(0, t - strategy_config.window.history_hours - strategy_config.window.max_carry_hours)
            prices = Observations(f"simulated:{path.symbol}", path.timestamps_s[start:t + 1], path.prices_usd[start:t + 1])
        utilization = None
        if path.utilization is not None:
            start = max(0, t - strategy_config.window.history_hours)
            utilization = Observations(f"simulated:{path.symbol}:utilization", path.timestamps_s[start:t + 1],
                                       path.utilization[start:t + 1])
        book = books[path.symbol]
        price = float(path.prices_usd[t])
        supplied = float(book.tokens.sum())
        borrowed_usd = float(book.debt_usd.sum()) * debt_index
        assets.append(AssetInputs(
            symbol=path.symbol, address="0x" + f"{index + 1:040x}", decimals=18, params=steward.params[path.symbol],
            supplied_tokens=supplied, borrowed_tokens=borrowed_usd / price, prices=prices,
            pair=PairReserves("config", fallback_depth_usd=path.liquidity_depth_usd),
            bounds=steward.bounds(path.symbol), utilization=utilization,
        ))
        largest = np.argsort(book.debt_usd, kind="stable")[-config.max_positions_to_strategy:]
        largest = largest[book.debt_usd[largest] > 0]
        accounts += [f"sim:{path.symbol}:{i}" for i in largest]
        for symbol in collateral:
            collateral[symbol].append(book.tokens[largest] if symbol == path.symbol else np.zeros(len(largest)))
        debts.append(book.debt_usd[largest] * debt_index)
    positions = PositionBook("simulated", tuple(accounts), {s: np.concatenate(v) for s, v in collateral.items()},
                             np.concatenate(debts) if debts else np.zeros(0))
    anchor = Anchor(t, hashlib.sha256(f"simulated:{now_s}".encode()).digest(), now_s)
    return DecisionInputs(chain_id=0, steward="0x" + "00" * 20, enclave_nonce=steward.nonce, anchor=anchor,
                          assets=tuple(assets), positions=positions)
