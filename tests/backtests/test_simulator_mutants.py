"""The engine's decision loop and input cut, fast (found by mutation: the strategy-driven tests
are too slow to run once per mutant): a scripted strategy that asks for the same LTV step at
every decision shows when decisions happen and what reaches the steward; `_inputs` is read
field by field at one hour, with and without a governed debt reserve."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np
import pytest

from backtests.simulator import (
    AssetBook,
    DebtReserve,
    MarketPath,
    SimulationConfig,
    _inputs,
    make_population,
    simulate,
)
from backtests.steward_model import SimulatedSteward
from strategies.config import default_config
from strategies.inputs import Observations, PairReserves, decode_inputs
from strategies.params import AAVE_V3_OCT_2023, Param
from strategies.types import AssetRecommendation, ParamChange, Recommendation

WETH = AAVE_V3_OCT_2023["WETH"]
USDC = AAVE_V3_OCT_2023["USDC"]
T0 = 1_700_000_000
STRATEGY_CONFIG = default_config()


class ScriptedStrategy:
    """Asks for LTV - `step` at every decision (or holds); records what it was shown."""

    name = "scripted"

    def __init__(self, step: int = 25, action: str = "update") -> None:
        self.step, self.action, self.seen = step, action, []

    def propose(self, history, params, bounds) -> Recommendation:
        self.seen.append(history.as_of_s)
        ltv = params["WETH"].ltv_bps
        changes = (ParamChange(Param.LTV, ltv, ltv - self.step),) if self.step else ()
        return Recommendation("scripted", history.as_of_s, (AssetRecommendation("WETH", self.action, "scripted", changes),))


def flat_path(hours: int = 100, price: float = 2_000.0) -> MarketPath:
    return MarketPath("WETH", T0 + 3_600 * np.arange(hours), np.full(hours, price), 5e6)


CONFIG = SimulationConfig(positions_per_asset=20, warmup_hours=30, start_hour=10, seed=2)


def test_decisions_start_after_warmup_on_the_interval_from_the_start_hour():
    """Start hour 10, warm-up 30 h, one decision a day: hours 34, 58 and 82 of 100 (34 - 10 is
    the first multiple of 24 at or after 30 - 10)."""
    strategy = ScriptedStrategy()
    result = simulate([flat_path()], {"WETH": WETH}, strategy, CONFIG)
    hours = [34, 58, 82]
    assert strategy.seen == [T0 + 3_600 * h for h in hours]
    assert [d[0] for d in result.decisions] == strategy.seen
    assert sorted(result.recommendations) == strategy.seen


def test_each_tightening_goes_through_the_steward_and_into_the_path():
    """LTV 8,050 -> 8,025 -> 8,000 -> 7,975, one a day (the 1-day cooldown allows it), each
    applied at once (fast path); three updates, three records."""
    result = simulate([flat_path()], {"WETH": WETH}, ScriptedStrategy(), CONFIG)
    times = [T0 + 3_600 * h for h in (34, 58, 82)]
    assert [d[2] for d in result.decisions] == [((0, 8_025),), ((0, 8_000),), ((0, 7_975),)]
    assert result.updates == 3
    assert [r for r in result.parameter_path if r[2] == "LTV"][1:] == [
        (t, "WETH", "LTV", v) for t, v in zip(times, (8_025, 8_000, 7_975), strict=True)]
    assert [(t, ltv) for t, ltv, *_ in result.parameters["WETH"]] == list(zip(times, (8_025, 8_000, 7_975), strict=True))


def test_a_hold_or_an_empty_update_reaches_no_steward():
    for strategy in (ScriptedStrategy(action="hold"), ScriptedStrategy(step=0)):
        result = simulate([flat_path()], {"WETH": WETH}, strategy, CONFIG)
        assert len(result.decisions) == 3 and result.updates == 0
        assert len(result.parameter_path) == 10  # the start values only


def test_inputs_are_recorded_only_when_asked_and_decode_to_the_decision_hour():
    strategy = ScriptedStrategy()
    recorded = simulate([flat_path()], {"WETH": WETH}, strategy, replace(CONFIG, record_inputs=True))
    assert sorted(recorded.inputs) == sorted(recorded.recommendations)
    for when, data in recorded.inputs.items():
        inputs = decode_inputs(data)
        assert inputs.anchor.timestamp_s == when
        assert inputs.asset("WETH").price_observations()[0][-1] == when
    assert simulate([flat_path()], {"WETH": WETH}, ScriptedStrategy(), CONFIG).inputs == {}


def test_progress_is_reported_every_simulated_hour():
    seen = []
    simulate([flat_path(40)], {"WETH": WETH}, None, replace(CONFIG, warmup_hours=0), progress=seen.append)
    assert seen == list(range(10, 40))


# ------------------------------------------------------------------ _inputs field by field


def book_and_steward(path: MarketPath, config: SimulationConfig) -> tuple[AssetBook, SimulatedSteward]:
    steward = SimulatedSteward({"WETH": WETH, "USDC": USDC}, 24 * 3_600)
    steward.nonce = 7
    return make_population(path, WETH, config, config.seed), steward


def test_inputs_at_an_hour_see_up_to_that_hour_only():
    """Hour 50 of a rising path (price 1,000 + hour): prices of hours 0..50, nothing later;
    the anchor is hour 50 (block = hour, hash of "simulated:<time>"); the steward's nonce and
    bounds; supply and debt of the book at the debt index 1.02, debt in tokens at the price."""
    path = replace(flat_path(), prices_usd=1_000.0 + np.arange(100))
    config = replace(CONFIG, max_positions_to_strategy=5)
    book, steward = book_and_steward(path, config)
    now_s = int(path.timestamps_s[50])
    inputs = _inputs([path], {"WETH": book}, steward, 50, now_s, 1.02, config, STRATEGY_CONFIG)
    (weth,) = inputs.assets
    times, values = weth.price_observations()
    assert times.tolist() == path.timestamps_s[:51].tolist() and values.tolist() == path.prices_usd[:51].tolist()
    assert weth.prices[0].source == "simulated:WETH"
    assert inputs.anchor.block_number == 50 and inputs.anchor.timestamp_s == now_s
    assert inputs.anchor.block_hash == hashlib.sha256(f"simulated:{now_s}".encode()).digest()
    assert (inputs.chain_id, inputs.steward, inputs.enclave_nonce) == (0, "0x" + "00" * 20, 7)
    assert (weth.address, weth.decimals, weth.params) == ("0x" + "00" * 19 + "01", 18, WETH)
    assert weth.supplied_tokens == pytest.approx(float(book.tokens.sum()), rel=1e-15)
    assert weth.borrowed_tokens == pytest.approx(float(book.debt_usd.sum()) * 1.02 / 1_050.0, rel=1e-15)
    assert weth.pair == PairReserves("config", fallback_depth_usd=5e6)
    assert weth.bounds == steward.bounds("WETH")
    assert weth.utilization is None


def test_inputs_hand_the_largest_positions_with_todays_debt():
    """Five largest debts of the book (20 positions), accounts named by their book index, debt
    times the index, their WETH as collateral."""
    path = flat_path()
    config = replace(CONFIG, max_positions_to_strategy=5)
    book, steward = book_and_steward(path, config)
    book.debt_usd[3] = 0.0  # an emptied position is never handed over
    inputs = _inputs([path], {"WETH": book}, steward, 50, int(path.timestamps_s[50]), 1.5, config, STRATEGY_CONFIG)
    largest = np.argsort(book.debt_usd, kind="stable")[-5:]
    assert inputs.positions.accounts == tuple(f"sim:WETH:{i}" for i in largest)
    assert inputs.positions.debt_usd.tolist() == pytest.approx((book.debt_usd[largest] * 1.5).tolist(), rel=1e-15)
    assert inputs.positions.collateral_tokens["WETH"].tolist() == book.tokens[largest].tolist()
    everyone = _inputs([path], {"WETH": book}, steward, 50, int(path.timestamps_s[50]), 1.0,
                       replace(config, max_positions_to_strategy=100), STRATEGY_CONFIG)
    assert "sim:WETH:3" not in everyone.positions.accounts and len(everyone.positions.accounts) == 19


def test_inputs_from_the_source_prints_keep_only_the_window_up_to_now():
    """Prints every 30 minutes: those at or before the hour and after now - window pass."""
    path = flat_path()
    times = T0 - 3_600 * 3_000 + 1_800 * np.arange(2 * 3_200)
    obs = Observations("file:abc", times, np.full(len(times), 2_000.0))
    book, steward = book_and_steward(path, CONFIG)
    now_s = int(path.timestamps_s[50])
    inputs = _inputs([replace(path, observations=obs)], {"WETH": book}, steward, 50, now_s, 1.0, CONFIG, STRATEGY_CONFIG)
    window_s = (STRATEGY_CONFIG.window.history_hours + STRATEGY_CONFIG.window.max_carry_hours + 1) * 3_600
    kept = inputs.assets[0].prices[0]
    assert kept.source == "file:abc"
    assert kept.timestamps_s.tolist() == times[(times <= now_s) & (times > now_s - window_s)].tolist()


def test_inputs_with_a_governed_debt_reserve():
    """USDC as the borrowed asset: collateral assets borrow 0 tokens; USDC (6 decimals, address
    ...02) is supplied at supply / price and borrowed at the book's debt x index / price, its
    prices and the simulated utilization from the start hour on; the WETH utilization series
    goes back the history window only."""
    path = replace(flat_path(), utilization=np.linspace(0.1, 0.9, 100))
    book, steward = book_and_steward(path, CONFIG)
    usdc = DebtReserve("USDC", path.timestamps_s, np.full(100, 0.999), 5e6)
    utilization = np.linspace(0.5, 0.6, 100)
    inputs = _inputs([path], {"WETH": book}, steward, 50, int(path.timestamps_s[50]), 1.1, CONFIG, STRATEGY_CONFIG,
                     usdc, (5e6, utilization))
    weth, debt = inputs.assets
    assert weth.borrowed_tokens == 0.0
    assert weth.utilization.values.tolist() == path.utilization[:51].tolist()
    assert (debt.symbol, debt.address, debt.decimals, debt.params) == ("USDC", "0x" + "00" * 19 + "02", 6, USDC)
    assert debt.supplied_tokens == pytest.approx(5e6 / 0.999)
    assert debt.borrowed_tokens == pytest.approx(float(book.debt_usd.sum()) * 1.1 / 0.999)
    assert debt.price_observations()[1].tolist() == [0.999] * 51
    assert debt.utilization.timestamps_s.tolist() == path.timestamps_s[CONFIG.start_hour:51].tolist()
    assert debt.utilization.values.tolist() == utilization[CONFIG.start_hour:51].tolist()
    assert debt.pair == PairReserves("config", fallback_depth_usd=5e6)
    assert debt.bounds == steward.bounds("USDC")


# ------------------------------------------------------------------ the hour's series, by hand


def test_the_stable_curve_below_at_and_above_its_kink():
    """Default debt curve (optimal 90%, base 0, slope1 3.5%, slope2 60%): 45% -> 1.75%; 90% ->
    3.5%; 95% -> 3.5% + 60% x 0.05 / 0.10 = 33.5%; 100% -> 63.5%."""
    from backtests.simulator import _stable_borrow_rate

    config = SimulationConfig()
    assert [_stable_borrow_rate(u, config) for u in (0.45, 0.9, 0.95, 1.0)] == pytest.approx([0.0175, 0.035, 0.335, 0.635])
    assert _stable_borrow_rate(0.5, replace(config, stable_rate=(0.8, 0.01, 0.04, 0.5))) == pytest.approx(0.035)


def test_each_hours_series_by_hand():
    """One position, flat $2,000, no liquidation. Supply is debt / 0.8, so the hour's
    utilization is 0.8 x the index before its charge; the rate 3.5% x u / 0.9; the gap
    |u - 0.9|; capital efficiency today's debt over the borrowing power, 10 WETH x $2,000 x
    LTV 80.5%; 10% of the interest is revenue."""
    config = replace(CONFIG, positions_per_asset=1, total_collateral_usd_per_asset=20_000.0, warmup_hours=0, start_hour=5)
    path = flat_path(30)
    result = simulate([path], {"WETH": WETH}, None, config)
    start_debt = float(make_population(path, WETH, config, config.seed).debt_usd.sum())
    index, utilization, rate, debt, efficiency = 1.0, [], [], [], []
    for _ in range(5, 30):
        utilization.append(0.8 * index)
        rate.append(0.035 * utilization[-1] / 0.9)
        index *= 1 + rate[-1] / 8_760
        debt.append(start_debt * index)
        efficiency.append(debt[-1] / (20_000.0 * 0.805))
    series = result.series
    assert series["utilization"].tolist() == pytest.approx(utilization, rel=1e-12)
    assert series["borrow_rate"].tolist() == pytest.approx(rate, rel=1e-12)
    assert series["total_debt_usd"].tolist() == pytest.approx(debt, rel=1e-12)
    assert series["efficiency"].tolist() == pytest.approx(efficiency, rel=1e-12)
    assert series["timestamps_s"].tolist() == path.timestamps_s[5:].tolist()
    assert series["price_WETH"].tolist() == [2_000.0] * 25
    assert not series["liquidated_collateral_usd_WETH"].any() and not series["bad_debt_usd"].any()
    assert not series["borrower_bonus_losses_usd"].any()
    assert result.hours == 25
    assert result.mean_utilization_gap == pytest.approx(np.mean(np.abs(np.array(utilization) - 0.9)), rel=1e-12)
    assert result.mean_capital_efficiency == pytest.approx(np.mean(efficiency), rel=1e-12)
    assert result.metrics() == {
        "bad_debt_usd": 0.0, "liquidated_debt_usd": 0.0, "liquidations": 0, "borrower_bonus_losses_usd": 0.0,
        "protocol_revenue_usd": result.protocol_revenue_usd, "capital_efficiency": result.mean_capital_efficiency,
        "utilization_gap": result.mean_utilization_gap, "updates": 0}
    assert result.protocol_revenue_usd == pytest.approx(0.1 * (debt[-1] - start_debt), rel=1e-9)


def test_with_a_debt_reserve_its_curve_and_kink_rule():
    """USDC governed with optimal usage 80% and slope1 4%, its supply twice the book's debt:
    utilization 50% in the first hour, the rate USDC's curve (4% x 0.5 / 0.8 = 2.5%), the gap
    measured from USDC's own kink, |u - 0.8|."""
    usdc_params = USDC.with_changes({Param.OPTIMAL_USAGE_RATIO: 8_000, Param.VARIABLE_RATE_SLOPE1: 400})
    config = replace(CONFIG, positions_per_asset=1, total_collateral_usd_per_asset=20_000.0, warmup_hours=0, start_hour=0)
    path = flat_path(10)
    start_debt = float(make_population(path, WETH, config, config.seed).debt_usd.sum())
    usdc = DebtReserve("USDC", path.timestamps_s, np.ones(10), start_debt / 0.5)
    result = simulate([path], {"WETH": WETH, "USDC": usdc_params}, None, config, debt=usdc)
    assert result.series["utilization"][0] == pytest.approx(0.5)
    assert result.series["borrow_rate"][0] == pytest.approx(0.04 * 0.5 / 0.8)
    assert result.mean_utilization_gap == pytest.approx(np.mean(np.abs(result.series["utilization"] - 0.8)), rel=1e-12)


def test_two_assets_get_their_own_seeded_books():
    """Books are seeded seed + i in path order: WBTC's (second) book is seed + 1's."""
    config = replace(CONFIG, positions_per_asset=3, warmup_hours=0, start_hour=0)
    weth, wbtc = flat_path(3), replace(flat_path(3), symbol="WBTC", prices_usd=np.full(3, 30_000.0))
    wbtc_params = AAVE_V3_OCT_2023["WBTC"]
    result = simulate([weth, wbtc], {"WETH": WETH, "WBTC": wbtc_params}, None, config)
    books = make_population(weth, WETH, config, config.seed), make_population(wbtc, wbtc_params, config, config.seed + 1)
    total = sum(float(b.debt_usd.sum()) for b in books)
    assert result.series["utilization"][0] == pytest.approx(0.8)
    assert result.series["total_debt_usd"][0] == pytest.approx(total * (1 + 0.035 * 0.8 / 0.9 / 8_760), rel=1e-12)


# ------------------------------------------------------------------ the book and the path


def test_the_book_sorts_by_debt_per_token_and_keeps_aims_aligned():
    """Debt per token 300, 100, (no tokens: 0), 200 -> order: empty, 100, 200, 300."""
    book = AssetBook(np.array([1.0, 2.0, 0.0, 3.0]), np.array([300.0, 200.0, 50.0, 600.0]),
                     np.array([1.1, 1.2, 1.3, 1.4]))
    book.sort()
    assert book.base.tolist() == [0.0, 100.0, 200.0, 300.0]
    assert book.tokens.tolist() == [0.0, 2.0, 3.0, 1.0]
    assert book.target_health.tolist() == [1.3, 1.2, 1.4, 1.1]


def test_compacting_drops_only_emptied_positions():
    """(0 tokens, 0 debt) goes; collateral without debt, or debt without collateral, stays."""
    book = AssetBook(np.array([1.0, 0.0, 0.0, 2.0]), np.array([0.0, 0.0, 5.0, 1.0]), np.array([1.1, 1.2, 1.3, 1.4]))
    book.compact()
    assert (book.tokens.tolist(), book.debt_usd.tolist(), book.target_health.tolist()) == (
        [1.0, 0.0, 2.0], [0.0, 5.0, 1.0], [1.1, 1.3, 1.4])
    full = AssetBook(np.ones(2), np.ones(2))
    full.compact()
    assert full.tokens.tolist() == [1.0, 1.0] and full.target_health is None


def test_the_population_is_bought_at_the_start_hours_price():
    """$20,000 in one position, prices 1,000 then 2,000 from hour 5: 10 tokens; debt the
    smaller of LT / aim and the LTV limit of the collateral (seed 2: aim from the log-normal)."""
    path = replace(flat_path(10), prices_usd=np.concatenate([np.full(5, 1_000.0), np.full(5, 2_000.0)]))
    config = replace(CONFIG, positions_per_asset=1, total_collateral_usd_per_asset=20_000.0, start_hour=5)
    book = make_population(path, WETH, config, 2)
    aim = 1.02 + np.random.default_rng(2).lognormal(np.log(0.45), 0.7, 1)[0]
    assert book.tokens.tolist() == [10.0]
    assert book.debt_usd.tolist() == pytest.approx([min(20_000 * 0.83 / aim, 20_000 * 0.805)], rel=1e-12)
    assert book.target_health.tolist() == pytest.approx([aim], rel=1e-12)


def test_depth_comes_from_the_hourly_series_when_given():
    path = replace(flat_path(3), depth_usd=np.array([1e6, 2e6, 3e6]))
    assert [path.depth_at(t) for t in range(3)] == [1e6, 2e6, 3e6]
    assert flat_path(3).depth_at(2) == 5e6


# ------------------------------------------------------------------ third pass: what the survivors showed


SHORT = replace(STRATEGY_CONFIG, window=replace(STRATEGY_CONFIG.window, history_hours=20, max_carry_hours=2))


def test_inputs_windows_follow_the_strategy_config():
    """History 20 h, carry 2 h: at hour 50 the engine's prices start at hour 28 (50 - 22), the
    utilization at hour 30 (50 - 20); source prints are kept in (now - 23 h, now], both ends
    exact: a print at now is in, one at now - 23 h is out."""
    path = replace(flat_path(), utilization=np.linspace(0.1, 0.9, 100), depth_usd=np.arange(100) * 1e4 + 1e6)
    book, steward = book_and_steward(path, CONFIG)
    now_s = int(path.timestamps_s[50])
    inputs = _inputs([path], {"WETH": book}, steward, 50, now_s, 1.0, CONFIG, SHORT)
    weth = inputs.assets[0]
    assert weth.price_observations()[0].tolist() == path.timestamps_s[28:51].tolist()
    assert weth.utilization.timestamps_s.tolist() == path.timestamps_s[30:51].tolist()
    assert weth.utilization.source == "simulated:WETH:utilization"
    assert weth.pair == PairReserves("config", fallback_depth_usd=1e6 + 50 * 1e4)
    prints = np.array([now_s - 23 * 3_600, now_s - 23 * 3_600 + 1, now_s, now_s + 1])
    obs = Observations("file:x", prints, np.array([1.0, 2.0, 3.0, 4.0]))
    cut = _inputs([replace(path, observations=obs)], {"WETH": book}, steward, 50, now_s, 1.0, CONFIG, SHORT)
    kept = cut.assets[0].prices[0]
    assert (kept.source, kept.timestamps_s.tolist(), kept.values.tolist()) == ("file:x", prints[1:3].tolist(), [2.0, 3.0])


def test_inputs_carry_each_assets_own_steward_state():
    path = flat_path()
    book, steward = book_and_steward(path, CONFIG)
    steward._record("WETH", Param.LTV, last_executed_at=111)
    steward._record("USDC", Param.VARIABLE_RATE_SLOPE1, pending_ready_at=222)
    usdc = DebtReserve("USDC", path.timestamps_s, np.ones(100), 5e6)
    inputs = _inputs([path], {"WETH": book}, steward, 50, int(path.timestamps_s[50]), 1.0, CONFIG, SHORT, usdc,
                     (5e6, np.full(100, 0.5)))
    weth, debt = inputs.assets
    assert weth.bounds.state == {Param.LTV: steward.state["WETH"][Param.LTV]}
    assert debt.bounds.state == {Param.VARIABLE_RATE_SLOPE1: steward.state["USDC"][Param.VARIABLE_RATE_SLOPE1]}
    assert debt.prices[0].source == "simulated:USDC" and debt.utilization.source == "simulated:USDC:utilization"
    assert debt.price_observations()[0].tolist() == path.timestamps_s[28:51].tolist()


def test_inputs_of_two_assets_with_a_debt_reserve():
    """WETH and WBTC books: the accounts of both, each with its own collateral only; tiny debts
    (under $1) are positions too; USDC borrowed is the two books' debt together."""
    weth_path, wbtc_path = flat_path(), replace(flat_path(), symbol="WBTC", prices_usd=np.full(100, 30_000.0))
    weth = AssetBook(np.array([1.0, 2.0]), np.array([0.5, 1_000.0]))
    wbtc = AssetBook(np.array([0.1]), np.array([2_000.0]))
    steward = SimulatedSteward({"WETH": WETH, "WBTC": AAVE_V3_OCT_2023["WBTC"], "USDC": USDC}, 3_600)
    usdc = DebtReserve("USDC", weth_path.timestamps_s, np.full(100, 0.5), 1e6)
    inputs = _inputs([weth_path, wbtc_path], {"WETH": weth, "WBTC": wbtc}, steward, 50, int(weth_path.timestamps_s[50]),
                     2.0, CONFIG, SHORT, usdc, (1e6, np.full(100, 0.5)))
    assert inputs.positions.source == "simulated"
    assert inputs.positions.accounts == ("sim:WETH:0", "sim:WETH:1", "sim:WBTC:0")
    assert inputs.positions.collateral_tokens["WETH"].tolist() == [1.0, 2.0, 0.0]
    assert inputs.positions.collateral_tokens["WBTC"].tolist() == [0.0, 0.0, 0.1]
    assert inputs.positions.debt_usd.tolist() == [1.0, 2_000.0, 4_000.0]
    assert inputs.asset("USDC").borrowed_tokens == pytest.approx(6_001.0 / 0.5)


def test_small_positions_are_liquidated_and_written_off_like_large_ones():
    """The same scenarios at 1/1,000 of the size: 0.01 WETH owing $12 at $1,440 is half closed
    ($6) and, left with under one token, keeps its debt (not written off); 0.001 WETH owing
    $1.20 at $1,000 loses all its collateral ($1) for $0.952, and $0.248 is bad debt."""
    half = book_of_one(0.01, 12.0)
    result, _ = run_liquidation(half, 1_440.0)
    assert result.liquidated_debt_usd == pytest.approx(6.0) and half.debt_usd.tolist() == pytest.approx([6.0])
    assert result.bad_debt_usd == 0.0
    bad = book_of_one(0.001, 1.2)
    result, _ = run_liquidation(bad, 1_000.0)
    assert result.bad_debt_usd == pytest.approx(1.2 - 1.0 / 1.05, rel=1e-12)
    assert result.protocol_revenue_usd == pytest.approx((1.0 - 1.0 / 1.05) * 0.1, rel=1e-9)


def test_a_tiny_position_waits_like_a_large_one():
    """0.2 tokens at $1 (collateral under $1) owing $0.15 at LT 50%: $0.159375 seized into a
    reserve of 15 x that (depth_slippage 0.5): slippage 1/16 = the 6.25% bonus: it waits."""
    book = book_of_one(0.2, 0.15)
    result, _ = run_liquidation(book, 1.0, threshold=0.5, bonus=1.0625, depth_usd=15 * 0.159375,
                                config=SimulationConfig(depth_slippage=0.5))
    assert (result.liquidations, result.skipped_unprofitable_liquidations) == (0, 1)


def test_revenue_adds_up_over_the_liquidations_of_an_hour():
    """Two positions, each half closed at $1,440 ($300 of bonus each): $60 of protocol fee."""
    result, _ = run_liquidation(AssetBook(np.array([10.0, 10.0]), np.array([12_000.0, 12_000.0])), 1_440.0, sort=True)
    assert result.protocol_revenue_usd == pytest.approx(60.0)


def book_of_one(tokens: float, debt: float) -> AssetBook:
    book = AssetBook(np.array([tokens]), np.array([debt]))
    book.sort()
    return book


def run_liquidation(book: AssetBook, price: float, *, threshold: float = 0.83, bonus: float = 1.05,
                    depth_usd: float = 1e15, config: SimulationConfig = SimulationConfig(), sort: bool = False):
    from backtests.simulator import BacktestResult, _liquidate, first_liquidatable

    if sort:
        book.sort()
    result = BacktestResult("t", 1)
    sold = _liquidate(book, first_liquidatable(book.base, price, threshold, 1.0), price, threshold, bonus, 1.0, depth_usd,
                      config, result)
    return result, sold


def test_the_book_base_of_a_fractional_position():
    """0.5 tokens owing $100: $200 a token (not $100)."""
    assert book_of_one(0.5, 100.0).base.tolist() == [200.0]


def test_compaction_keeps_debt_under_a_dollar():
    book = AssetBook(np.array([0.0, 0.0]), np.array([0.5, 0.0]))
    book.compact()
    assert book.debt_usd.tolist() == [0.5]


def test_the_population_respects_the_ltv_cap():
    """LTV 50%: LT 83% / aim is above it for any aim under 1.66, so the debt is $10,000 of $20,000."""
    path = flat_path(10)
    config = replace(CONFIG, positions_per_asset=1, total_collateral_usd_per_asset=20_000.0, start_hour=0)
    aim = 1.02 + np.random.default_rng(2).lognormal(np.log(0.45), 0.7, 1)[0]
    assert aim < 1.66
    book = make_population(path, WETH.with_changes({Param.LTV: 5_000}), config, 2)
    assert book.debt_usd.tolist() == [10_000.0]


class SlowScripted(ScriptedStrategy):
    """Raises LB by 50 bps at every decision (not a tightening: it waits the delay)."""

    name = "slow"

    def propose(self, history, params, bounds) -> Recommendation:
        self.seen.append(history.as_of_s)
        self.bounds = bounds
        lb = params["WETH"].liquidation_bonus_bps
        change = (ParamChange(Param.LIQUIDATION_BONUS, lb, lb + 50),)
        return Recommendation("slow", history.as_of_s, (AssetRecommendation("WETH", "update", "scripted", change),))


def test_a_slow_change_lands_one_delay_later_and_is_recorded_then():
    """Delay 5 h: LB 10,500 -> 10,550 decided at hour 34 takes effect at hour 39. At hour 58 LB
    is still in its cooldown (1 day from execution: 63), so the steward refuses the next raise;
    the one decided at hour 82 is in force at 87. The strategy is shown the steward's bounds."""
    from strategies.bounds import ParamState
    from strategies.params import DEFAULT_BOUNDS

    strategy = SlowScripted()
    result = simulate([flat_path()], {"WETH": WETH}, strategy, replace(CONFIG, delay_hours=5))
    lb = [r for r in result.parameter_path if r[2] == "LIQUIDATION_BONUS"]
    assert lb[1:] == [(T0 + 3_600 * 39, "WETH", "LIQUIDATION_BONUS", 10_550), (T0 + 3_600 * 87, "WETH", "LIQUIDATION_BONUS", 10_600)]
    assert [(t, bonus) for t, _, _, bonus in result.parameters["WETH"]] == [(r[0], r[3]) for r in lb[1:]]
    assert result.updates == 2 and result.refused_at_execution == 0
    shown = strategy.bounds["WETH"]
    assert shown.limits == DEFAULT_BOUNDS
    assert shown.state == {Param.LIQUIDATION_BONUS: ParamState(last_executed_at=T0 + 3_600 * 39, pending_ready_at=0)}


def test_the_start_values_open_the_path_and_the_result_is_named():
    result = simulate([flat_path()], {"WETH": WETH}, ScriptedStrategy(), CONFIG)
    start_s = T0 + 3_600 * CONFIG.start_hour
    assert result.parameter_path[:10] == [(start_s, "WETH", name, value) for name, value in
                                          ((p.name, WETH.by_param()[p]) for p in Param)]
    assert result.strategy == "scripted"
    assert simulate([flat_path(20)], {"WETH": WETH}, None, CONFIG).strategy == "static"
    assert simulate([flat_path(20)], {"WETH": WETH}, None, CONFIG, name="mine").strategy == "mine"


def test_the_first_decision_at_exactly_the_warm_up_hour():
    strategy = ScriptedStrategy()
    simulate([flat_path()], {"WETH": WETH}, strategy, replace(CONFIG, warmup_hours=34))
    assert strategy.seen[0] == T0 + 3_600 * 34


@pytest.mark.parametrize("interval_s, hours", [(5_400, [34, 35, 36]), (1_800, [34, 35, 36])])
def test_a_decision_interval_under_or_between_hours_rounds_down_to_whole_hours(interval_s, hours):
    """1.5 h and 0.5 h intervals decide every hour (whole hours, at least one)."""
    config = replace(STRATEGY_CONFIG, window=replace(STRATEGY_CONFIG.window, decision_interval_s=interval_s))
    strategy = ScriptedStrategy(step=0)
    simulate([flat_path(37)], {"WETH": WETH}, strategy, replace(CONFIG, warmup_hours=34), strategy_config=config)
    assert strategy.seen == [T0 + 3_600 * h for h in hours]


def test_a_hold_on_one_asset_does_not_stop_the_next():
    class TwoAssets(ScriptedStrategy):
        def propose(self, history, params, bounds):
            ltv = params["WBTC"].ltv_bps
            return Recommendation("two", history.as_of_s, (
                AssetRecommendation("WETH", "hold", "held"),
                AssetRecommendation("WBTC", "update", "cut", (ParamChange(Param.LTV, ltv, ltv - 25),))))

    wbtc_path = replace(flat_path(), symbol="WBTC", prices_usd=np.full(100, 30_000.0))
    result = simulate([flat_path(), wbtc_path], {"WETH": WETH, "WBTC": AAVE_V3_OCT_2023["WBTC"]}, TwoAssets(), CONFIG)
    assert result.updates == 3 and [r[3] for r in result.parameter_path if r[1] == "WBTC" and r[2] == "LTV"][-1] == \
        AAVE_V3_OCT_2023["WBTC"].ltv_bps - 75


def test_each_decision_is_stored_as_the_strategys_canonical_recommendation():
    strategy = ScriptedStrategy(step=0)
    result = simulate([flat_path()], {"WETH": WETH}, strategy, CONFIG)
    for when, data in result.recommendations.items():
        assert data == Recommendation("scripted", when, (AssetRecommendation("WETH", "update", "scripted"),)).to_canonical_json()


def test_two_assets_add_up_their_borrowing_power_and_shorter_paths_set_the_hours():
    """Efficiency = debt / (WETH's + WBTC's collateral x LTV); the run lasts as long as the
    shorter path (20 h), and every series has its 20 - start hours."""
    config = replace(CONFIG, positions_per_asset=2, warmup_hours=0, start_hour=0)
    weth, wbtc = flat_path(30), replace(flat_path(20), symbol="WBTC", prices_usd=np.full(20, 30_000.0))
    wbtc_params = AAVE_V3_OCT_2023["WBTC"]
    result = simulate([weth, wbtc], {"WETH": WETH, "WBTC": wbtc_params}, None, config)
    books = make_population(weth, WETH, config, config.seed), make_population(wbtc, wbtc_params, config, config.seed + 1)
    power = float(books[0].tokens.sum()) * 2_000 * 0.805 + float(books[1].tokens.sum()) * 30_000 * wbtc_params.ltv_bps / 1e4
    assert result.series["efficiency"][0] == pytest.approx(result.series["total_debt_usd"][0] / power, rel=1e-12)
    assert result.hours == 20 and len(result.series["timestamps_s"]) == 20 and len(result.series["price_WETH"]) == 20


def test_efficiency_is_zero_when_nobody_holds_collateral():
    from backtests.market_dynamics import BorrowerDynamics

    leave = BorrowerDynamics(leave_hazard_per_hour=0.999, growth_per_hour=0.0, relever_band=0.25, relever_speed_per_hour=0.0,
                             rate_semi_elasticity_per_pp_day=0.0, gas_usd_per_liquidation=0.0)
    result = simulate([flat_path(5)], {"WETH": WETH}, None, replace(CONFIG, start_hour=0, dynamics=leave))
    assert result.series["efficiency"].tolist() == [0.0] * 5


def test_utilization_is_capped_at_100_percent_and_zero_without_supply():
    """A debt reserve holding half the book's debt: utilization 1 (not 2), rate at the top of
    USDC's curve (3.5% + 60%). A supply of 0 means "not given" (DebtReserve.supply_usd): the
    supply is the opening book's debt at the 80% target, so utilization 0.8 and USDC's rate
    3.5% x 0.8 / 0.9 = 3.111%."""
    config = replace(CONFIG, positions_per_asset=1, warmup_hours=0, start_hour=0)
    path = flat_path(3)
    debt = float(make_population(path, WETH, config, config.seed).debt_usd.sum())
    over = simulate([path], {"WETH": WETH, "USDC": USDC}, None, config, debt=DebtReserve("USDC", path.timestamps_s, np.ones(3), debt / 2))
    assert over.series["utilization"][0] == 1.0 and over.series["borrow_rate"][0] == pytest.approx(0.635)
    empty = simulate([path], {"WETH": WETH, "USDC": USDC}, None, config, debt=DebtReserve("USDC", path.timestamps_s, np.ones(3), 0.0))
    assert empty.series["utilization"][0] == pytest.approx(0.8, abs=1e-12)
    assert empty.series["borrow_rate"][0] == pytest.approx(0.035 * 0.8 / 0.9, abs=1e-12)


def test_the_rate_response_is_measured_against_the_rate_at_the_reserves_kink():
    """USDC (kink 90%, 3.5% there) with supply twice the debt: utilization 50%, rate
    3.5% x 0.5 / 0.9 = 1.944%, 1.556 points under the reference: demand grows by
    exp(0.05 / 24 x 1.556) - 1 = 0.3246% in the first hour (within the LTV room)."""
    from backtests.market_dynamics import BorrowerDynamics

    respond = BorrowerDynamics(leave_hazard_per_hour=0.0, growth_per_hour=0.0, relever_band=0.25, relever_speed_per_hour=0.0,
                               rate_semi_elasticity_per_pp_day=-0.05, gas_usd_per_liquidation=0.0)
    config = replace(CONFIG, positions_per_asset=1, warmup_hours=0, start_hour=0, dynamics=respond)
    path = flat_path(1)
    debt = float(make_population(path, WETH, config, config.seed).debt_usd.sum())
    result = simulate([path], {"WETH": WETH, "USDC": USDC}, None, config,
                      debt=DebtReserve("USDC", path.timestamps_s, np.ones(1), 2 * debt))
    rate = 0.035 * 0.5 / 0.9
    factor = np.exp(-0.05 / 24 * (rate - 0.035) * 100)
    assert result.flows["rate_response_usd"] == pytest.approx(debt * (1 + rate / 8_760) * (factor - 1), rel=1e-9)


def test_market_moves_are_seeded_by_the_dynamics_seed():
    from backtests.market_dynamics import BorrowerDynamics

    grow = BorrowerDynamics(leave_hazard_per_hour=0.01, growth_per_hour=0.05, relever_band=0.25, relever_speed_per_hour=0.0,
                            rate_semi_elasticity_per_pp_day=0.0, gas_usd_per_liquidation=0.0, seed=11)
    runs = [simulate([flat_path(24)], {"WETH": WETH}, None, replace(CONFIG, start_hour=0, seed=s, dynamics=grow)).flows
            for s in (2, 2)]
    assert runs[0] == runs[1]
    other_population = simulate([flat_path(24)], {"WETH": WETH}, None, replace(CONFIG, start_hour=0, seed=2,
                                                                                  dynamics=replace(grow, seed=12))).flows
    assert other_population != runs[0]
