"""The backtest engine's money, computed on paper: one and two positions, the bonus, the close
factor on both sides of HF 0.95, bad debt, a liquidation that waits because it would not pay,
and interest. Each docstring derives the numbers; the test checks the engine gives them.

Where an edge is tested at its exact value the numbers are chosen exact in binary (0.5,
1.0625, ...), so the comparison in the engine is decided by the rule and not by rounding.
The same two-position crash runs on the real Aave pool in tests/chain/test_pool_scenarios.py.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from backtests.market_dynamics import BorrowerDynamics
from backtests.simulator import (
    AssetBook,
    BacktestResult,
    MarketPath,
    SimulationConfig,
    _liquidate,
    first_liquidatable,
    make_population,
    simulate,
)
from strategies.params import AAVE_V3_OCT_2023

WETH = AAVE_V3_OCT_2023["WETH"]  # LT 83%, LB 105%
LT, LB = 0.83, 1.05
DEEP_USD = 1e15  # depth at which slippage is ~1e-11: never the reason a liquidation waits


def book_of(tokens: list[float], debt_usd: list[float]) -> AssetBook:
    book = AssetBook(np.array(tokens, dtype=float), np.array(debt_usd, dtype=float))
    book.sort()
    return book


def liquidate(book: AssetBook, price: float, *, threshold: float = LT, bonus: float = LB, depth_usd: float = DEEP_USD,
              debt_index: float = 1.0, config: SimulationConfig = SimulationConfig()) -> tuple[BacktestResult, float]:
    """Every position of `book` that is below HF 1 at `price`, as the engine's hour does it."""
    result = BacktestResult("scenario", 1)
    first = first_liquidatable(book.base, price, threshold, debt_index)
    sold = _liquidate(book, first, price, threshold, bonus, debt_index, depth_usd, config, result)
    return result, sold


# ------------------------------------------------------------------ one position


def test_one_position_above_hf_095_is_half_closed_with_the_bonus():
    """10 WETH against $12,000 at $1,440: HF = 14,400 x 0.83 / 12,000 = 0.996, above 0.95, so
    the close factor is 50%: $6,000 repaid, 6,000 x 1.05 = $6,300 of collateral seized
    (6,300 / 1,440 = 4.375 WETH). The borrower keeps 5.625 WETH and owes $6,000 (HF after
    8,100 x 0.83 / 6,000 = 1.1205), loses the $300 bonus, of which the protocol takes 10% = $30.
    No bad debt; $6,300 of collateral is sold into the market."""
    book = book_of([10.0], [12_000.0])
    result, sold = liquidate(book, 1_440.0)
    assert (result.liquidations, result.skipped_unprofitable_liquidations) == (1, 0)
    assert result.liquidated_debt_usd == pytest.approx(6_000.0, rel=1e-12)
    assert result.borrower_bonus_losses_usd == pytest.approx(300.0, rel=1e-9)
    assert result.protocol_revenue_usd == pytest.approx(30.0, rel=1e-9)
    assert result.bad_debt_usd == 0.0
    assert sold == pytest.approx(6_300.0, rel=1e-12)
    assert book.tokens.tolist() == pytest.approx([5.625], rel=1e-12)
    assert book.debt_usd.tolist() == pytest.approx([6_000.0], rel=1e-12)


def test_one_position_at_hf_095_is_closed_in_full():
    """10 WETH against $12,000 at $1,300: HF = 13,000 x 0.83 / 12,000 = 0.8992 <= 0.95: all
    $12,000 may be repaid; it needs 12,000 x 1.05 = $12,600 of the $13,000 of collateral
    (9.6923 WETH), so 0.3077 WETH ($400) stays with the borrower and nothing is owed."""
    book = book_of([10.0], [12_000.0])
    result, sold = liquidate(book, 1_300.0)
    assert result.liquidated_debt_usd == pytest.approx(12_000.0, rel=1e-12)
    assert sold == pytest.approx(12_600.0, rel=1e-12)
    assert book.tokens.tolist() == pytest.approx([400 / 1_300], rel=1e-9)
    assert book.debt_usd.tolist() == [0.0]
    assert result.bad_debt_usd == 0.0 and result.borrower_bonus_losses_usd == pytest.approx(600.0, rel=1e-9)


@pytest.mark.parametrize("tokens, close_factor", [(1.9, 1.0), (float(np.nextafter(1.9, 2.0)), 0.5)])
def test_close_factor_switches_exactly_at_hf_095(tokens, close_factor):
    """LT 50%, price $1, debt $1: 1.9 tokens give HF = 1.9 x 0.5 / 1 = 0.95 exactly (halving is
    exact in binary): Aave v3.0 closes 100% at HF <= 0.95. One ulp more collateral is HF > 0.95:
    50%. The repay is the debt times the close factor; the bonus 1.0625 is exact too."""
    book = book_of([tokens], [1.0])
    result, _ = liquidate(book, 1.0, threshold=0.5, bonus=1.0625)
    assert result.liquidated_debt_usd == close_factor
    assert result.borrower_bonus_losses_usd == pytest.approx(close_factor * 0.0625, rel=1e-12)


def test_bad_debt_when_the_collateral_cannot_pay_the_bonus():
    """10 WETH against $12,000 at $1,000: HF 0.69, close factor 100%, but repaying $12,000
    needs $12,600 of collateral and there is $10,000: all of it is seized and repays
    10,000 / 1.05 = $9,523.81 (not $10,000: the liquidator is paid the bonus on what it
    repays). The $2,476.19 left on an account with no collateral is bad debt, written off."""
    book = book_of([10.0], [12_000.0])
    result, sold = liquidate(book, 1_000.0)
    assert result.liquidated_debt_usd == pytest.approx(9_523.809523809524, rel=1e-12)
    assert result.bad_debt_usd == pytest.approx(2_476.190476190476, rel=1e-12)
    assert result.borrower_bonus_losses_usd == pytest.approx(476.190476190476, rel=1e-9)
    assert sold == pytest.approx(10_000.0, rel=1e-12)
    assert (book.tokens.tolist(), book.debt_usd.tolist()) == ([0.0], [0.0])


@pytest.mark.parametrize("depth_usd, waits", [(23.90625, True), (float(np.nextafter(23.90625, 24.0)), False)])
def test_a_liquidation_waits_when_its_slippage_reaches_the_bonus(depth_usd, waits):
    """Without market dynamics a liquidation waits when its own slippage is at least the bonus.
    2 tokens at $1 against $1.5 of debt, LT 50% (HF 0.667): 100% closed, 1.5 x 1.0625 =
    $1.59375 seized. With `depth_slippage` 0.5 the pool's reserve equals the depth, and the
    slippage of selling v into it is v / (depth + v): 1.59375 / (23.90625 + 1.59375) = 1/16 =
    0.0625, exactly the bonus: it waits (counted as skipped, the book untouched). One ulp more
    depth and it goes through."""
    book = book_of([2.0], [1.5])
    result, sold = liquidate(book, 1.0, threshold=0.5, bonus=1.0625, depth_usd=depth_usd,
                             config=SimulationConfig(depth_slippage=0.5))
    if waits:
        assert (result.liquidations, result.skipped_unprofitable_liquidations, sold) == (0, 1, 0.0)
        assert (book.tokens.tolist(), book.debt_usd.tolist()) == ([2.0], [1.5])
    else:
        assert (result.liquidations, result.skipped_unprofitable_liquidations) == (1, 0)
        assert result.liquidated_debt_usd == 1.5 and sold == 1.59375


@pytest.mark.parametrize("price, liquidated", [(1.0, False), (float(np.nextafter(1.0, 0.0)), True)])
def test_liquidatable_below_hf_1_never_at_it(price, liquidated):
    """2 tokens against $1 of debt at LT 50%: at $1, HF = 2 x 1 x 0.5 / 1 = 1 exactly, which Aave
    does not liquidate (HEALTH_FACTOR_NOT_BELOW_THRESHOLD); one ulp cheaper it does."""
    book = book_of([2.0], [1.0])
    assert first_liquidatable(book.base, price, 0.5, 1.0) == (0 if liquidated else 1)


def test_interest_moves_the_liquidation_price():
    """10 WETH against $12,000 at index 1.0 liquidate below 12,000 / (10 x 0.83) = $1,445.78.
    With the debt index at 1.01 the debt is $12,120 and the line moves to $1,460.24: at $1,450
    the position is safe at index 1.0 and liquidatable at 1.01."""
    book = book_of([10.0], [12_000.0])
    assert first_liquidatable(book.base, 1_450.0, LT, 1.0) == 1
    assert first_liquidatable(book.base, 1_450.0, LT, 1.01) == 0
    result, _ = liquidate(book, 1_450.0, debt_index=1.01)
    assert result.liquidated_debt_usd == pytest.approx(6_060.0, rel=1e-12)  # half of 12,000 x 1.01
    assert book.debt_usd.tolist() == pytest.approx([6_000.0], rel=1e-12)  # stored at index 1.0


# ------------------------------------------------------------------ two positions

# Market dynamics with no behaviour and no gas: only the liquidators' cumulative slippage.
QUIET = BorrowerDynamics(leave_hazard_per_hour=0.0, growth_per_hour=0.0, relever_band=0.25, relever_speed_per_hour=0.0,
                         rate_semi_elasticity_per_pp_day=0.0, gas_usd_per_liquidation=0.0)


def test_two_positions_only_the_one_below_hf_1_is_touched():
    """A: 10 WETH / $12,000 (liquidation price $1,445.78); B: 10 WETH / $10,000 ($1,204.82).
    At $1,440 only A is below HF 1: it is half closed ($6,000), B keeps everything."""
    book = book_of([10.0, 10.0], [12_000.0, 10_000.0])
    result, _ = liquidate(book, 1_440.0)
    assert result.liquidations == 1 and result.liquidated_debt_usd == pytest.approx(6_000.0, rel=1e-12)
    # The book is sorted by debt per token: B (1,000) first, then A (1,200).
    assert book.tokens.tolist() == pytest.approx([10.0, 5.625], rel=1e-12)
    assert book.debt_usd.tolist() == pytest.approx([10_000.0, 6_000.0], rel=1e-12)


@pytest.mark.parametrize("dynamics, liquidated, skipped", [(None, 2, 0), (QUIET, 1, 1)])
def test_the_second_sale_of_an_hour_pays_the_slippage_of_the_first(dynamics, liquidated, skipped):
    """Two identical positions, each 10 WETH / $12,000 at $1,440: each is half closed, $6,000
    repaid for X = $6,300 seized. Depth 3,857.14 with `depth_slippage` 2% is a pool reserve
    R = 3,857.14 x 49 = $189,000 = 30 X. A sale pays when its slippage is below
    1 - 1/1.05 = 4.762%. Alone, each sale slips X / (R + X) = 1/31 = 3.23%: without market
    dynamics (each liquidation judged alone) both go through. With them the pool does not
    refill within the hour: the second sale slips 1 - R^2 / ((R + X)(R + 2X)) =
    1 - 900 / (31 x 32) = 9.27%, a loss, so it waits."""
    book = book_of([10.0, 10.0], [12_000.0, 12_000.0])
    depth = 30 * 6_300 / 49
    result, sold = liquidate(book, 1_440.0, depth_usd=depth, config=SimulationConfig(dynamics=dynamics))
    assert (result.liquidations, result.skipped_unprofitable_liquidations) == (liquidated, skipped)
    assert result.liquidated_debt_usd == pytest.approx(6_000.0 * liquidated, rel=1e-12)
    assert sold == pytest.approx(6_300.0 * liquidated, rel=1e-12)


# ------------------------------------------------------------------ the whole engine, hour by hour

CRASH_HOUR = 24
CRASH_PRICE = 600.0


def crash_path(hours: int = 48) -> MarketPath:
    prices = np.concatenate([np.full(CRASH_HOUR, 1_600.0), np.full(hours - CRASH_HOUR, CRASH_PRICE)])
    return MarketPath("WETH", 1_700_000_000 + 3_600 * np.arange(hours), prices, DEEP_USD)


TWO_POSITIONS = SimulationConfig(positions_per_asset=2, total_collateral_usd_per_asset=40_000.0, seed=6, start_hour=0,
                                 warmup_hours=0)


def test_the_seeded_two_position_book():
    """$40,000 of collateral at $1,600 in two positions (seed 6): A 12.17877 WETH against
    $6,267.44 (HF 2.5805), B 12.82123 WETH against $8,684.75 (HF 1.9605). The crash scenario
    below and its twin on the real pool start from this book."""
    book = make_population(crash_path(), WETH, TWO_POSITIONS, TWO_POSITIONS.seed)
    order = np.argsort(book.tokens)
    assert book.tokens[order].tolist() == pytest.approx([12.17877317, 12.82122683], rel=1e-8)
    assert book.debt_usd[order].tolist() == pytest.approx([6_267.43577061, 8_684.74913517], rel=1e-10)
    assert book.tokens.sum() * 1_600 == pytest.approx(40_000.0, rel=1e-12)


def test_two_positions_through_a_crash_hour_by_hand():
    """The book above; WETH $1,600 for 24 h, then $600. Debt supply is 125% of the debt
    (utilization 80%): borrow rate 3.5% x 0.8 / 0.9 = 3.1111% a year, charged hourly from the
    first hour, so at the crash hour (the 25th charge) the index is (1 + 0.031111 / 8,760)^25 =
    1.0000888 (the utilization creep adds 4e-9).
    A: HF = 12.17877 x 600 x 0.83 / (6,267.44 x 1.0000888) = 0.9676 > 0.95: half closed,
    $3,134.00 repaid, $3,290.70 seized (5.48449 WETH); HF after 1.0637, safe until the end.
    B: HF 0.7351: all 12.82123 WETH ($7,692.74) seized for 7,692.74 / 1.05 = $7,326.42; the rest
    of its $8,685.52 debt, $1,359.10, is bad debt.
    Totals: 2 liquidations, $10,460.41 repaid, $523.02 of bonus, $10,983.43 sold at the crash
    hour and nothing in any other hour."""
    result = simulate([crash_path()], {"WETH": WETH}, None, TWO_POSITIONS)
    assert (result.liquidations, result.skipped_unprofitable_liquidations) == (2, 0)
    assert result.liquidated_debt_usd == pytest.approx(3_134.00 + 7_326.42, abs=0.01)
    assert result.bad_debt_usd == pytest.approx(1_359.10, abs=0.01)
    assert result.borrower_bonus_losses_usd == pytest.approx(523.02, abs=0.01)
    sold = result.series["liquidated_collateral_usd_WETH"]
    assert sold[CRASH_HOUR] == pytest.approx(10_983.43, abs=0.01)
    assert np.count_nonzero(sold) == 1
    assert result.series["bad_debt_usd"][CRASH_HOUR - 1] == 0.0


def test_interest_hour_by_hand():
    """One position, flat price, no liquidation: each hour the debt grows by rate / 8,760 with
    the rate read off the curve at that hour's utilization (80% at the start, creeping up as
    interest accrues on a fixed supply), and 10% of the interest is protocol revenue.
    Hour 0: 3.1111% / 8,760 = 3.5515e-6; after 24 charges the debt is x 1.0000852."""
    config = replace(TWO_POSITIONS, positions_per_asset=1)
    path = replace(crash_path(), prices_usd=np.full(48, 1_600.0))
    result = simulate([path], {"WETH": WETH}, None, config)
    debt = result.series["total_debt_usd"]
    start_debt = float(make_population(path, WETH, config, config.seed).debt_usd.sum())
    supply = start_debt / 0.8
    index = 1.0
    for hour in range(48):
        utilization = start_debt * index / supply
        index *= 1 + 0.035 * utilization / 0.9 / 8_760
        assert debt[hour] == pytest.approx(start_debt * index, rel=1e-12), hour
    assert debt[23] / start_debt == pytest.approx(1.0000852, abs=1e-7)
    assert result.protocol_revenue_usd == pytest.approx(0.1 * (debt[-1] - start_debt), rel=1e-9)
    assert result.liquidations == 0 and result.bad_debt_usd == 0.0
