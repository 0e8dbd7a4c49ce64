"""The backtest engine's scenarios replayed on the real Aave v3.0 pool (both EVM backends):
the same positions, the same prices and the same hours of interest give the same money.

Tolerance: relative 1e-6. The engine charges interest hourly on a rate it reads off the curve
each hour; Aave compounds per second (a 3-term binomial) at the rate set by the last action.
At the 3.11% a year of these scenarios the two indexes differ by under 1e-9 over a day, a
second of misaligned block time is 1e-9, and USDC's 6 decimals are 1e-10 of the amounts:
1e-6 leaves room for minutes of clock difference between the backends, and a wrong close
factor, bonus or bad-debt rule is off by percent, not parts per million.
"""

from __future__ import annotations

import numpy as np
import pytest
from web3.logs import DISCARD

from backtests.simulator import first_liquidatable, make_population, simulate
from chain.errors import ContractRevert
from chain.node import advance_time, latest_timestamp
from tests.backtests.test_liquidation_scenarios import CRASH_HOUR, CRASH_PRICE, TWO_POSITIONS, WETH, crash_path
from tests.chain.aave_fixtures import MAX_UINT256, AaveSystem
from tests.chain.test_pool import borrower_balances

USDC_UNIT = 10**6
WETH_UNIT = 10**18
E8 = 10**8
PARITY = 1e-6


def liquidate_max(aave: AaveSystem, keeper, borrower) -> dict:
    """The keeper repays as much as Aave allows (MAX: capped by the close factor)."""
    receipt = keeper.send(aave.pool.functions.liquidationCall(
        aave.token("WETH").address, aave.token("USDC").address, borrower.address, MAX_UINT256, False))
    (event,) = aave.pool.events.LiquidationCall().process_receipt(receipt, errors=DISCARD)
    return event["args"]


def test_two_position_crash_agrees_with_the_engine(aave: AaveSystem):
    """The seeded two-position book of tests/backtests/test_liquidation_scenarios.py (A: 12.17877
    WETH / $6,267.44, B: 12.82123 WETH / $8,684.75) opened on the pool, USDC lent at 125% of
    the debt (utilization 80%, 3.1111% a year on USDC's curve, as the engine's debt reserve),
    25 hours of interest, WETH pushed to $600, a keeper liquidating each with MAX:
    A is half closed ($3,134.00 repaid), B loses all its WETH for $7,326.42 and keeps
    $1,359.10 of debt with no collateral (the engine's bad debt). Repaid, seized value, bonus
    and bad debt agree with `simulate` on the same book within 1e-6."""
    book = make_population(crash_path(), WETH, TWO_POSITIONS, TWO_POSITIONS.seed)
    lender, borrowers = aave.users[0], aave.users[1:3]
    aave.supply(lender, "USDC", int(round(book.debt_usd.sum() / 0.8 * USDC_UNIT)))
    for borrower, tokens, debt in zip(borrowers, book.tokens, book.debt_usd, strict=True):
        aave.supply(borrower, "WETH", int(round(tokens * WETH_UNIT)))
        aave.borrow(borrower, "USDC", int(round(debt * USDC_UNIT)))
    opened_at = latest_timestamp(aave.w3)
    advance_time(aave.w3, opened_at + (CRASH_HOUR + 1) * 3_600 - latest_timestamp(aave.w3))
    keeper = aave.keeper("USDC", 20_000 * USDC_UNIT)
    aave.push_price("WETH", int(CRASH_PRICE * E8))
    collateral_before = [borrower_balances(aave, b)[0] for b in borrowers]
    events = [liquidate_max(aave, keeper, b) for b in borrowers]
    after = [borrower_balances(aave, b) for b in borrowers]

    engine = simulate([crash_path()], {"WETH": WETH}, None, TWO_POSITIONS)
    repaid = sum(e["debtToCover"] for e in events) / USDC_UNIT
    seized_usd = sum(before - left for before, (left, _) in zip(collateral_before, after, strict=True)) * CRASH_PRICE
    assert engine.liquidations == len(events) == 2
    assert repaid == pytest.approx(engine.liquidated_debt_usd, rel=PARITY)
    assert repaid == pytest.approx(3_134.00 + 7_326.42, abs=0.01)
    assert seized_usd == pytest.approx(float(engine.series["liquidated_collateral_usd_WETH"][CRASH_HOUR]), rel=PARITY)
    assert seized_usd - repaid == pytest.approx(engine.borrower_bonus_losses_usd, rel=PARITY)
    # A (the smaller position) keeps collateral and half its debt; B keeps only debt: bad debt.
    (a_collateral, a_debt), (b_collateral, b_debt) = sorted(after, key=lambda balances: -balances[0])
    assert a_collateral == pytest.approx(6.694280, rel=1e-6)
    assert a_debt == pytest.approx(3_134.00, abs=0.01)
    assert b_collateral == 0
    assert b_debt == pytest.approx(engine.bad_debt_usd, rel=PARITY)
    assert b_debt == pytest.approx(1_359.10, abs=0.01)


@pytest.mark.parametrize("price_usd_e8, liquidated", [(1_500 * E8, False), (1_500 * E8 - 1, True)])
def test_health_factor_exactly_1_is_not_liquidatable_on_the_pool_or_in_the_engine(aave: AaveSystem, price_usd_e8, liquidated):
    """10 WETH against 12,450 USDC at $1,500: HF = 15,000 x 0.83 / 12,450 = 1 exactly (Aave's
    getUserAccountData returns 1e18). Aave refuses (HEALTH_FACTOR_NOT_BELOW_THRESHOLD) and the
    engine does not select the position; one unit of the feed's 8 decimals lower, both
    liquidate. The debt has not yet accrued a whole raw unit (1e-13 a second at this
    utilization), so it is 12,450 USDC exactly."""
    lender, borrower = aave.users[0], aave.users[1]
    aave.supply(lender, "USDC", 100_000_000 * USDC_UNIT)
    aave.supply(borrower, "WETH", 10 * WETH_UNIT)
    aave.borrow(borrower, "USDC", 12_450 * USDC_UNIT)
    keeper = aave.keeper("USDC", 20_000 * USDC_UNIT)
    aave.push_price("WETH", price_usd_e8)
    health = aave.account_data(borrower.address)[5]
    base = np.array([12_450 / 10])
    engine_selects = first_liquidatable(base, price_usd_e8 / E8, WETH.liquidation_threshold_bps / 1e4, 1.0) == 0
    assert engine_selects == liquidated
    if liquidated:
        assert health < 10**18
        assert liquidate_max(aave, keeper, borrower)["debtToCover"] == 6_225 * USDC_UNIT
    else:
        assert health == 10**18
        with pytest.raises(ContractRevert) as refused:
            liquidate_max(aave, keeper, borrower)
        assert refused.value.name == "HEALTH_FACTOR_NOT_BELOW_THRESHOLD"
