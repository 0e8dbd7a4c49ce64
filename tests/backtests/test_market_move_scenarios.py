"""One hour of borrower behaviour in the engine (`simulator._move_market`), each behaviour on
its own on a hand-made book, derived on paper: re-leverage up to the debt reserve's borrow
cap, the borrow-rate response both ways, arrivals against the supply cap, departures,
borrowers defending their positions, and the debt index between stored and today's debt.
WETH: LT 83%, LTV 80.5%; USDC is the governed debt reserve at $1."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from backtests.market_dynamics import BorrowerDynamics, FlowStep
from backtests.simulator import AssetBook, DebtReserve, MarketPath, _move_market
from backtests.steward_model import SimulatedSteward
from strategies.params import AAVE_V3_OCT_2023, Param

WETH = AAVE_V3_OCT_2023["WETH"]
USDC = AAVE_V3_OCT_2023["USDC"]
INDEX = 1.25  # stored debt x 1.25 = today's debt
QUIET = BorrowerDynamics(leave_hazard_per_hour=0.0, growth_per_hour=0.0, relever_band=0.25, relever_speed_per_hour=0.0,
                         rate_semi_elasticity_per_pp_day=0.0, gas_usd_per_liquidation=0.0)


def world(debt_today_usd: list[float], *, tokens: list[float] | None = None, borrow_cap: int = 0, supply_cap: int = 0,
          aims: list[float] | None = None, price: float = 2_000.0):
    tokens = np.array(tokens or [10.0] * len(debt_today_usd))
    book = AssetBook(tokens, np.array(debt_today_usd) / INDEX, np.array(aims or [1.5] * len(tokens)))
    book.sort()
    path = MarketPath("WETH", np.array([0]), np.array([price]), 5e6)
    steward = SimulatedSteward({"WETH": WETH.with_changes({Param.SUPPLY_CAP: supply_cap}) if supply_cap else WETH,
                                "USDC": USDC.with_changes({Param.BORROW_CAP: borrow_cap}) if borrow_cap else USDC}, 3_600)
    usdc = DebtReserve("USDC", np.array([0]), np.array([1.0]), 1e9)
    return book, path, steward, usdc


def move(book, path, steward, usdc, dynamics, *, rate=0.05, reference_rate=0.05, debt=True, templates=None, seed=0):
    flows = FlowStep()
    total_debt = float(book.debt_usd.sum()) * INDEX
    templates = templates or {"WETH": (np.array([20_000.0]), np.array([1.5]))}
    _move_market([path], {"WETH": book}, steward, templates, 0, INDEX, total_debt, rate, reference_rate,
                 usdc if debt else None, dynamics, np.random.default_rng(seed), flows)
    return flows


def test_re_leverage_up_to_the_target_at_its_speed():
    """10 WETH ($20,000) owing $8,000 today: HF 2.075 > 1.5 x 1.25, so it borrows half
    (speed 0.5) of the way to HF 1.5: min(16,600 / 1.5, 16,100) - 8,000 = 3,066.67; half is
    1,533.33. Debt is stored back at index 1: 9,533.33 / 1.25."""
    book, path, steward, usdc = world([8_000.0])
    flows = move(book, path, steward, usdc, replace(QUIET, relever_speed_per_hour=0.5))
    assert flows.relevered_usd == pytest.approx(1_533.3333, abs=1e-3)
    assert book.debt_usd.tolist() == pytest.approx([9_533.3333 / INDEX], abs=1e-3)


def test_re_leverage_stops_at_the_borrow_caps_room():
    """USDC borrow cap 9,000 tokens ($9,000) with $8,000 owed: $1,000 of room, all of it taken."""
    book, path, steward, usdc = world([8_000.0], borrow_cap=9_000)
    flows = move(book, path, steward, usdc, replace(QUIET, relever_speed_per_hour=0.5))
    assert flows.relevered_usd == pytest.approx(1_000.0)
    assert book.debt_usd.tolist() == pytest.approx([9_000.0 / INDEX])


def test_without_a_debt_reserve_there_is_no_borrow_cap():
    book, path, steward, usdc = world([8_000.0], borrow_cap=9_000)
    flows = move(book, path, steward, usdc, replace(QUIET, relever_speed_per_hour=0.5), debt=False)
    assert flows.relevered_usd == pytest.approx(1_533.3333, abs=1e-3)


def test_a_rate_above_the_reference_shrinks_demand():
    """Semi-elasticity -5% a day per point, rate 2 points above the reference: the hour's factor
    is exp(-0.05 / 24 x 2) = 0.9958420; $8,000 becomes $7,966.74 (-$33.26)."""
    book, path, steward, usdc = world([8_000.0])
    factor = math.exp(-0.05 / 24 * 2)
    flows = move(book, path, steward, usdc, replace(QUIET, rate_semi_elasticity_per_pp_day=-0.05), rate=0.07)
    assert flows.rate_response_usd == pytest.approx(-8_000 * (1 - factor), rel=1e-12)
    assert book.debt_usd.tolist() == pytest.approx([8_000 * factor / INDEX], rel=1e-12)


def test_a_rate_below_the_reference_grows_demand_within_ltv_and_room():
    """Rate 2 points under the reference: factor exp(0.05 / 24 x 2) = 1.0041754. Position A owes
    $8,000 (+$33.40 wanted, within its LTV room of $8,100); B owes $16,090 of its $16,100 LTV
    limit (+$67.18 wanted, $10 allowed). Total $43.40; with only $20 of cap room, both scaled
    down to $20."""
    factor = math.exp(0.05 / 24 * 2)
    wanted = [8_000 * (factor - 1), 10.0]
    book, path, steward, usdc = world([8_000.0, 16_090.0])
    flows = move(book, path, steward, usdc, replace(QUIET, rate_semi_elasticity_per_pp_day=-0.05), rate=0.03)
    assert flows.rate_response_usd == pytest.approx(sum(wanted), rel=1e-9)
    assert sorted((book.debt_usd * INDEX).tolist()) == pytest.approx([8_000 + wanted[0], 16_100.0], rel=1e-12)
    tight, path, steward, usdc = world([8_000.0, 16_090.0], borrow_cap=24_110)
    flows = move(tight, path, steward, usdc, replace(QUIET, rate_semi_elasticity_per_pp_day=-0.05), rate=0.03)
    assert flows.rate_response_usd == pytest.approx(20.0) and flows.blocked_borrow_usd == pytest.approx(sum(wanted) - 20)
    assert float(tight.debt_usd.sum()) * INDEX == pytest.approx(24_110.0)


def test_no_rate_response_without_a_debt_reserve():
    book, path, steward, usdc = world([8_000.0])
    flows = move(book, path, steward, usdc, replace(QUIET, rate_semi_elasticity_per_pp_day=-0.05), rate=0.07, debt=False)
    assert flows.rate_response_usd == 0.0 and book.debt_usd.tolist() == [8_000.0 / INDEX]


def test_arrivals_fill_the_supply_cap_and_the_rest_is_refused():
    """Each arrival is $20,000 at $2,000 (10 WETH) aiming at HF 1.5: debt min(20,000 x 0.83 /
    1.5, 20,000 x 0.805) = $11,066.67. 40 positions with growth 50% an hour expect 20 arrivals;
    a supply cap of 430 WETH leaves room for 3 of them; the others are refused by value."""
    book, path, steward, usdc = world([5_000.0] * 40, supply_cap=430)
    flows = move(book, path, steward, usdc, replace(QUIET, growth_per_hour=0.5))
    drawn = flows.arrived + round(flows.blocked_supply_usd / 20_000)
    assert drawn > 3 and flows.arrived == 3
    assert flows.blocked_supply_usd == pytest.approx((drawn - 3) * 20_000.0)
    assert len(book.tokens) == 43 and float(book.tokens.sum()) == pytest.approx(430.0)
    new_debt = np.sort(book.debt_usd * INDEX)[-3:]
    assert new_debt.tolist() == pytest.approx([20_000 * 0.83 / 1.5] * 3, rel=1e-12)


def test_arrivals_track_the_reserves_own_size():
    """Target 500 WETH with 400 in the book: a $200,000 gap at $2,000; templates scaled to the
    target (one $20,000 template -> $1M: scale 50), so 0.2 arrivals expected of $1M each."""
    book, path, steward, usdc = world([5_000.0] * 40)
    path = replace(path, target_tokens=np.array([500.0]))
    arrived = [move(*world([5_000.0] * 40)[:1], path, steward, usdc, QUIET, seed=s).arrived for s in range(200)]
    assert 0.1 < np.mean(arrived) < 0.3  # Poisson(0.2) over 200 seeded hours
    full = replace(path, target_tokens=np.array([400.0]))
    assert all(move(*world([5_000.0] * 40)[:1], full, steward, usdc, QUIET, seed=s).arrived == 0 for s in range(20))


def test_departures_empty_positions_and_count():
    """Leave hazard 0.999 (seeded draws all under it): every position leaves (repays and
    withdraws) and is compacted away."""
    book, path, steward, usdc = world([5_000.0] * 3)
    flows = move(book, path, steward, usdc, replace(QUIET, leave_hazard_per_hour=0.999))
    assert flows.departed == 3 and len(book.tokens) == 0


def test_defenders_repay_back_to_their_target():
    """All positions under HF 1.2 defend (share 1): 10 WETH owing $15,000 (HF 1.1067) repay to
    HF 1.5: debt 16,600 / 1.5 = $11,066.67, $3,933.33 repaid. One at HF 2 does nothing."""
    book, path, steward, usdc = world([15_000.0, 8_300.0])
    flows = move(book, path, steward, usdc, replace(QUIET, defend_health=1.2, defend_share_per_hour=1.0))
    assert flows.defended_usd == pytest.approx(15_000 - 16_600 / 1.5, rel=1e-12)
    assert sorted((book.debt_usd * INDEX).tolist()) == pytest.approx([8_300.0, 16_600 / 1.5], rel=1e-12)


# ------------------------------------------------------------------ two assets in one hour: flows add up, room is shared

WBTC = AAVE_V3_OCT_2023["WBTC"]


def two_assets(weth_debt: float, wbtc_debt: float, *, borrow_cap: int = 0, supply_cap_weth: int = 0):
    """WETH: 10 at $2,000; WBTC: 1 at $20,000 (its LT and LTV from the registry): $20,000 each."""
    weth = AssetBook(np.array([10.0]), np.array([weth_debt / INDEX]), np.array([1.5]))
    wbtc = AssetBook(np.array([1.0]), np.array([wbtc_debt / INDEX]), np.array([1.5]))
    for book in (weth, wbtc):
        book.sort()
    paths = [MarketPath("WETH", np.array([0]), np.array([2_000.0]), 5e6),
             MarketPath("WBTC", np.array([0]), np.array([20_000.0]), 5e6)]
    params = {"WETH": WETH.with_changes({Param.SUPPLY_CAP: supply_cap_weth}) if supply_cap_weth else WETH, "WBTC": WBTC,
              "USDC": USDC.with_changes({Param.BORROW_CAP: borrow_cap}) if borrow_cap else USDC}
    return {"WETH": weth, "WBTC": wbtc}, paths, SimulatedSteward(params, 3_600)


def move_both(books, paths, steward, dynamics, *, rate=0.05, reference_rate=0.05, seed=0):
    flows = FlowStep()
    total = sum(float(b.debt_usd.sum()) for b in books.values()) * INDEX
    templates = {s: (np.array([20_000.0]), np.array([1.5])) for s in books}
    usdc = DebtReserve("USDC", np.array([0]), np.array([1.0]), 1e9)
    _move_market(paths, books, steward, templates, 0, INDEX, total, rate, reference_rate, usdc, dynamics,
                 np.random.default_rng(seed), flows)
    return flows


def test_departures_of_two_assets_add_up():
    books, paths, steward = two_assets(5_000.0, 5_000.0)
    assert move_both(books, paths, steward, replace(QUIET, leave_hazard_per_hour=0.999)).departed == 2


def test_re_leverage_of_two_assets_shares_the_caps_room():
    """$1,000 of room: WETH takes what it wants first (1,533.33 > 1,000: all of it), WBTC none."""
    books, paths, steward = two_assets(8_000.0, 8_000.0, borrow_cap=17_000)
    flows = move_both(books, paths, steward, replace(QUIET, relever_speed_per_hour=0.5))
    assert flows.relevered_usd == pytest.approx(1_000.0)
    assert float(books["WBTC"].debt_usd.sum()) * INDEX == pytest.approx(8_000.0)
    free, paths, steward = two_assets(8_000.0, 8_000.0)
    wanted_wbtc = (min(20_000 * WBTC.liquidation_threshold_bps / 1e4 / 1.5, 20_000 * WBTC.ltv_bps / 1e4) - 8_000) * 0.5
    assert move_both(free, paths, steward, replace(QUIET, relever_speed_per_hour=0.5)).relevered_usd == pytest.approx(
        1_533.3333 + wanted_wbtc, abs=1e-3)


def test_defended_repayments_of_two_assets_add_up():
    """Both at HF under 1.2 (WETH owing $15,000; WBTC owing $14,000) repay to HF 1.5."""
    books, paths, steward = two_assets(15_000.0, 14_000.0)
    flows = move_both(books, paths, steward, replace(QUIET, defend_health=1.2, defend_share_per_hour=1.0))
    wbtc_target = 20_000 * WBTC.liquidation_threshold_bps / 1e4 / 1.5
    assert flows.defended_usd == pytest.approx((15_000 - 16_600 / 1.5) + (14_000 - wbtc_target), rel=1e-12)


def test_rate_response_of_two_assets_shares_the_room_and_adds_up():
    """Rate 2 points under the reference: each position wants x 1.0041754; a cap with $40 of
    room gives WETH its $33.40 and WBTC the $6.60 left; then nothing is left."""
    factor = math.exp(0.05 / 24 * 2)
    books, paths, steward = two_assets(8_000.0, 8_000.0, borrow_cap=16_040)
    flows = move_both(books, paths, steward, replace(QUIET, rate_semi_elasticity_per_pp_day=-0.05), rate=0.03)
    assert flows.rate_response_usd == pytest.approx(40.0)
    assert flows.blocked_borrow_usd == pytest.approx(2 * 8_000 * (factor - 1) - 40.0)
    assert float(books["WETH"].debt_usd.sum()) * INDEX == pytest.approx(8_000 * factor)


def test_arrivals_borrow_only_within_the_room_and_the_rest_is_blocked():
    """Growth 200% an hour on one position per asset (templates $20,000 at HF 1.5): the USDC
    cap leaves $5,000 of room; what the arrivals wanted beyond it is blocked and their debts
    are scaled down to fill exactly the room, shared across both assets."""
    books, paths, steward = two_assets(5_000.0, 5_000.0, borrow_cap=15_000)
    flows = move_both(books, paths, steward, replace(QUIET, growth_per_hour=2.0), seed=3)
    arrived = {symbol: len(book.tokens) - 1 for symbol, book in books.items()}
    arrived_debt = sum(float(book.debt_usd.sum()) for book in books.values()) * INDEX - 10_000.0
    assert flows.arrived == sum(arrived.values()) >= 2 and arrived_debt == pytest.approx(5_000.0)
    wanted = (20_000 * 0.83 / 1.5 * arrived["WETH"]
              + 20_000 * WBTC.liquidation_threshold_bps / 1e4 / 1.5 * arrived["WBTC"])
    assert flows.blocked_borrow_usd == pytest.approx(wanted - 5_000.0, rel=1e-9)
