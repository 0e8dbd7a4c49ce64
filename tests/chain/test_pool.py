"""DemoPool on both EVM backends: the kinked curve, liquidation at the threshold, the bonus,
and bad debt written off as deficit."""

from __future__ import annotations

import math

import pytest
from web3.logs import DISCARD

from chain.errors import ContractRevert
from chain.node import advance_time
from chain.transact import Transactor, call
from tests.chain.conftest import System

RAY = 10**27
YEAR = 365 * 86_400
USDC = 10**6
WETH = 10**18


def fund_and_supply(system: System, account, symbol: str, amount: int) -> Transactor:
    tx = Transactor(system.w3, account)
    token = system.token(symbol)
    tx.send(token.functions.mint(account.address, amount))
    tx.send(token.functions.approve(system.pool.address, amount))
    tx.send(system.pool.functions.supply(token.address, amount, account.address, 0))
    return tx


def borrow(tx: Transactor, system: System, symbol: str, amount: int) -> None:
    tx.send(system.pool.functions.borrow(system.token(symbol).address, amount, 2, 0, tx.address))


def aave_compounded(rate_ray: int, seconds: int) -> int:
    """MathUtils.calculateCompoundedInterest, independently written from Aave's formula."""
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


@pytest.mark.parametrize("borrowed_usdc", [100_000, 950_000])
def test_interest_accrues_as_the_curve_says(system: System, borrowed_usdc: int):
    lender, borrower = system.users[0], system.users[1]
    fund_and_supply(system, lender, "USDC", 1_000_000 * USDC)
    tx = fund_and_supply(system, borrower, "WETH", 1_000 * WETH)
    borrow(tx, system, "USDC", borrowed_usdc * USDC)

    usdc = system.reader.read().reserve("USDC")
    expected_rate = kinked_borrow_rate(borrowed_usdc / 1_000_000, 0.90, 0.0, 0.035, 0.60)
    assert usdc.variable_borrow_rate_ray / RAY == pytest.approx(expected_rate, rel=1e-9)
    assert usdc.liquidity_rate_ray / RAY == pytest.approx(expected_rate * usdc.utilization * 0.9, rel=1e-9)

    accrual_start = system.pool.functions.getReserveData(usdc.asset).call()[11]
    elapsed = advance_time(system.w3, 30 * 86_400) - accrual_start
    debt = system.pool.functions.debtBalanceOf(usdc.asset, borrower.address).call()
    expected_debt = borrowed_usdc * USDC * aave_compounded(usdc.variable_borrow_rate_ray, elapsed) // RAY
    assert debt == pytest.approx(expected_debt, abs=2)
    # Per-second compounding: within 1e-6 of the continuous limit over a month.
    assert debt / (borrowed_usdc * USDC) == pytest.approx(math.exp(expected_rate * elapsed / YEAR), rel=1e-6)
    supplied = system.pool.functions.supplyBalanceOf(usdc.asset, lender.address).call()
    expected_supplied = 1_000_000 * USDC * (1 + usdc.liquidity_rate_ray / RAY * elapsed / YEAR)
    assert supplied == pytest.approx(expected_supplied, rel=1e-9)


def open_weth_position(system: System) -> tuple:
    """10 WETH at $1,600 against 12,000 USDC of debt: HF = 16000 x 0.83 / 12000 = 1.107."""
    lender, borrower = system.users[0], system.users[1]
    fund_and_supply(system, lender, "USDC", 100_000 * USDC)
    tx = fund_and_supply(system, borrower, "WETH", 10 * WETH)
    borrow(tx, system, "USDC", 12_000 * USDC)
    return borrower, tx


def health_factor(system: System, user) -> float:
    return system.pool.functions.getUserAccountData(user.address).call()[5] / 1e18


def liquidator(system: System, usdc_amount: int) -> Transactor:
    tx = Transactor(system.w3, system.users[2])
    token = system.token("USDC")
    tx.send(token.functions.mint(tx.address, usdc_amount))
    tx.send(token.functions.approve(system.pool.address, usdc_amount))
    return tx


def test_borrow_above_ltv_is_refused(system: System):
    lender, borrower = system.users[0], system.users[1]
    fund_and_supply(system, lender, "USDC", 100_000 * USDC)
    tx = fund_and_supply(system, borrower, "WETH", 10 * WETH)
    with pytest.raises(ContractRevert) as raised:
        borrow(tx, system, "USDC", 12_900 * USDC)  # LTV 80.5% of $16,000 is $12,880
    assert raised.value.name == "CollateralCannotCoverNewBorrow"


def test_position_becomes_liquidatable_when_price_falls_through_threshold(system: System):
    borrower, _ = open_weth_position(system)
    weth, usdc = system.token("WETH").address, system.token("USDC").address
    keeper = liquidator(system, 20_000 * USDC)
    system.push_price("WETH", 1_450 * 10**8)  # threshold price is 12000 / (10 x 0.83) = $1,445.78
    assert health_factor(system, borrower) == pytest.approx(1_450 * 10 * 0.83 / 12_000, rel=1e-6)
    with pytest.raises(ContractRevert) as raised:
        keeper.send(system.pool.functions.liquidationCall(weth, usdc, borrower.address, 6_000 * USDC, False))
    assert raised.value.name == "HealthFactorNotBelowThreshold"
    system.push_price("WETH", 1_440 * 10**8)
    assert health_factor(system, borrower) < 1.0


def test_liquidation_pays_the_bonus(system: System):
    borrower, _ = open_weth_position(system)
    weth, usdc = system.token("WETH"), system.token("USDC")
    keeper = liquidator(system, 20_000 * USDC)
    system.push_price("WETH", 1_440 * 10**8)
    keeper.send(system.pool.functions.liquidationCall(weth.address, usdc.address, borrower.address, 10_000 * USDC, False))
    # HF 0.996 > 0.95: close factor 50%, so 6,000 of the 10,000 offered are repaid.
    seized = 6_000 / 1_440 * 1.05
    protocol_fee = (seized - seized / 1.05) * 0.10
    assert weth.functions.balanceOf(keeper.address).call() / WETH == pytest.approx(seized - protocol_fee, rel=1e-6)
    assert usdc.functions.balanceOf(keeper.address).call() / USDC == pytest.approx(14_000, rel=1e-6)
    remaining_debt = system.pool.functions.debtBalanceOf(usdc.address, borrower.address).call() / USDC
    assert remaining_debt == pytest.approx(6_000, rel=1e-4)


def test_bad_debt_when_collateral_is_worth_less_than_debt(system: System):
    borrower, _ = open_weth_position(system)
    weth, usdc = system.token("WETH"), system.token("USDC")
    keeper = liquidator(system, 20_000 * USDC)
    system.push_price("WETH", 1_000 * 10**8)  # collateral $10,000 against $12,000 of debt
    collateral_base, debt_base, *_ = system.pool.functions.getUserAccountData(borrower.address).call()
    assert collateral_base < debt_base
    receipt = keeper.send(
        system.pool.functions.liquidationCall(weth.address, usdc.address, borrower.address, 2**256 - 1, False)
    )
    # HF 0.69 <= 0.95: all debt may be closed; all 10 WETH cover 10 x 1000 / 1.05 = 9,523.81.
    deficit = system.pool.functions.getReserveDeficit(usdc.address).call() / USDC
    assert deficit == pytest.approx(12_000 - 10_000 / 1.05, rel=1e-4)
    assert system.pool.functions.getUserAccountData(borrower.address).call()[1] == 0
    events = system.pool.events.DeficitCreated().process_receipt(receipt, errors=DISCARD)
    assert len(events) == 1 and events[0]["args"]["user"] == borrower.address


def test_zero_price_is_refused_by_the_pool(system: System):
    borrower, _ = open_weth_position(system)
    system.push_price("WETH", 0)
    assert system.reader.read().reserve("WETH").price_usd_e8 == 0
    with pytest.raises(ContractRevert) as raised:
        call(system.pool.functions.getUserAccountData(borrower.address))
    assert raised.value.name == "InvalidPrice"
