"""Real Aave v3.0 (core 1.19.3) on both EVM backends against the strategy's own math: the
kinked curve, liquidation at the price the backtest engine predicts, Aave v3.0's close factor
(50% above HF 0.95, 100% at or below, no $2,000 rule), the bonus and protocol fee, and bad debt
as the debt left on an account without collateral (v3.0 has no deficit accounting).

The model side is the backtest engine's: a position is liquidatable when
debt x index / (tokens x LT) >= price (`AssetBook.base` is debt / tokens), and
`backtests.simulator._liquidate` settles it (close factor, bonus, bad debt).

Positions borrow USDC from a 100M USDC pool, so utilisation is ~1e-4 and interest moves the
debt by ~1.5e-13 per second: the 1e-9 price margins below hold for hours of block time.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from web3.logs import DISCARD

from backtests.simulator import AssetBook, BacktestResult, MarketPath, SimulationConfig, _liquidate
from chain.errors import ContractRevert
from chain.node import advance_time
from strategies.params import AAVE_V3_OCT_2023
from tests.chain.aave_fixtures import MAX_UINT256, AaveSystem

RAY = 10**27
YEAR = 365 * 86_400
USDC = 10**6
WETH = 10**18
E8 = 10**8
PARITY = 1e-9
WETH_LT = AAVE_V3_OCT_2023["WETH"].liquidation_threshold_bps / 1e4  # 0.83
WETH_LB = AAVE_V3_OCT_2023["WETH"].liquidation_bonus_bps / 1e4  # 1.05


def aave_compounded(rate_ray: int, seconds: int) -> int:
    """MathUtils.calculateCompoundedInterest, written from Aave's formula (3-term binomial)."""
    if seconds == 0:
        return RAY
    base_power_two = rate_ray * rate_ray // RAY // (YEAR * YEAR)
    base_power_three = base_power_two * rate_ray // RAY // YEAR
    second = seconds * (seconds - 1) * base_power_two // 2
    third = seconds * (seconds - 1) * max(seconds - 2, 0) * base_power_three // 6
    return RAY + rate_ray * seconds // YEAR + second + third


def kinked_borrow_rate(utilization: float, optimal: float, base: float, slope1: float, slope2: float) -> float:
    if utilization <= optimal:
        return base + slope1 * utilization / optimal
    return base + slope1 + slope2 * (utilization - optimal) / (1 - optimal)


def open_position(aave: AaveSystem, weth_tokens: float = 10, usdc_debt: float = 12_000, lent_usdc: int = 100_000_000):
    """`weth_tokens` WETH supplied against `usdc_debt` USDC borrowed from a `lent_usdc` pool."""
    lender, borrower = aave.users[0], aave.users[1]
    aave.supply(lender, "USDC", lent_usdc * USDC)
    aave.supply(borrower, "WETH", int(weth_tokens * WETH))
    aave.borrow(borrower, "USDC", int(usdc_debt * USDC))
    return borrower


def engine_book(tokens: float, debt_usd: float) -> AssetBook:
    book = AssetBook(np.array([float(tokens)]), np.array([float(debt_usd)]))
    book.sort()
    return book


def engine_liquidation_price(tokens: float, debt_usd: float, threshold: float) -> float:
    """The engine's liquidation price: base x index / LT with the debt index at 1 (debt is today's)."""
    return float(engine_book(tokens, debt_usd).base[0]) / threshold


def engine_liquidate(tokens: float, debt_usd: float, price: float) -> tuple[AssetBook, BacktestResult]:
    """The engine's settlement of one WETH position at `price` (deep market: no slippage skip)."""
    book = engine_book(tokens, debt_usd)
    path = MarketPath("WETH", np.array([0]), np.array([price]), liquidity_depth_usd=1e15)
    result = BacktestResult("parity", 1)
    _liquidate(book, 0, price, WETH_LT, WETH_LB, 1.0, path.depth_at(0), SimulationConfig(), result)
    return book, result


def debt_usd_now(aave: AaveSystem, account: str) -> float:
    return aave.account_data(account)[1] / E8


def price_e8(price_usd: float, *, rounding) -> int:
    return int(rounding(price_usd * E8))


@pytest.mark.parametrize("borrowed_usdc", [100_000, 950_000])
def test_interest_accrues_as_the_registry_curve_says(aave: AaveSystem, borrowed_usdc: int):
    """USDC's curve (registry): uOpt 90%, base 0, slope1 3.5%, slope2 60%, RF 10%.
    At U = 10%: 3.5% x 0.1 / 0.9 = 0.3889%; at U = 95%: 3.5% + 60% x 0.05 / 0.10 = 33.5%.
    Supply rate (v3.0): borrow rate x U x (1 - RF). Debt after 30 days: Aave's 3-term compounding
    of the borrow rate (within 1e-6 of exp(r t))."""
    usdc_params = AAVE_V3_OCT_2023["USDC"]
    aave.supply(aave.users[0], "USDC", 1_000_000 * USDC)
    aave.supply(aave.users[1], "WETH", 1_000 * WETH)
    aave.borrow(aave.users[1], "USDC", borrowed_usdc * USDC)

    usdc = aave.reader().read().reserve("USDC")
    expected_rate = kinked_borrow_rate(
        borrowed_usdc / 1_000_000,
        usdc_params.optimal_usage_ratio_bps / 1e4,
        usdc_params.base_variable_borrow_rate_bps / 1e4,
        usdc_params.variable_rate_slope1_bps / 1e4,
        usdc_params.variable_rate_slope2_bps / 1e4,
    )
    assert expected_rate == pytest.approx(0.0038889 if borrowed_usdc == 100_000 else 0.335, rel=1e-4)
    assert usdc.variable_borrow_rate_ray / RAY == pytest.approx(expected_rate, rel=1e-9)
    assert usdc.liquidity_rate_ray / RAY == pytest.approx(
        expected_rate * usdc.utilization * (1 - usdc_params.reserve_factor_bps / 1e4), rel=1e-9
    )

    accrual_start = aave.data_provider.functions.getReserveData(usdc.asset).call()[11]
    elapsed = advance_time(aave.w3, 30 * 86_400) - accrual_start
    variable_debt = aave.w3.eth.contract(
        address=aave.market.reserve("USDC").variable_debt_token, abi=aave.token("USDC").abi
    )
    debt = variable_debt.functions.balanceOf(aave.users[1].address).call()
    expected_debt = borrowed_usdc * USDC * aave_compounded(usdc.variable_borrow_rate_ray, elapsed) // RAY
    assert debt == pytest.approx(expected_debt, abs=1)
    assert debt / (borrowed_usdc * USDC) == pytest.approx(math.exp(expected_rate * elapsed / YEAR), rel=1e-6)


def test_borrow_up_to_ltv_and_not_one_unit_more(aave: AaveSystem):
    """LTV 80.5% of 10 WETH at $1,600 = $12,880 exactly: 12,880 USDC is allowed, one more raw
    unit (1e-6 USDC) is COLLATERAL_CANNOT_COVER_NEW_BORROW."""
    borrower = open_position(aave, usdc_debt=12_880)
    assert aave.account_data(borrower.address)[1] == 12_880 * E8
    with pytest.raises(ContractRevert) as raised:
        aave.borrow(borrower, "USDC", 1)
    assert raised.value.name == "COLLATERAL_CANNOT_COVER_NEW_BORROW"


def test_health_factor_matches_the_model(aave: AaveSystem):
    """10 WETH at $1,600 against 12,000 USDC: HF = 16,000 x 0.83 / 12,000 = 1.10667, as Aave's
    getUserAccountData says within 1e-9, and again after a price move to $1,500 (1.0375)."""
    borrower = open_position(aave)
    for price in (1_600, 1_500):
        aave.push_price("WETH", price * E8)
        debt = debt_usd_now(aave, borrower.address)
        model_health = 10 * price * WETH_LT / debt
        assert aave.account_data(borrower.address)[5] / 1e18 == pytest.approx(model_health, rel=PARITY)
    assert model_health == pytest.approx(1.0375, rel=1e-6)


def test_liquidation_happens_at_the_engine_liquidation_price(aave: AaveSystem):
    """Liquidation price = 12,000 / (10 x 0.83) = $1,445.7831. A price 1e-9 above it leaves HF
    >= 1 (HEALTH_FACTOR_NOT_BELOW_THRESHOLD); 1e-9 below it, the keeper liquidates."""
    borrower = open_position(aave)
    weth, usdc = aave.token("WETH").address, aave.token("USDC").address
    keeper = aave.keeper("USDC", 20_000 * USDC)
    threshold_price = engine_liquidation_price(10, debt_usd_now(aave, borrower.address), WETH_LT)
    assert threshold_price == pytest.approx(1_445.7831, rel=1e-7)

    aave.push_price("WETH", price_e8(threshold_price * (1 + PARITY), rounding=math.ceil))
    assert aave.account_data(borrower.address)[5] >= 10**18
    with pytest.raises(ContractRevert) as raised:
        keeper.send(aave.pool.functions.liquidationCall(weth, usdc, borrower.address, 6_000 * USDC, False))
    assert raised.value.name == "HEALTH_FACTOR_NOT_BELOW_THRESHOLD"

    aave.push_price("WETH", price_e8(threshold_price * (1 - PARITY), rounding=math.floor))
    assert aave.account_data(borrower.address)[5] < 10**18
    receipt = keeper.send(aave.pool.functions.liquidationCall(weth, usdc, borrower.address, 6_000 * USDC, False))
    assert len(aave.pool.events.LiquidationCall().process_receipt(receipt, errors=DISCARD)) == 1


def liquidate_all_you_can(aave: AaveSystem, borrower, price_usd_e8: int):
    """The keeper offers to repay everything (MAX): Aave caps it by the close factor."""
    keeper = aave.keeper("USDC", 20_000 * USDC)
    aave.push_price("WETH", price_usd_e8)
    debt_before = debt_usd_now(aave, borrower.address)
    receipt = keeper.send(aave.pool.functions.liquidationCall(
        aave.token("WETH").address, aave.token("USDC").address, borrower.address, MAX_UINT256, False
    ))
    event = aave.pool.events.LiquidationCall().process_receipt(receipt, errors=DISCARD)[0]["args"]
    return keeper, debt_before, event


def borrower_balances(aave: AaveSystem, borrower) -> tuple[float, float]:
    """(WETH collateral tokens, USDC debt tokens) of the borrower now."""
    a_weth = aave.w3.eth.contract(address=aave.market.reserve("WETH").a_token, abi=aave.token("WETH").abi)
    debt_usdc = aave.w3.eth.contract(address=aave.market.reserve("USDC").variable_debt_token, abi=aave.token("USDC").abi)
    return (a_weth.functions.balanceOf(borrower.address).call() / WETH,
            debt_usdc.functions.balanceOf(borrower.address).call() / USDC)


def test_liquidation_pays_the_bonus_and_protocol_fee(aave: AaveSystem):
    """At $1,440: HF = 14,400 x 0.83 / 12,000 = 0.996 > 0.95, close factor 50%: 6,000 USDC repaid,
    6,000 / 1,440 x 1.05 = 4.375 WETH seized; bonus part 4.375 - 4.375 / 1.05 = 0.208333 WETH, of
    which 10% (0.0208333) goes to the treasury and 4.3541667 WETH to the keeper. The borrower keeps
    5.625 WETH and owes 6,000 USDC: the engine's `_liquidate` says the same within 1e-9."""
    borrower = open_position(aave)
    treasury_a_weth = aave.w3.eth.contract(address=aave.market.reserve("WETH").a_token, abi=aave.token("WETH").abi)
    treasury_before = treasury_a_weth.functions.balanceOf(aave.market.treasury).call()
    keeper, debt_before, event = liquidate_all_you_can(aave, borrower, 1_440 * E8)

    book, result = engine_liquidate(10, debt_before, 1_440)
    assert result.liquidated_debt_usd == pytest.approx(6_000, rel=1e-6)
    assert event["debtToCover"] / USDC == pytest.approx(result.liquidated_debt_usd, rel=PARITY)
    collateral_left, debt_left = borrower_balances(aave, borrower)
    assert collateral_left == pytest.approx(float(book.tokens[0]), rel=PARITY)
    assert collateral_left == pytest.approx(5.625, rel=1e-6)
    assert debt_left == pytest.approx(float(book.debt_usd[0]), rel=PARITY)
    assert result.bad_debt_usd == 0

    seized = 6_000 / 1_440 * 1.05
    protocol_fee = (seized - seized / 1.05) * 0.10
    assert aave.token("WETH").functions.balanceOf(keeper.address).call() / WETH == pytest.approx(
        seized - protocol_fee, rel=1e-6
    )
    assert event["liquidatedCollateralAmount"] / WETH == pytest.approx(seized - protocol_fee, rel=1e-6)
    treasury_gain = (treasury_a_weth.functions.balanceOf(aave.market.treasury).call() - treasury_before) / WETH
    assert treasury_gain == pytest.approx(protocol_fee, rel=1e-6)
    assert result.protocol_revenue_usd / 1_440 == pytest.approx(protocol_fee, rel=1e-6)


@pytest.mark.parametrize("side", ["above", "at_or_below"])
def test_close_factor_switches_at_health_factor_0_95(aave: AaveSystem, side: str):
    """HF = 0.95 at price 0.95 x 12,000 / (10 x 0.83) = $1,373.494. 1e-9 above: 50% of the debt
    (6,000 USDC) is repaid; 1e-9 below: 100% (12,000 USDC, needing 12,000 x 1.05 / 1,373.49 =
    9.17 WETH of the 10, so no bad debt). The engine's close factor agrees on both sides."""
    borrower = open_position(aave)
    debt = debt_usd_now(aave, borrower.address)
    boundary = 0.95 * engine_liquidation_price(10, debt, WETH_LT)
    assert boundary == pytest.approx(1_373.494, rel=1e-6)
    price = (price_e8(boundary * (1 + PARITY), rounding=math.ceil) if side == "above"
             else price_e8(boundary * (1 - PARITY), rounding=math.floor))
    _, debt_before, event = liquidate_all_you_can(aave, borrower, price)
    book, result = engine_liquidate(10, debt_before, price / E8)
    expected_share = 0.5 if side == "above" else 1.0
    assert result.liquidated_debt_usd == pytest.approx(debt_before * expected_share, rel=PARITY)
    assert event["debtToCover"] / USDC == pytest.approx(debt_before * expected_share, rel=PARITY)
    collateral_left, _ = borrower_balances(aave, borrower)
    assert collateral_left == pytest.approx(float(book.tokens[0]), rel=PARITY)
    assert result.bad_debt_usd == 0


def test_small_position_has_no_2000_dollar_rule(aave: AaveSystem):
    """v3.0 has no full liquidation of positions under $2,000: 0.1 WETH against 120 USDC at
    $1,440 (HF 0.996) is closed at 50% (60 USDC), as the engine (which has no such rule) says."""
    borrower = open_position(aave, weth_tokens=0.1, usdc_debt=120)
    _, debt_before, event = liquidate_all_you_can(aave, borrower, 1_440 * E8)
    assert debt_before < 2_000
    _, result = engine_liquidate(0.1, debt_before, 1_440)
    assert event["debtToCover"] / USDC == pytest.approx(result.liquidated_debt_usd, rel=PARITY)
    assert result.liquidated_debt_usd == pytest.approx(60, rel=1e-6)


@pytest.mark.parametrize("side", ["above", "below"])
def test_bad_debt_appears_where_the_model_says(aave: AaveSystem, side: str):
    """At or below HF 0.95 all debt may be closed, which needs debt x 1.05 of collateral: the
    collateral covers it iff price >= 12,000 x 1.05 / 10 = $1,260. 1e-9 above: all 12,000 USDC
    repaid, a sliver of WETH left, no bad debt. 1e-9 below: all 10 WETH seized, repaying
    10 x 1,260 / 1.05 = 12,000 - 1.2e-5 USDC; the rest stays owed by an account with no
    collateral: bad debt, as the engine's `_liquidate` books it. At $1,000 that is
    12,000 - 10,000 / 1.05 = 2,476.19 USDC."""
    borrower = open_position(aave)
    debt = debt_usd_now(aave, borrower.address)
    boundary = debt * WETH_LB / 10
    assert boundary == pytest.approx(1_260, rel=1e-6)
    price = (price_e8(boundary * (1 + PARITY), rounding=math.ceil) if side == "above"
             else price_e8(boundary * (1 - PARITY), rounding=math.floor))
    _, debt_before, _ = liquidate_all_you_can(aave, borrower, price)
    book, result = engine_liquidate(10, debt_before, price / E8)
    collateral_left, debt_left = borrower_balances(aave, borrower)
    if side == "above":
        assert result.bad_debt_usd == 0 and debt_left == 0
        assert collateral_left > 0 and collateral_left == pytest.approx(float(book.tokens[0]), rel=1e-3)
    else:
        assert collateral_left == 0 and float(book.tokens[0]) == 0
        assert debt_left > 0
        assert debt_left == pytest.approx(result.bad_debt_usd, abs=2e-6)  # ~12 raw units, +-2
        # Aave keeps the debt on the account; only the model books it as bad debt.
        collateral_base, debt_base, *_ = aave.account_data(borrower.address)
        assert collateral_base == 0 and debt_base > 0


def test_bad_debt_after_a_crash(aave: AaveSystem):
    """$1,600 -> $1,000: HF 0.69, all 10 WETH seized for 10,000 / 1.05 = 9,523.81 USDC; bad debt
    12,000 - 9,523.81 = 2,476.19 USDC, left on an account with no collateral."""
    borrower = open_position(aave)
    _, debt_before, event = liquidate_all_you_can(aave, borrower, 1_000 * E8)
    _, result = engine_liquidate(10, debt_before, 1_000)
    assert event["debtToCover"] / USDC == pytest.approx(10_000 / 1.05, rel=1e-6)
    collateral_left, debt_left = borrower_balances(aave, borrower)
    assert collateral_left == 0
    assert debt_left == pytest.approx(2_476.19, rel=1e-6)
    assert debt_left == pytest.approx(result.bad_debt_usd, rel=PARITY)


def test_risk_config_needs_an_aave_role(aave: AaveSystem):
    """A borrower calling the configurator gets Aave's code '4', decoded by name on both backends."""
    tx = aave.supply(aave.users[1], "WETH", WETH)
    with pytest.raises(ContractRevert) as raised:
        tx.send(aave.configurator.functions.setSupplyCap(aave.token("WETH").address, 1))
    assert raised.value.name == "CALLER_NOT_RISK_OR_POOL_ADMIN"
    assert raised.value.args_decoded == ("4",)
