"""`verify`'s two chain checks on both backends: the chain record (applied on the fast path,
scheduled, executed, vetoed, never sent) and the inputs re-read at the anchor block, where
each tampered input (a parameter, the supply, the pair, the steward's state, a feed round,
the nonce, a position, an omitted borrower, the anchor) is named on its own.

Reads have no revert or clock that differs between the backends: the tampering table and four
of the single checks run on anvil only (2-3 s each on the in-process EVM); one passing re-read
stays on both, and tests/integration/test_demo.py verifies the in-process demo's inputs.

The honest inputs are read by the agent's own `AnchorReader` (the decide job's reader, with
the feed's rounds read from the chain as shadow mode does), so the test tampers what an
operator would hand the enclave, not a hand-made structure."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from agent.jobs import reader_for
from agent.market_inputs import AnchorReader, chain_prices
from agent.verify import Check, check_chain_record, check_inputs_on_chain
from chain.aave import aave_contract, our_contract
from chain.market import market_from_deployment
from chain.multicall import Multicall
from chain.positions import PositionReader
from chain.steward import StewardClient
from chain.transact import Transactor
from strategies.bounds import ParamState
from strategies.config import default_config
from strategies.inputs import Observations
from strategies.params import Param
from tests.chain.conftest import System

WETH_UNIT = 10**18
USDC_UNIT = 10**6


def chain_steward(system: System) -> StewardClient:
    deployment = system.deployment
    return StewardClient(system.w3, deployment.steward, deployment.multicall, from_block=deployment.deployed_at_block)


# ------------------------------------------------------------------ chain record


def test_an_update_applied_on_the_fast_path_is_on_record(system: System):
    update = system.update("WETH", {Param.LTV: 8_025})
    system.submit(update)
    block = system.w3.eth.block_number
    check = check_chain_record(chain_steward(system), update)
    assert (check.name, check.passed, check.detail) == ("chain record", True, f"applied at once (fast path) in block {block}")


def test_a_scheduled_update_is_on_record_until_vetoed(system: System):
    update = system.update("WETH", {Param.LIQUIDATION_BONUS: 10_550})
    result = system.submit(update)
    operation = f"0x{result.operation.operation_id.hex()[:16]}..."
    assert check_chain_record(chain_steward(system), update) == Check("chain record", True,
                                                                      f"timelock operation {operation} is waiting")
    system.guardian_client.veto(result.operation)
    assert check_chain_record(chain_steward(system), update) == Check(
        "chain record", False, f"operation {operation} is not in the timelock (never scheduled, or vetoed)")


def test_an_update_never_sent_or_changed_after_sending_is_not_on_record(system: System):
    """The applied update with LTV 8,024 instead of 8,025 hashes to another update: no record."""
    update = system.update("WETH", {Param.LTV: 8_025})
    system.submit(update)
    for other in (replace(update, values=(8_024,)), system.update("WETH", {Param.LTV: 8_000})):
        check = check_chain_record(chain_steward(system), other)
        operation = chain_steward(system).operation_for(other).operation_id.hex()[:16]
        assert check == Check("chain record", False, f"operation 0x{operation}... is not in the timelock "
                                                     "(never scheduled, or vetoed)")


# ------------------------------------------------------------------ inputs on chain


@pytest.fixture
def market_with_a_borrower(system: System):
    """A lender of 1M USDC, a borrower of 10,000 USDC against 10 WETH, and a second WETH round
    ($1,610 after the listing's $1,600); then one more block to anchor at."""
    w3, market = system.w3, system.deployment.market
    pool = aave_contract(w3, "Pool", market.pool)
    lender, borrower = system.users[0], system.users[1]
    for account, symbol, amount in ((lender, "USDC", 1_000_000 * USDC_UNIT), (borrower, "WETH", 10 * WETH_UNIT)):
        token = our_contract(w3, "TestToken", market.reserve(symbol).underlying)
        tx = Transactor(w3, account)
        tx.send(token.functions.mint(account.address, amount))
        tx.send(token.functions.approve(market.pool, amount))
        tx.send(pool.functions.supply(token.address, amount, account.address, 0))
    Transactor(w3, borrower).send(pool.functions.borrow(market.reserve("USDC").underlying, 10_000 * USDC_UNIT, 2, 0,
                                                        borrower.address))
    feed = our_contract(w3, "PushableAggregator", market.reserve("WETH").feed)
    Transactor(w3, system.governance).send(feed.functions.pushAnswer(1_610 * 10**8))
    system.publish("anchor")  # one more block
    return borrower


def honest_inputs(system: System, borrower) -> tuple:
    """WETH's inputs at the latest block, read as the agent's decide job reads them."""
    w3, deployment = system.w3, system.deployment.to_deployment()
    market = market_from_deployment(w3, deployment)
    reader = reader_for(w3, deployment, ["WETH"])
    anchor_block = w3.eth.block_number
    anchor_reader = AnchorReader(w3=w3, reader=reader, assets=["WETH"], config=default_config(),
                                 prices=chain_prices(w3, Multicall(w3, market.multicall), anchor_block),
                                 steward=chain_steward(system), positions=PositionReader(w3, market),
                                 accounts=lambda: [borrower.address])
    return deployment, anchor_reader.read(system.enclave.address, anchor_block)


def inputs_problems(system: System, deployment, inputs) -> dict[str, tuple[bool, str]]:
    checks = check_inputs_on_chain(system.w3, deployment, inputs, system.enclave.address)
    return {c.name: (c.passed, c.detail) for c in checks}


def with_weth(inputs, **changes):
    return replace(inputs, assets=(replace(inputs.assets[0], **changes),))


@pytest.mark.parametrize("deployed", [pytest.param("anvil", marks=pytest.mark.anvil)], indirect=True)
def test_inputs_read_at_the_anchor_pass_and_each_tampering_is_named(system: System, market_with_a_borrower):
    """Fifteen re-reads of every input at the anchor, on anvil only: the checks are reads (no
    revert or clock that differs between backends), and each re-read costs ~3 s of py-evm. The
    honest re-read runs on both backends in the tests below."""
    deployment, inputs = honest_inputs(system, market_with_a_borrower)
    weth = inputs.assets[0]
    (feed,) = weth.prices
    assert feed.keys == (1, 2) and feed.values.tolist() == [1_600.0, 1_610.0]
    assert inputs.positions.accounts == (market_with_a_borrower.address,)
    anchor_ok = (True, f"block {inputs.anchor.block_number} hash and time match")
    assert inputs_problems(system, deployment, inputs) == {
        "anchor block": anchor_ok,
        "inputs on chain": (True, "every on-chain input re-read at the anchor block matches"),
    }

    cheaper = replace(feed, values=np.array([1_600.0, 1_500.0]))
    # Off by a hair: the $10,000 debt by $0.00001, the 10 WETH collateral by 0.000001 WETH: beyond
    # the check's tolerance (1e-12 relative plus numpy's 1e-8 absolute), within numpy's default 1e-5.
    debt_up = replace(inputs.positions, debt_usd=inputs.positions.debt_usd * (1 + 1e-9))
    collateral = inputs.positions.collateral_tokens
    more_weth = replace(inputs.positions, collateral_tokens={**collateral, "WETH": collateral["WETH"] * (1 + 1e-7)})
    unknown_collateral = replace(inputs.positions, collateral_tokens={**collateral, "XYZ": np.ones(1)})  # not read back
    state = dict(weth.bounds.state)
    state[Param.LTV] = ParamState(last_executed_at=1)
    tampered = {
        "WETH parameters differ": with_weth(inputs, params=weth.params.with_changes({Param.LIQUIDATION_THRESHOLD: 8_301})),
        "WETH supply or debt differs": with_weth(inputs, supplied_tokens=weth.supplied_tokens * 1.001),
        "WETH pair reserves differ": with_weth(inputs, pair=replace(weth.pair, asset_reserve_tokens=weth.pair.asset_reserve_tokens * 2)),
        "WETH steward bounds or parameter states differ": with_weth(inputs, bounds=replace(weth.bounds, state=state)),
        "WETH utilization differs from the reserve's at the hourly blocks":
            with_weth(inputs, utilization=replace(weth.utilization, values=weth.utilization.values + 0.01)),
        "1 WETH feed rounds differ from the feed (first: round 2)": with_weth(inputs, prices=(cheaper,)),
        "2 WETH feed rounds differ from the feed (first: round 1)":  # the right prices, each a second early
            with_weth(inputs, prices=(replace(feed, timestamps_s=feed.timestamps_s - 1),)),
        f"enclave nonce {inputs.enclave_nonce + 1} in the inputs, {inputs.enclave_nonce} on chain":
            replace(inputs, enclave_nonce=inputs.enclave_nonce + 1),
        "positions differ from the pool's accounts at the anchor block": replace(inputs, positions=debt_up),
        "WETH collateral of the positions differs": replace(inputs, positions=more_weth),
        "XYZ collateral of the positions differs": replace(inputs, positions=unknown_collateral),
        "WETH parameters differ; "  # two problems, in the order checked
        f"enclave nonce {inputs.enclave_nonce + 1} in the inputs, {inputs.enclave_nonce} on chain":
            replace(with_weth(inputs, params=weth.params.with_changes({Param.LIQUIDATION_THRESHOLD: 8_301})),
                    enclave_nonce=inputs.enclave_nonce + 1),
        "1 accounts with debt at the anchor block are missing from the positions":
            replace(inputs, positions=replace(inputs.positions, accounts=(), collateral_tokens={},
                                              debt_usd=np.zeros(0))),
    }
    for problem, fake in tampered.items():
        assert inputs_problems(system, deployment, fake) == {
            "anchor block": anchor_ok, "inputs on chain": (False, problem)}, problem


def test_inputs_read_after_a_steward_update_carry_its_state_and_pass(system: System, market_with_a_borrower):
    """The enclave's LTV cut applied on the fast path: the enclave's next nonce is now 1 and LTV's
    last execution is on record. The honest inputs carry both, and the re-read (the enclave's
    own nonce, the steward's state) finds the same; a reader without the steward, or one
    asking for another account's nonce, would not."""
    update = system.update("WETH", {Param.LTV: 8_025})
    system.submit(update)
    deployment, inputs = honest_inputs(system, market_with_a_borrower)
    assert inputs.enclave_nonce == update.nonce + 1
    assert inputs.assets[0].bounds.state[Param.LTV].last_executed_at > 0
    assert inputs_problems(system, deployment, inputs) == {
        "anchor block": (True, f"block {inputs.anchor.block_number} hash and time match"),
        "inputs on chain": (True, "every on-chain input re-read at the anchor block matches"),
    }


@pytest.mark.parametrize("deployed", [pytest.param("anvil", marks=pytest.mark.anvil)], indirect=True)
def test_an_account_that_borrows_after_the_anchor_is_not_missing(system: System, market_with_a_borrower):
    """The lender (1M USDC supplied before the anchor, so discovered) borrows 1 WETH one block
    after it: at the anchor it had no debt, so the positions are complete without it."""
    deployment, inputs = honest_inputs(system, market_with_a_borrower)
    w3, market = system.w3, system.deployment.market
    lender = system.users[0]
    Transactor(w3, lender).send(aave_contract(w3, "Pool", market.pool).functions.borrow(
        market.reserve("WETH").underlying, WETH_UNIT, 2, 0, lender.address))
    assert inputs_problems(system, deployment, inputs)["inputs on chain"] == (
        True, "every on-chain input re-read at the anchor block matches")


@pytest.mark.parametrize("deployed", [pytest.param("anvil", marks=pytest.mark.anvil)], indirect=True)
def test_a_deployment_without_a_steward_reads_no_steward_state(system: System, market_with_a_borrower):
    """A deployment file naming no steward: its state is not read (no update has moved it here,
    so the inputs' defaults match)."""
    deployment, inputs = honest_inputs(system, market_with_a_borrower)
    assert inputs_problems(system, deployment.model_copy(update={"steward": None}), inputs)["inputs on chain"] == (
        True, "every on-chain input re-read at the anchor block matches")


@pytest.mark.parametrize("deployed", [pytest.param("anvil", marks=pytest.mark.anvil)], indirect=True)
def test_an_anchor_that_is_not_the_chains_block_is_named(system: System, market_with_a_borrower):
    deployment, inputs = honest_inputs(system, market_with_a_borrower)
    wrong = replace(inputs, anchor=replace(inputs.anchor, block_hash=b"\x01" * 32))
    assert inputs_problems(system, deployment, wrong)["anchor block"] == (
        False, f"block {inputs.anchor.block_number} hash or time differ from the inputs")
    ahead = inputs.anchor.block_number + 1_000  # a block the node does not have: nothing else is read
    beyond = replace(inputs, anchor=replace(inputs.anchor, block_number=ahead))
    assert check_inputs_on_chain(system.w3, deployment, beyond, system.enclave.address) == [
        Check("inputs on chain", False, f"the node has no block {ahead}")]


@pytest.mark.parametrize("deployed", [pytest.param("anvil", marks=pytest.mark.anvil)], indirect=True)
def test_prices_from_a_file_are_listed_as_not_on_chain(system: System, market_with_a_borrower):
    """A backfilled segment before the feed's rounds is named by its file, not re-read."""
    deployment, inputs = honest_inputs(system, market_with_a_borrower)
    (feed,) = inputs.assets[0].prices
    backfill = Observations("file:sha256:ab12", feed.timestamps_s[:1] - 3_600, np.array([1_590.0]))
    problems = inputs_problems(system, deployment, with_weth(inputs, prices=(backfill, feed)))
    assert problems["inputs on chain"][0] is True
    assert problems["inputs from files"] == (True, "not on chain (named by file hash): 1 WETH prices from file:sha256:ab12")
    older = Observations("file:sha256:cd34", feed.timestamps_s[:1] - 7_200, np.array([1_580.0]))
    problems = inputs_problems(system, deployment, with_weth(inputs, prices=(older, backfill, feed)))
    assert problems["inputs from files"] == (True, "not on chain (named by file hash): 1 WETH prices from "
                                                   "file:sha256:cd34; 1 WETH prices from file:sha256:ab12")
