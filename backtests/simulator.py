"""The backtest engine: a borrower population against hourly prices, liquidations with close
factor, bonus and depth-based slippage, bad debt, interest on the pool's curve, and a strategy
deciding every N hours from data up to that hour only, its updates passing the steward's
bounds and cooldown and taking effect after the timelock delay, as on chain.

Positions are single-collateral with USD debt. A position is liquidatable when
debt x index / (tokens x LT) >= price; with positions sorted by debt/tokens, one binary
search per asset and hour finds them (interest and LT changes scale all of an asset's
liquidation prices by the same factor, so the order never changes between liquidations).

With `SimulationConfig.dynamics` (backtests.market_dynamics) the market moves: positions
leave and arrive (supply caps refuse what does not fit), re-leverage and answer the borrow
rate (the debt reserve's borrow cap refuses what does not fit), depth follows each path's
`depth_usd`, and a liquidator acts only when the liquidation pays after the slippage of what
was already sold that hour and gas. With a `DebtReserve` the borrowed stablecoin is governed
too: its rate curve and borrow cap in force set interest and room, and the agent decides on
it from its prices and the simulated utilization (rate changes are backtested)."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from backtests import market_dynamics as dynamics_model
from backtests.market_dynamics import BorrowerDynamics
from backtests.steward_model import SimulatedSteward
from strategies.config import StrategyConfig, default_config
from strategies.decision import recommend
from strategies.inputs import Anchor, AssetInputs, DecisionInputs, Observations, PairReserves, PositionBook, build_history
from strategies.params import REGISTRY, RiskParams
from strategies.rates import RateCurve
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
    depth_usd: np.ndarray | None = None  # hourly depth (e.g. from DEX reserves); None: the constant above
    target_tokens: np.ndarray | None = None  # hourly collateral the book should track (e.g. Aave's own)

    def depth_at(self, t: int) -> float:
        return float(self.depth_usd[t]) if self.depth_usd is not None else self.liquidity_depth_usd


@dataclass(frozen=True)
class DebtReserve:
    """The stablecoin every position borrows, as a governed reserve: hourly prices (its peg
    and the agent's view of it), the lenders' supply in USD, and its parameters in force come
    from the steward (start with `initial[symbol]`)."""

    symbol: str
    timestamps_s: np.ndarray
    prices_usd: np.ndarray
    supply_usd: float  # 0: the opening book's debt at the target utilization

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
    dynamics: BorrowerDynamics | None = None  # None: a fixed population, per-liquidation slippage, no gas


def _stable_argsort(values: np.ndarray) -> np.ndarray:
    """np.argsort(values, kind="stable"), faster for a large book: when no two values are equal
    (nor NaN) every sort gives the one order, so the quicker unstable sort is tried first (a
    fresh population's bases are distinct; small arrays, and books with ties such as the
    zero-debt positions at base 0, go straight to the stable sort)."""
    if len(values) >= 4_096:
        order = np.argsort(values)
        ordered = values.take(order)
        if not np.isnan(ordered[-1]) and not (ordered[1:] == ordered[:-1]).any():
            return order
    return np.argsort(values, kind="stable")


@dataclass
class AssetBook:
    """One asset's positions, sorted by debt per token (the liquidation-price base)."""

    tokens: np.ndarray
    debt_usd: np.ndarray  # at index 1.0; multiply by the debt index for today's debt
    target_health: np.ndarray | None = None  # each borrower's own HF aim (market dynamics)

    def sort(self, changed_from: int = 0) -> None:
        """Sorts by `base` and records what the hour reads (`tokens_total`, `debt_total`,
        `highest_base`; valid until the arrays change again). Positions before `changed_from`
        must be unchanged since the last sort: only the rest is sorted and merged in, in place
        from the first slot a changed position moves to (the book before that slot stays as it
        is), in the order a stable sort of the whole book gives (equal bases keep their index
        order, the unchanged first)."""
        tokens, debt = self.tokens[changed_from:], self.debt_usd[changed_from:]
        with np.errstate(divide="ignore", invalid="ignore"):
            base = np.where(tokens > 0, debt / np.maximum(tokens, 1e-300), 0.0)
        order = _stable_argsort(base)
        if changed_from == 0:
            self.tokens, self.debt_usd, self.base = tokens.take(order), debt.take(order), base.take(order)
            if self.target_health is not None:
                self.target_health = self.target_health.take(order)
        elif len(order):
            # The i-th changed position (in base order) goes after every unchanged one whose base
            # is not above its own and after the i changed ones before it.
            moved_to = np.searchsorted(self.base[:changed_from], base[order], side="right") + np.arange(len(order))
            start = int(moved_to[0])
            moved_to -= start
            merged = np.empty(len(self.tokens) - start, dtype=np.intp)  # slot start + j takes position merged[j]
            merged[moved_to] = order + changed_from
            stays = np.ones(len(merged), dtype=bool)
            stays[moved_to] = False
            merged[stays] = np.arange(start, changed_from)
            self.base[changed_from:] = base
            for column in (self.tokens, self.debt_usd, self.base, self.target_health):
                if column is not None:
                    column[start:] = column.take(merged)
        self.tokens_total, self.debt_total = self.tokens.sum(), self.debt_usd.sum()
        highest = float(self.base[-1]) if len(self.base) else -math.inf
        self.highest_base = math.inf if math.isnan(highest) else highest  # NaN sorts last: the search decides

    def compact(self) -> None:
        """Drops emptied positions (left, or fully liquidated) so arrivals do not pile up."""
        keep = (self.tokens > 0) | (self.debt_usd > 0)
        if keep.all():
            return
        self.tokens, self.debt_usd = self.tokens[keep], self.debt_usd[keep]
        if self.target_health is not None:
            self.target_health = self.target_health[keep]


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
    # One record per value in force: (time s, asset, parameter, value), the start values first.
    parameter_path: list[tuple[int, str, str, int]] = field(default_factory=list)
    series: dict[str, np.ndarray] = field(default_factory=dict)
    flows: dict[str, float] = field(default_factory=dict)  # market dynamics totals (USD or counts)
    market_notes: dict = field(default_factory=dict)  # how the run's market was made (for reports)

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
    book = AssetBook(collateral_usd / path.prices_usd[config.start_hour], debt, health)
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
    debt: DebtReserve | None = None,
) -> BacktestResult:
    """Runs hour by hour; `strategy` None keeps the initial parameters (static baseline).

    Every `decision_interval_s` (strategy config) the engine builds `DecisionInputs` from data
    up to that hour only and runs the one decision path (`strategies.decision.recommend` for
    the agent, exactly what the enclave runs); the changes go through a simulated steward
    with the contract's checks, fast path and timelock delay."""
    if strategy is not None:  # the static baseline never decides: it needs no strategy config
        strategy_config = strategy_config or (strategy.config if isinstance(strategy, RiskStrategy)
                                              else default_config())
    interval_hours = max(strategy_config.window.decision_interval_s // HOUR_S, 1) if strategy_config else 1
    hours = min(len(p.prices_usd) for p in paths)
    steward = SimulatedSteward(dict(initial), config.delay_hours * HOUR_S)
    books = {p.symbol: make_population(p, steward.params[p.symbol], config, config.seed + i) for i, p in enumerate(paths)}
    result = BacktestResult(name or getattr(strategy, "name", "static"), hours)
    result.parameters = {p.symbol: [] for p in paths}
    debt_index = 1.0
    stable_supply = (debt.supply_usd if debt is not None and debt.supply_usd > 0
                     else sum(b.debt_total for b in books.values()) / config.stable_target_utilization)
    efficiency, gaps = np.zeros(hours), np.zeros(hours)
    bad_debt_series = np.zeros(hours)
    utilization_series = np.zeros(hours)
    rate_series = np.zeros(hours)
    debt_series = np.zeros(hours)
    losses_series = np.zeros(hours)
    liquidated_series = {p.symbol: np.zeros(hours) for p in paths}
    dynamics = config.dynamics
    rng = np.random.default_rng(dynamics.seed if dynamics else config.seed)
    # Arrivals are drawn from the initial book: USD sizes and each borrower's HF aim.
    templates = {p.symbol: (books[p.symbol].tokens * p.prices_usd[config.start_hour], books[p.symbol].target_health.copy())
                 for p in paths} if dynamics is not None else {}
    if dynamics is None:
        for book in books.values():
            book.target_health = None  # nobody acts on an aim: not carried through every re-sort
    flows = dynamics_model.FlowStep()
    reference_rate = (RateCurve.from_params(initial[debt.symbol]).borrow_rate(initial[debt.symbol].optimal_usage_ratio_bps / 1e4)
                      if debt is not None else 0.0)
    start_s = int(paths[0].timestamps_s[config.start_hour])
    for symbol in sorted(steward.params):
        for spec in REGISTRY:
            result.parameter_path.append((start_s, symbol, spec.param.name, int(getattr(steward.params[symbol], spec.field))))

    def record(symbol: str, now_s: int, changes: dict) -> None:
        p = steward.params[symbol]
        if symbol in result.parameters:
            result.parameters[symbol].append((now_s, p.ltv_bps, p.liquidation_threshold_bps, p.liquidation_bonus_bps))
        values = p.by_param()
        for param in sorted(changes):
            result.parameter_path.append((now_s, symbol, param.name, int(values[param])))

    def borrow_rate(utilization: float) -> float:
        if debt is not None:
            return RateCurve.from_params(steward.params[debt.symbol]).borrow_rate(utilization)
        return _stable_borrow_rate(utilization, config)

    # Per asset, what the hour reads: prices as Python floats (no numpy scalar per asset-hour).
    assets = [(p, books[p.symbol], p.prices_usd.tolist(), liquidated_series[p.symbol]) for p in paths]
    book_debt = sum(b.debt_total for b in books.values())
    for t in range(config.start_hour, hours):
        now_s = int(paths[0].timestamps_s[t])
        # Scheduled updates whose timelock delay has passed are executed (checked again).
        for symbol, changes in steward.execute_ready(now_s):
            record(symbol, now_s, changes)
        # Interest on all debt at the debt reserve's curve in force (the books are as the last hour
        # left them: `book_debt` is their debt at index 1).
        total_debt = book_debt * debt_index
        utilization = min(total_debt / stable_supply, 1.0) if stable_supply else 0.0
        utilization_series[t] = utilization
        rate = borrow_rate(utilization)
        rate_series[t] = rate
        interest = total_debt * rate / HOURS_PER_YEAR
        debt_index *= 1 + rate / HOURS_PER_YEAR
        result.protocol_revenue_usd += interest * config.stable_reserve_factor
        kink = steward.params[debt.symbol].optimal_usage_ratio_bps / 1e4 if debt is not None else config.stable_rate[0]
        gaps[t] = abs(utilization - kink)

        if dynamics is not None:
            _move_market(paths, books, steward, templates, t, debt_index, total_debt, rate, reference_rate, debt,
                         dynamics, rng, flows)

        borrowing_power = 0.0
        for path, book, prices, liquidated in assets:
            price, p = prices[t], steward.params[path.symbol]
            threshold = p.liquidation_threshold_bps / 1e4
            if liquidation_limit(price, threshold, debt_index) < book.highest_base:  # most hours nobody is
                first = first_liquidatable(book.base, price, threshold, debt_index)
                liquidated[t] = _liquidate(book, first, price, threshold, p.liquidation_bonus_bps / 1e4, debt_index,
                                           path.depth_at(t), config, result)
                book.sort(changed_from=first)
            borrowing_power += float(book.tokens_total) * price * p.ltv_bps / 1e4
        bad_debt_series[t] = result.bad_debt_usd
        losses_series[t] = result.borrower_bonus_losses_usd
        book_debt = sum(b.debt_total for b in books.values())
        total_debt = book_debt * debt_index
        debt_series[t] = total_debt
        efficiency[t] = total_debt / borrowing_power if borrowing_power > 0 else 0.0

        if (strategy is not None and t >= max(config.warmup_hours, config.start_hour)
                and (t - config.start_hour) % interval_hours == 0):
            inputs = _inputs(paths, books, steward, t, now_s, debt_index, config, strategy_config, debt,
                             (stable_supply, utilization_series))
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
                for part in steward.submit(asset.symbol, changes, now_s):
                    record(asset.symbol, now_s, part)
                result.updates += steward.submitted - before
        if progress is not None:
            progress(t)

    result.refused_at_execution = steward.refused_at_execution
    window = slice(config.start_hour, hours)
    result.hours = hours - config.start_hour
    result.mean_capital_efficiency = float(efficiency[window].mean())
    result.mean_utilization_gap = float(gaps[window].mean())
    result.flows = {k: float(v) for k, v in vars(flows).items()}
    result.series = {"efficiency": efficiency[window], "bad_debt_usd": bad_debt_series[window],
                     "timestamps_s": paths[0].timestamps_s[window], "utilization": utilization_series[window],
                     "borrow_rate": rate_series[window], "total_debt_usd": debt_series[window],
                     "borrower_bonus_losses_usd": losses_series[window],
                     **{f"price_{p.symbol}": p.prices_usd[window] for p in paths},
                     **{f"liquidated_collateral_usd_{s}": v[window] for s, v in liquidated_series.items()}}
    return result


def _move_market(paths: list[MarketPath], books: dict[str, AssetBook], steward: SimulatedSteward, templates: dict,
                 t: int, debt_index: float, total_debt: float, rate: float, reference_rate: float,
                 debt: DebtReserve | None, dynamics: BorrowerDynamics, rng: np.random.Generator,
                 flows: dynamics_model.FlowStep) -> None:
    """One hour of borrower behaviour (backtests.market_dynamics), caps enforced: arrivals
    that do not fit the supply cap are refused, borrowing beyond the debt reserve's borrow cap
    is cut to the room left."""
    cap_tokens = steward.params[debt.symbol].borrow_cap_tokens if debt is not None else 0
    borrow_cap_usd = cap_tokens * float(debt.prices_usd[t]) if cap_tokens else math.inf
    room = max(borrow_cap_usd - total_debt, 0.0)
    for path in paths:
        book, p = books[path.symbol], steward.params[path.symbol]
        price = float(path.prices_usd[t])
        threshold, ltv = p.liquidation_threshold_bps / 1e4, p.ltv_bps / 1e4
        debt_usd = book.debt_usd * debt_index  # today's USD debt; written back below
        left = dynamics_model.churn(book.tokens, debt_usd, rng, dynamics.leave_hazard_per_hour)
        flows.departed += int(left.sum())
        active = int(np.sum(book.tokens > 0))
        sizes_usd, aims = templates[path.symbol]
        expected = active * (dynamics.leave_hazard_per_hour + dynamics.growth_per_hour)
        scale = 1.0
        if path.target_tokens is not None:
            # Track the reserve's own size; positions scale with it, so the book keeps its count
            # (and its concentration, which the churn rate was fitted to).
            target_usd = float(path.target_tokens[t]) * price
            scale = target_usd / max(float(sizes_usd.sum()), 1.0)
            gap_usd = target_usd - float(book.tokens.sum()) * price
            expected = max(gap_usd, 0.0) / max(float(np.mean(sizes_usd)) * scale, 1.0)
        new_usd, new_aims = dynamics_model.arrivals(rng, expected, sizes_usd * scale, aims)
        new_tokens = new_usd / price
        cap = p.supply_cap_tokens
        if cap and len(new_tokens):
            fits = np.cumsum(new_tokens) + float(book.tokens.sum()) <= cap
            flows.blocked_supply_usd += float(new_usd[~fits].sum())
            new_tokens, new_aims = new_tokens[fits], new_aims[fits]
        new_debt = np.minimum(new_tokens * price * threshold / new_aims, new_tokens * price * ltv)
        if new_debt.sum() > room:
            flows.blocked_borrow_usd += float(new_debt.sum() - room)
            new_debt *= room / new_debt.sum()
        room -= float(new_debt.sum())
        flows.arrived += len(new_tokens)
        if len(new_tokens):
            book.tokens = np.concatenate([book.tokens, new_tokens])
            debt_usd = np.concatenate([debt_usd, new_debt])
            book.target_health = np.concatenate([book.target_health, new_aims])
        borrowed = dynamics_model.relever(book.tokens, debt_usd, book.target_health, price, threshold, ltv,
                                          dynamics.relever_band, dynamics.relever_speed_per_hour, room)
        room -= borrowed
        flows.relevered_usd += borrowed
        flows.defended_usd += dynamics_model.defend(book.tokens, debt_usd, book.target_health, price, threshold,
                                                    dynamics.defend_health, dynamics.defend_share_per_hour, rng)
        if debt is not None:
            factor = dynamics_model.rate_response_factor(rate, reference_rate, dynamics.rate_semi_elasticity_per_pp_day)
            if factor < 1:
                flows.rate_response_usd -= float(debt_usd.sum()) * (1 - factor)
                debt_usd *= factor
            elif factor > 1 and room > 0:
                extra = np.minimum(debt_usd * (factor - 1), np.maximum(book.tokens * price * ltv - debt_usd, 0.0))
                if extra.sum() > room:
                    flows.blocked_borrow_usd += float(extra.sum() - room)
                    extra *= room / extra.sum()
                room -= float(extra.sum())
                flows.rate_response_usd += float(extra.sum())
                debt_usd += extra
        book.debt_usd = debt_usd / debt_index
        book.compact()
        book.sort()


def liquidation_limit(price: float, threshold: float, debt_index: float) -> float:
    """The base (debt per token at index 1) above which a position's health factor is below 1."""
    return price * threshold / debt_index


def first_liquidatable(base: np.ndarray, price: float, threshold: float, debt_index: float) -> int:
    """Index of the first position (sorted by `base`, debt per token at index 1) whose health
    factor is below 1: base x index / LT > price. Aave liquidates below 1, never at exactly 1."""
    return int(np.searchsorted(base, liquidation_limit(price, threshold, debt_index), side="right"))


def _sequential_totals(starts: list[float], values: list[np.ndarray]) -> np.ndarray:
    """starts[j] + values[j][0] + values[j][1] + ..., left to right, for each j: the sums a
    loop's `+=` gives, bit for bit (np.cumsum adds in order; np.sum would add pairwise and
    round differently). The arrays have one length, at least 1."""
    rows = np.array(values)
    rows[:, 0] += starts  # the first addition, start + value, as the loop's first `+=`
    return rows.cumsum(axis=1)[:, -1]


def _liquidate(book: AssetBook, first: int, price: float, threshold: float, bonus: float, debt_index: float,
               depth_usd: float, config: SimulationConfig, result: BacktestResult) -> float:
    """Liquidates positions [first:] once each this hour (close factor, bonus, slippage);
    returns the collateral value seized. Without market dynamics a liquidation waits when its
    own slippage reaches the bonus; with them, when it does not pay after the slippage of
    everything sold this hour before it and gas (`market_dynamics.liquidation_profit_usd`).

    Computed over the slice at once: each position's figures are the same IEEE operations in
    the same order as one position at a time, and the result's totals are added in position
    order (`_sequential_totals`), so every figure is what a loop over the positions gives."""
    dynamics = config.dynamics
    tokens = book.tokens[first:]
    debt = book.debt_usd[first:] * debt_index
    owes = ~(debt <= 0)  # as the loop's `if debt <= 0: continue` (a NaN debt is not skipped)
    collateral_value = tokens * price
    with np.errstate(divide="ignore", invalid="ignore"):
        health = collateral_value * threshold / debt
    repay = debt * np.where(health <= config.close_factor_hf_threshold, 1.0, 0.5)
    wanted = repay * bonus
    short = collateral_value < wanted  # the collateral cannot pay the bonus: all of it is seized
    seized_value = np.where(short, collateral_value, wanted)  # min(wanted, collateral)
    repay = np.where(short, collateral_value / bonus, repay)
    if dynamics is None:
        slippage = _slippage(seized_value, depth_usd, config.depth_slippage)
        pays = owes & ~((slippage >= bonus - 1) & (collateral_value > 0))
    else:
        # Each sale moves the pool for the next: whether one pays depends on those before it.
        pays = np.zeros(len(debt), dtype=bool)
        sold_usd = 0.0
        for i in np.flatnonzero(owes):
            slippage = dynamics_model.incremental_slippage(sold_usd, seized_value[i], depth_usd, config.depth_slippage)
            if dynamics_model.liquidation_profit_usd(repay[i], seized_value[i], slippage,
                                                     dynamics.gas_usd_per_liquidation) > 0:
                pays[i] = True
                sold_usd += seized_value[i]
    done = np.flatnonzero(pays)
    result.skipped_unprofitable_liquidations += int(np.count_nonzero(owes)) - len(done)  # no liquidator takes a loss
    if len(done) == 0:
        return 0.0
    if len(done) < len(pays):
        tokens, debt, repay, seized_value = tokens[done], debt[done], repay[done], seized_value[done]
        rows = first + done
    else:  # every one (the usual case): the slice itself
        rows = slice(first, None)
    bonus_value = seized_value - repay
    result.liquidations += len(done)
    (result.liquidated_debt_usd, result.borrower_bonus_losses_usd, result.protocol_revenue_usd,
     sold_usd) = _sequential_totals(
        [result.liquidated_debt_usd, result.borrower_bonus_losses_usd, result.protocol_revenue_usd, 0.0],
        [repay, bonus_value, bonus_value * config.liquidation_protocol_fee, seized_value])
    tokens_left = tokens - seized_value / price
    remaining = debt - repay
    written_off = (tokens_left <= 1e-12) & (remaining > 0)  # no collateral left: the rest is bad debt
    if written_off.any():
        result.bad_debt_usd, = _sequential_totals([result.bad_debt_usd], [remaining[written_off]])
        tokens_left[written_off] = 0.0
        remaining[written_off] = 0.0
    book.tokens[rows] = tokens_left
    book.debt_usd[rows] = remaining / debt_index
    return sold_usd


def _inputs(paths: list[MarketPath], books: dict[str, AssetBook], steward: SimulatedSteward, t: int, now_s: int,
            debt_index: float, config: SimulationConfig, strategy_config: StrategyConfig,
            debt: DebtReserve | None = None, debt_state: tuple[float, np.ndarray] | None = None) -> DecisionInputs:
    """The decision's inputs at hour t, from data up to and including hour t only: the engine
    cuts, the strategy never sees past t. Nobody borrows the collateral assets in the
    simulation (their borrowed tokens are 0); the debt reserve, when governed, is an asset
    too, with the simulated utilization as its history."""
    window_s = (strategy_config.window.history_hours + strategy_config.window.max_carry_hours + 1) * HOUR_S
    assets = []
    accounts: list[str] = []
    collateral: dict[str, list[np.ndarray]] = {p.symbol: [] for p in paths}
    debts: list[np.ndarray] = []
    total_debt_usd = 0.0
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
        total_debt_usd += borrowed_usd
        assets.append(AssetInputs(
            symbol=path.symbol, address="0x" + f"{index + 1:040x}", decimals=18, params=steward.params[path.symbol],
            supplied_tokens=supplied, borrowed_tokens=0.0 if debt is not None else borrowed_usd / price, prices=prices,
            pair=PairReserves("config", fallback_depth_usd=path.depth_at(t)),
            bounds=steward.bounds(path.symbol), utilization=utilization,
        ))
        largest = np.argsort(book.debt_usd, kind="stable")[-config.max_positions_to_strategy:]
        largest = largest[book.debt_usd[largest] > 0]
        accounts += [f"sim:{path.symbol}:{i}" for i in largest]
        for symbol in collateral:
            collateral[symbol].append(book.tokens[largest] if symbol == path.symbol else np.zeros(len(largest)))
        debts.append(book.debt_usd[largest] * debt_index)
    if debt is not None and debt_state is not None:
        supply_usd, utilization_series = debt_state
        start = max(0, t - strategy_config.window.history_hours - strategy_config.window.max_carry_hours)
        price = float(debt.prices_usd[t])
        started = max(start, config.start_hour)
        assets.append(AssetInputs(
            symbol=debt.symbol, address="0x" + f"{len(paths) + 1:040x}", decimals=6, params=steward.params[debt.symbol],
            supplied_tokens=supply_usd / price, borrowed_tokens=total_debt_usd / price,
            prices=Observations(f"simulated:{debt.symbol}", debt.timestamps_s[start:t + 1], debt.prices_usd[start:t + 1]),
            pair=PairReserves("config", fallback_depth_usd=supply_usd),
            bounds=steward.bounds(debt.symbol),
            utilization=Observations(f"simulated:{debt.symbol}:utilization", debt.timestamps_s[started:t + 1],
                                     utilization_series[started:t + 1]),
        ))
    positions = PositionBook("simulated", tuple(accounts), {s: np.concatenate(v) for s, v in collateral.items()},
                             np.concatenate(debts) if debts else np.zeros(0))
    anchor = Anchor(t, hashlib.sha256(f"simulated:{now_s}".encode()).digest(), now_s)
    return DecisionInputs(chain_id=0, steward="0x" + "00" * 20, enclave_nonce=steward.nonce, anchor=anchor,
                          assets=tuple(assets), positions=positions)
