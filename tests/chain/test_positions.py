"""Positions from the chain alone, both backends: accounts discovered from Pool events with a
cursor the caller keeps, read in Multicall3 batches through UiPoolDataProviderV3 or, for a
market that names none, from the pool's configuration bitmap; the numbers are Aave's own."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from chain.node import advance_time
from chain.positions import DiscoveryCursor, PositionReader, discover_accounts
from chain.transact import Transactor
from strategies.collateral import newly_liquidatable
from strategies.params import AAVE_V3_OCT_2023
from tests.chain.aave_fixtures import AaveSystem

WETH = 10**18
WBTC = 10**8
USDC = 10**6
LINK = 10**18


def make_book(aave: AaveSystem):
    """lender: 1M USDC supplied, no debt. borrower: 10 WETH + 1 WBTC collateral, 500 LINK supplied
    but not as collateral, 12,000 USDC borrowed.

    Aave's HF uses the collateral-weighted LT truncated to whole bps: (16,000 x 8,300 + 27,000 x
    7,800) / 43,000 = 7,986.05 -> 7,986, so HF = 43,000 x 0.7986 / 12,000 = 2.86165 (the exact
    sum, 34,340 / 12,000 = 2.861667, is 5.8e-6 higher: multi-collateral HFs differ from the
    per-asset model by up to 1 bps of LT)."""
    lender, borrower = aave.users[0], aave.users[1]
    aave.supply(lender, "USDC", 1_000_000 * USDC)
    tx = aave.supply(borrower, "WETH", 10 * WETH)
    aave.supply(borrower, "WBTC", 1 * WBTC)
    aave.supply(borrower, "LINK", 500 * LINK)
    tx.send(aave.pool.functions.setUserUseReserveAsCollateral(aave.token("LINK").address, False))
    aave.borrow(borrower, "USDC", 12_000 * USDC)
    return lender, borrower


def both_readers(aave: AaveSystem):
    """Through UiPoolDataProviderV3, and as for a market whose file names none."""
    return (PositionReader(aave.w3, aave.resolved, use_ui_provider=True),
            PositionReader(aave.w3, replace(aave.resolved, ui_pool_data_provider=None)))


def test_discovery_is_incremental(aave: AaveSystem):
    """The first scan finds the lender and the borrower; a later scan from the returned cursor
    covers only the new blocks and adds the new borrower; a scan with nothing new keeps the set."""
    lender, borrower = make_book(aave)
    first = discover_accounts(aave.w3, aave.resolved, DiscoveryCursor(aave.market.deployed_at_block))
    assert first.accounts == {lender.address, borrower.address}
    assert first.next_block == aave.w3.eth.block_number + 1

    newcomer = aave.users[2]
    aave.supply(newcomer, "WETH", WETH)
    aave.borrow(newcomer, "USDC", 100 * USDC)
    second = discover_accounts(aave.w3, aave.resolved, first, max_block_range=2)
    assert second.accounts == {lender.address, borrower.address, newcomer.address}
    # Only the new blocks: a cursor holding nothing but the new range finds just the newcomer.
    only_new = discover_accounts(aave.w3, aave.resolved, DiscoveryCursor(first.next_block))
    assert only_new.accounts == {newcomer.address}
    assert discover_accounts(aave.w3, aave.resolved, second) == second


def test_repay_withdraw_and_liquidation_events_name_the_account(aave: AaveSystem):
    """An account whose Supply was before the cursor is found again by its later Repay,
    Withdraw or LiquidationCall (the position's account, not the caller's)."""
    _, borrower = make_book(aave)
    start = DiscoveryCursor(aave.w3.eth.block_number + 1)
    keeper = aave.keeper("USDC", 10_000 * USDC)
    keeper.send(aave.pool.functions.repay(aave.token("USDC").address, 10 * USDC, 2, borrower.address))
    assert discover_accounts(aave.w3, aave.resolved, start).accounts == {borrower.address}

    start = DiscoveryCursor(aave.w3.eth.block_number + 1)
    Transactor(aave.w3, borrower).send(aave.pool.functions.withdraw(aave.token("LINK").address, LINK, borrower.address))
    assert discover_accounts(aave.w3, aave.resolved, start).accounts == {borrower.address}

    start = DiscoveryCursor(aave.w3.eth.block_number + 1)
    aave.push_price("WETH", 100 * 10**8)
    aave.push_price("WBTC", 1_000 * 10**8)
    keeper.send(aave.pool.functions.liquidationCall(
        aave.token("WETH").address, aave.token("USDC").address, borrower.address, 1_000 * USDC, False
    ))
    assert discover_accounts(aave.w3, aave.resolved, start).accounts == {borrower.address}


def test_positions_are_aaves_numbers(aave: AaveSystem):
    """Only accounts with debt are positions; collateral lists the reserves used as collateral
    (not LINK, switched off), debt and HF are getUserAccountData's: $43,000 collateral, $12,000
    debt, HF 2.86165 (see make_book). Both read paths give the same positions."""
    _, borrower = make_book(aave)
    accounts = discover_accounts(aave.w3, aave.resolved, DiscoveryCursor(aave.market.deployed_at_block)).accounts
    for reader in both_readers(aave):
        snapshot = reader.read(accounts)
        assert [p.account for p in snapshot.positions] == [borrower.address]
        position = snapshot.positions[0]
        assert position.collateral_tokens == {"WETH": 10.0, "WBTC": 1.0}
        assert position.debt_tokens == pytest.approx({"USDC": 12_000.0}, rel=1e-9)
        assert position.collateral_usd == 43_000
        assert position.debt_usd == pytest.approx(12_000, rel=1e-9)
        assert position.health_factor == pytest.approx(43_000 * 0.7986 / 12_000, rel=1e-12)
        assert position.health_factor == aave.account_data(borrower.address)[5] / 1e18
        assert not position.is_liquidatable
        assert snapshot.total_debt_usd == position.debt_usd


def test_interest_is_counted_as_aave_counts_it(aave: AaveSystem):
    """Thirty days later the debt and a collateral that earns interest (USDC lent by an account
    that also borrows) equal the debt token's and aToken's own balanceOf, to the raw unit."""
    lender, borrower = make_book(aave)
    aave.borrow(lender, "USDC", 500_000 * USDC)  # USDC collateral now earns a real rate
    advance_time(aave.w3, 30 * 86_400)
    usdc = aave.market.reserve("USDC")
    a_usdc = aave.w3.eth.contract(address=usdc.a_token, abi=aave.token("USDC").abi)
    debt_usdc = aave.w3.eth.contract(address=usdc.variable_debt_token, abi=aave.token("USDC").abi)
    for reader in both_readers(aave):
        positions = {p.account: p for p in reader.read([lender.address, borrower.address]).positions}
        lent = positions[lender.address]
        assert lent.collateral_tokens["USDC"] * USDC == pytest.approx(a_usdc.functions.balanceOf(lender.address).call(), abs=1)
        assert lent.debt_tokens["USDC"] * USDC == pytest.approx(debt_usdc.functions.balanceOf(lender.address).call(), abs=1)
        assert lent.debt_tokens["USDC"] > 500_000 * 1.001  # a month at ~34% a year on 50% utilisation
        assert positions[borrower.address].debt_tokens["USDC"] * USDC == pytest.approx(
            debt_usdc.functions.balanceOf(borrower.address).call(), abs=1
        )


def test_read_at_the_anchor_block_and_in_any_batch_size(aave: AaveSystem):
    """Positions read at block N are the same after prices move and more is borrowed; one
    account per batch and all in one batch agree."""
    lender, borrower = make_book(aave)
    reader = PositionReader(aave.w3, aave.resolved, accounts_per_batch=1)
    accounts = [lender.address, borrower.address, aave.users[5].address]
    anchor = reader.read(accounts)
    aave.push_price("WETH", 1_000 * 10**8)
    aave.borrow(borrower, "USDC", 1_000 * USDC)
    moved = reader.read(accounts)
    assert moved.positions[0].health_factor < anchor.positions[0].health_factor
    assert reader.read(accounts, anchor.block_number) == anchor
    assert PositionReader(aave.w3, aave.resolved, accounts_per_batch=40).read(accounts, anchor.block_number) == anchor


def test_liquidatable_position_is_flagged(aave: AaveSystem):
    """WETH at $500 and WBTC at $10,000: weighted LT (5,000 x 8,300 + 10,000 x 7,800) / 15,000 =
    7,966.7 -> 7,966 bps, HF = 15,000 x 0.7966 / 12,000 = 0.99575 < 1."""
    _, borrower = make_book(aave)
    aave.push_price("WETH", 500 * 10**8)
    aave.push_price("WBTC", 10_000 * 10**8)
    position = PositionReader(aave.w3, aave.resolved).read([borrower.address]).positions[0]
    assert position.health_factor == pytest.approx(15_000 * 0.7966 / 12_000, rel=1e-9)
    assert position.is_liquidatable


def test_an_lt_cut_liquidates_the_positions_the_model_counts(aave: AaveSystem):
    """Three 10-WETH positions borrowing 12,880 / 12,600 / 12,000 USDC, WETH at $1,560: HF 1.00528,
    1.02762, 1.07900. Cutting WETH's LT from 83% to 82% scales each by 82/83: 0.99317, 1.01524,
    1.06600. The strategy's `newly_liquidatable`, fed the positions read from chain, counts one
    position and 12,880 USDC of debt; after the configurator applies the cut, Aave agrees."""
    aave.supply(aave.users[0], "USDC", 1_000_000 * USDC)
    borrowers = aave.users[1:4]
    for account, debt in zip(borrowers, (12_880, 12_600, 12_000), strict=True):
        aave.supply(account, "WETH", 10 * WETH)
        aave.borrow(account, "USDC", debt * USDC)
    aave.push_price("WETH", 1_560 * 10**8)
    reader = PositionReader(aave.w3, aave.resolved)
    before = reader.read(a.address for a in borrowers).positions
    assert [round(p.health_factor, 5) for p in sorted(before, key=lambda p: p.debt_usd, reverse=True)] == [
        1.00528, 1.02762, 1.079
    ]
    collateral_usd = np.array([p.collateral_tokens["WETH"] * 1_560 for p in before])
    debt_usd = np.array([p.debt_usd for p in before])
    predicted = newly_liquidatable(collateral_usd, debt_usd, 0.83, 0.82)
    assert (predicted.positions, round(predicted.debt_usd)) == (1, 12_880)

    weth = AAVE_V3_OCT_2023["WETH"]
    Transactor(aave.w3, aave.admin).send(aave.configurator.functions.configureReserveAsCollateral(
        aave.token("WETH").address, weth.ltv_bps, 8_200, weth.liquidation_bonus_bps
    ))
    after = reader.read(a.address for a in borrowers).positions
    liquidatable = [p for p in after if p.is_liquidatable]
    assert len(liquidatable) == predicted.positions
    assert sum(p.debt_usd for p in liquidatable) == pytest.approx(predicted.debt_usd, rel=1e-9)
    assert liquidatable[0].health_factor == pytest.approx(15_600 * 0.82 / 12_880, rel=1e-9)
