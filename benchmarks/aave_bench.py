"""Aave-market figures for the notes: deploy time per backend, gas of supply / borrow /
liquidationCall, and on anvil the time to read 20 reserves and 1,000 positions.

Run by hand on a quiet machine: `python benchmarks/aave_bench.py [--positions 1000] [--skip-in-process]`.
Positions are real: each account mints, approves, supplies WETH (every fourth also a second
collateral) and borrows USDC through the Pool; transactions are signed locally and sent without
waiting for each receipt (anvil mines each one as it arrives).
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

from eth_account import Account
from web3 import Web3

from chain.aave import aave_contract, deploy_aave_market, our_contract
from chain.listings import ReserveListing, oct_2023_listings
from chain.market import resolve_market
from chain.node import dev_accounts, in_process_web3, start_anvil
from chain.positions import DiscoveryCursor, PositionReader, discover_accounts
from chain.reader import MarketReader
from chain.transact import Transactor
from strategies.params import AAVE_V3_OCT_2023

WETH = 10**18
USDC = 10**6
E8 = 10**8
MAX_UINT256 = 2**256 - 1


def twenty_listings() -> tuple[ReserveListing, ...]:
    """The five October-2023 reserves plus fifteen LINK-like tokens at $10."""
    extra = tuple(
        ReserveListing(f"TKN{i:02d}", 18, 10 * E8, AAVE_V3_OCT_2023["LINK"], "WETH") for i in range(6, 21)
    )
    return (*oct_2023_listings(), *extra)


def median_seconds(action, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def gas_figures(w3, market, accounts) -> dict[str, int]:
    """One supply, one borrow and one liquidationCall on a fresh position."""
    pool = aave_contract(w3, "Pool", market.pool)
    lender, borrower, keeper = (Transactor(w3, a) for a in accounts[1:4])
    usdc, weth = (our_contract(w3, "TestToken", market.reserve(s).underlying) for s in ("USDC", "WETH"))
    for tx, token, amount in ((lender, usdc, 1_000_000 * USDC), (borrower, weth, 10 * WETH),
                              (keeper, usdc, 100_000 * USDC)):
        tx.send(token.functions.mint(tx.address, amount))
        tx.send(token.functions.approve(market.pool, MAX_UINT256))
    lender.send(pool.functions.supply(usdc.address, 1_000_000 * USDC, lender.address, 0))
    supply = borrower.send(pool.functions.supply(weth.address, 10 * WETH, borrower.address, 0))
    borrow = borrower.send(pool.functions.borrow(usdc.address, 12_000 * USDC, 2, 0, borrower.address))
    Transactor(w3, accounts[0]).send(
        our_contract(w3, "PushableAggregator", market.reserve("WETH").feed).functions.pushAnswer(1_440 * E8)
    )
    liquidation = keeper.send(pool.functions.liquidationCall(weth.address, usdc.address, borrower.address,
                                                             MAX_UINT256, False))
    return {"supply": supply["gasUsed"], "borrow": borrow["gasUsed"], "liquidationCall": liquidation["gasUsed"]}


def deploy_figures(label: str, w3, listings) -> tuple:
    accounts = dev_accounts(w3)
    start = time.perf_counter()
    market = deploy_aave_market(w3, accounts[0], listings)
    seconds = time.perf_counter() - start
    transactions = w3.eth.block_number - market.deployed_at_block + 1
    print(f"{label}: deploy + list {len(listings)} reserves: {seconds:.2f} s ({transactions} transactions)")
    return market, accounts


def open_positions(w3: Web3, market, admin, count: int) -> list[str]:
    """`count` borrowers, sent pipelined; returns their addresses."""
    pool = aave_contract(w3, "Pool", market.pool)
    weth, usdc = market.reserve("WETH").underlying, market.reserve("USDC").underlying
    second = market.reserve("TKN07").underlying
    token = our_contract(w3, "TestToken", weth)
    lender = Transactor(w3, admin)
    usdc_token = our_contract(w3, "TestToken", usdc)
    lender.send(usdc_token.functions.mint(admin.address, 100_000_000 * USDC))
    lender.send(usdc_token.functions.approve(market.pool, MAX_UINT256))
    lender.send(pool.functions.supply(usdc, 100_000_000 * USDC, admin.address, 0))

    accounts = [Account.from_key(Web3.keccak(text=f"bench-borrower-{i}")) for i in range(count)]
    for account in accounts:
        w3.provider.make_request("anvil_setBalance", [account.address, hex(10**20)])
    chain_id = w3.eth.chain_id
    hashes = []
    for i, account in enumerate(accounts):
        collateral_weth = (1 + i % 10) * WETH
        borrow_usdc = int((1 + i % 10) * 1_600 * 0.5 * (0.4 + 0.5 * ((i * 37) % 100) / 100)) * USDC
        calls = [
            (weth, token.functions.mint(account.address, collateral_weth)),
            (weth, token.functions.approve(market.pool, MAX_UINT256)),
            (market.pool, pool.functions.supply(weth, collateral_weth, account.address, 0)),
        ]
        if i % 4 == 0:
            extra = our_contract(w3, "TestToken", second)
            calls += [(second, extra.functions.mint(account.address, 100 * WETH)),
                      (second, extra.functions.approve(market.pool, MAX_UINT256)),
                      (market.pool, pool.functions.supply(second, 100 * WETH, account.address, 0))]
        calls.append((market.pool, pool.functions.borrow(usdc, borrow_usdc, 2, 0, account.address)))
        for nonce, (_, fn) in enumerate(calls):
            tx = fn.build_transaction({"from": account.address, "nonce": nonce, "gas": 1_000_000,
                                       "chainId": chain_id, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 0})
            hashes.append(w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction))
        if i % 25 == 24:  # keep anvil's pending pool short: it mines one block per transaction
            w3.eth.wait_for_transaction_receipt(hashes[-1], timeout=300, poll_latency=0.01)
    failed = sum(1 for h in hashes if w3.eth.wait_for_transaction_receipt(h, timeout=300, poll_latency=0.01)["status"] != 1)
    if failed:
        raise SystemExit(f"{failed} of {len(hashes)} position transactions failed")
    return [a.address for a in accounts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--positions", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-in-process", action="store_true")
    args = parser.parse_args()

    if not args.skip_in_process:
        w3 = in_process_web3()
        market, accounts = deploy_figures("in-process", w3, oct_2023_listings())
        print(f"in-process gas: {gas_figures(w3, market, accounts)}")

    node = start_anvil()
    try:
        w3 = node.web3()
        market, accounts = deploy_figures("anvil", w3, oct_2023_listings())
        print(f"anvil gas: {gas_figures(w3, market, accounts)}")
        market, accounts = deploy_figures("anvil", w3, twenty_listings())
        start = time.perf_counter()
        resolved = resolve_market(w3, market.addresses_provider, multicall=market.multicall,
                                  ui_pool_data_provider=market.ui_pool_data_provider)
        print(f"anvil: resolve 20 reserves from the provider: {time.perf_counter() - start:.3f} s")
        reader = MarketReader(w3, resolved, {r.symbol: r.pair for r in market.reserves})
        snapshot = reader.read()
        print(f"anvil: read 20 reserves (one aggregate3): median {median_seconds(reader.read, args.runs) * 1e3:.1f} ms "
              f"over {args.runs} runs; {len(snapshot.reserves)} reserves")

        start = time.perf_counter()
        borrowers = open_positions(w3, market, accounts[0], args.positions)
        print(f"anvil: opened {len(borrowers)} positions in {time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        cursor = discover_accounts(w3, resolved, DiscoveryCursor(market.deployed_at_block))
        print(f"anvil: discover {len(cursor.accounts)} accounts from Pool events: {time.perf_counter() - start:.2f} s")
        for label, chosen in (("UiPoolDataProviderV3", resolved), ("configuration bitmap", replace(resolved, ui_pool_data_provider=None))):
            positions = PositionReader(w3, chosen)
            result = positions.read(cursor.accounts)
            seconds = median_seconds(lambda p=positions: p.read(cursor.accounts), args.runs)
            print(f"anvil: read {len(result.positions)} positions via {label} ({positions.accounts_per_batch} per "
                  f"aggregate3): median {seconds:.2f} s over {args.runs} runs")
        start = time.perf_counter()
        later = discover_accounts(w3, resolved, cursor)
        print(f"anvil: incremental discovery with nothing new: {(time.perf_counter() - start) * 1e3:.1f} ms "
              f"({len(later.accounts)} accounts)")
    finally:
        node.stop()


if __name__ == "__main__":
    main()
