"""The engine liquidates an hour's slice of a book at once (`_liquidate`, vectorized) and
re-sorts only the changed tail of the book (`AssetBook.sort(changed_from)`). Both must give
what the per-position loop they replaced gave, bit for bit: the loop is kept here as the
oracle (`loop_liquidate`, the engine's code before the change, line for line), and a
hand-built book pins the numbers, derived on paper in the docstring.

The hand-built book's numbers are exact in binary (price $1, LT 0.75, bonus 1.0625, protocol
fee 0.125), so the boundaries are decided by the rule and not by rounding."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtests import market_dynamics as dynamics_model
from backtests.market_dynamics import BorrowerDynamics
from backtests.simulator import (
    AssetBook,
    BacktestResult,
    SimulationConfig,
    _liquidate,
    _slippage,
    _stable_argsort,
    first_liquidatable,
)

LT, LB = 0.75, 1.0625
FEE_CONFIG = SimulationConfig(liquidation_protocol_fee=0.125)
DEEP_USD = 1e15


def with_gas(gas_usd: float) -> BorrowerDynamics:
    """Dynamics whose only effect on a liquidation is the gas (and the pool moving per sale)."""
    return BorrowerDynamics(leave_hazard_per_hour=0.0, growth_per_hour=0.0, relever_band=0.0,
                            relever_speed_per_hour=0.0, rate_semi_elasticity_per_pp_day=0.0,
                            gas_usd_per_liquidation=gas_usd)


def loop_liquidate(book: AssetBook, first: int, price: float, threshold: float, bonus: float, debt_index: float,
                   depth_usd: float, config: SimulationConfig, result: BacktestResult) -> float:
    """The engine's liquidation one position at a time, as it was before it was vectorized."""
    dynamics = config.dynamics
    sold_usd = 0.0
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
        if dynamics is None:
            slippage = _slippage(seized_value, depth_usd, config.depth_slippage)
            pays = not (slippage >= bonus - 1 and collateral_value > 0)
        else:
            slippage = dynamics_model.incremental_slippage(sold_usd, seized_value, depth_usd, config.depth_slippage)
            pays = dynamics_model.liquidation_profit_usd(repay, seized_value, slippage,
                                                         dynamics.gas_usd_per_liquidation) > 0
        if not pays:
            result.skipped_unprofitable_liquidations += 1
            continue
        sold_usd += seized_value
        bonus_value = seized_value - repay
        result.liquidations += 1
        result.liquidated_debt_usd += repay
        result.borrower_bonus_losses_usd += bonus_value
        result.protocol_revenue_usd += bonus_value * config.liquidation_protocol_fee
        book.tokens[i] = tokens - seized_value / price
        remaining = debt - repay
        if book.tokens[i] <= 1e-12 and remaining > 0:
            result.bad_debt_usd += remaining
            remaining = 0.0
            book.tokens[i] = 0.0
        book.debt_usd[i] = remaining / debt_index
    return sold_usd


def hand_built_book() -> AssetBook:
    """Five borrowers with 1,000 tokens each (at $1: $1,000 of collateral, LT 0.75), owing
    $500, $750, $768, $800 and $960: HF 1.5, 1 exactly, 0.9765625, 0.9375 and 0.78125."""
    book = AssetBook(np.full(5, 1_000.0), np.array([500.0, 750.0, 768.0, 800.0, 960.0]))
    book.sort()
    return book


def run(liquidate, book: AssetBook, depth_usd: float = DEEP_USD, config: SimulationConfig = FEE_CONFIG,
        price: float = 1.0, debt_index: float = 1.0) -> tuple[BacktestResult, float, int]:
    result = BacktestResult("t", 1)
    first = first_liquidatable(book.base, price, LT, debt_index)
    sold = liquidate(book, first, price, LT, LB, debt_index, depth_usd, config, result)
    return result, sold, first


def fields(result: BacktestResult, sold: float, book: AssetBook) -> tuple:
    """Every figure a liquidation writes, as exact bits (float.hex) and types."""
    figures = (result.bad_debt_usd, result.liquidated_debt_usd, result.borrower_bonus_losses_usd,
               result.protocol_revenue_usd, sold)
    return (tuple((float(v).hex(), type(v).__name__) for v in figures), result.liquidations,
            result.skipped_unprofitable_liquidations, book.tokens.tobytes(), book.debt_usd.tobytes())


def test_hand_built_book_by_hand():
    """At $1 the line is base 0.75 (debt per token): the $750 borrower sits at HF 1 exactly and
    is not liquidated (Aave liquidates below 1), so the slice starts at the $768 one (index 2).
    - $768, HF 0.9765625 > 0.95: close factor 50%, $384 repaid, 384 x 1.0625 = 408 tokens seized,
      592 left owing $384; bonus $24, fee 24 x 0.125 = $3.
    - $800, HF 0.9375 <= 0.95: closed in full, $800 repaid, 850 tokens seized, 150 left owing 0;
      bonus $50, fee $6.25.
    - $960, HF 0.78125: closed in full, but 960 x 1.0625 = $1,020 > the $1,000 of collateral: all
      1,000 tokens seized, repaying 1,000 / 1.0625 = $941.18; the $18.82 left on no collateral
      is bad debt; bonus $58.82, fee $7.35.
    Totals: 3 liquidations, $2,125.18 repaid, $132.82 of bonus, $16.60 of fees, 2,258 tokens
    ($2,258) sold. The book re-sorted: bases 0 (the closed one and the written-off one, in
    their order), 0.5, 0.648..., 0.75."""
    book = hand_built_book()
    result, sold, first = run(_liquidate, book)
    assert first == 2
    assert (result.liquidations, result.skipped_unprofitable_liquidations) == (3, 0)
    assert result.liquidated_debt_usd == pytest.approx(384 + 800 + 1_000 / 1.0625, rel=1e-15)
    assert result.borrower_bonus_losses_usd == pytest.approx(24 + 50 + (1_000 - 1_000 / 1.0625), rel=1e-15)
    assert result.protocol_revenue_usd == pytest.approx(3 + 6.25 + (1_000 - 1_000 / 1.0625) * 0.125, rel=1e-15)
    assert result.bad_debt_usd == pytest.approx(960 - 1_000 / 1.0625, rel=1e-13)
    assert sold == 2_258.0
    assert book.tokens.tolist() == [1_000.0, 1_000.0, 592.0, 150.0, 0.0]
    assert book.debt_usd.tolist() == [500.0, 750.0, 384.0, 0.0, 0.0]
    book.sort(changed_from=first)
    assert book.tokens.tolist() == [150.0, 0.0, 1_000.0, 592.0, 1_000.0]
    assert book.base.tolist() == [0.0, 0.0, 0.5, 384 / 592, 0.75]
    assert (book.tokens_total, book.debt_total) == (2_742.0, 1_634.0)


@pytest.mark.parametrize("price, first", [(1.0, 2), (float(np.nextafter(1.0, 0.0)), 1)])
def test_hand_built_book_same_bits_as_the_loop(price, first):
    """At $1 the $750 borrower is at HF 1 and waits; one ulp cheaper it is below 1 and is half
    closed with the others (the slice starts at index 1). Either way the loop's bits."""
    vectorized, loop = hand_built_book(), hand_built_book()
    result, sold, sliced_from = run(_liquidate, vectorized, price=price)
    assert sliced_from == first and result.liquidations == 5 - first
    assert fields(result, sold, vectorized) == fields(*run(loop_liquidate, loop, price=price)[:2], loop)


@pytest.mark.parametrize("depth_usd, liquidated, skipped", [(15 * 408.0, 0, 3), (15 * 600.0, 1, 2)])
def test_hand_built_book_waits_like_the_loop(depth_usd, liquidated, skipped):
    """With `depth_slippage` 0.5 the pool's reserve is the depth and selling v costs
    v / (depth + v). At depth 15 x 408 the $768 borrower's 408 tokens cost 408 / 6,528 = 1/16,
    exactly the bonus: it waits, and so do the larger two. At 15 x 600 it goes through (408 <
    600) and the 850 and 1,000 token sales wait. The waiting positions stay as they were."""
    config = SimulationConfig(liquidation_protocol_fee=0.125, depth_slippage=0.5)
    vectorized, loop = hand_built_book(), hand_built_book()
    result, sold, _ = run(_liquidate, vectorized, depth_usd, config)
    assert (result.liquidations, result.skipped_unprofitable_liquidations) == (liquidated, skipped)
    assert sold == (408.0 if liquidated else 0.0)
    assert vectorized.debt_usd.tolist() == [500.0, 750.0, 384.0 if liquidated else 768.0, 800.0, 960.0]
    assert fields(result, sold, vectorized) == fields(*run(loop_liquidate, loop, depth_usd, config)[:2], loop)


def test_hand_built_book_with_dynamics_same_bits_as_the_loop():
    """With market dynamics each sale moves the pool for the next and gas is paid: whether the
    third liquidation pays depends on the first two."""
    dynamics = with_gas(5.0)
    for depth_usd in (DEEP_USD, 3_000.0, 20_000.0, 60_000.0):
        config = SimulationConfig(liquidation_protocol_fee=0.125, dynamics=dynamics)
        vectorized, loop = hand_built_book(), hand_built_book()
        assert (fields(*run(_liquidate, vectorized, depth_usd, config)[:2], vectorized)
                == fields(*run(loop_liquidate, loop, depth_usd, config)[:2], loop))


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(1, 400), price=st.floats(0.2, 2.0),
       debt_index=st.floats(1.0, 1.3), depth_usd=st.sampled_from([DEEP_USD, 1e6, 1e4, 300.0]),
       gas_usd=st.sampled_from([None, 0.0, 2.0]))
def test_random_books_same_bits_as_the_loop(seed, size, price, debt_index, depth_usd, gas_usd):
    """Books of every shape (zero debt, zero collateral, duplicate bases, far under water) at any
    price, index and depth, with and without dynamics: every figure and the book after the
    liquidation and the re-sort are the loop's, bit for bit, and the re-sort of the changed
    tail is the full stable sort."""
    rng = np.random.default_rng(seed)
    tokens = rng.choice([0.0, 1.0, 2.5, 1e-13], size) * (rng.random(size) < 0.3) + rng.lognormal(0, 1, size)
    debt = tokens * rng.uniform(0.2, 1.2, size)
    debt[rng.random(size) < 0.1] = 0.0
    tokens[rng.random(size) < 0.05] = 0.0
    debt[rng.random(size) < 0.1] = 0.5  # duplicates: ties among the bases
    config = SimulationConfig(dynamics=None if gas_usd is None else with_gas(gas_usd))
    vectorized = AssetBook(tokens, debt)
    vectorized.sort()
    loop = copy.deepcopy(vectorized)
    result_v, sold_v, first = run(_liquidate, vectorized, depth_usd, config, price, debt_index)
    result_l, sold_l, _ = run(loop_liquidate, loop, depth_usd, config, price, debt_index)
    assert fields(result_v, sold_v, vectorized) == fields(result_l, sold_l, loop)
    vectorized.sort(changed_from=first)
    loop.sort()
    assert (vectorized.tokens.tobytes(), vectorized.debt_usd.tobytes(), vectorized.base.tobytes()) == (
        loop.tokens.tobytes(), loop.debt_usd.tobytes(), loop.base.tobytes())
    assert (vectorized.tokens_total, vectorized.debt_total) == (loop.tokens.sum(), loop.debt_usd.sum())
    assert vectorized.highest_base == loop.base[-1]


@pytest.mark.parametrize("ties", [False, True])
def test_large_book_sort_is_the_stable_sort(ties):
    """A large book is sorted by the quick unstable sort when its bases are distinct; with ties
    (zero-debt positions all at base 0) it must still come out in the stable order."""
    rng = np.random.default_rng(7)
    values = rng.random(10_000)
    if ties:
        values[rng.random(10_000) < 0.2] = 0.0
        values[rng.random(10_000) < 0.01] = np.nan
    assert _stable_argsort(values).tolist() == np.argsort(values, kind="stable").tolist()
