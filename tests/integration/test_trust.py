"""The trust claims against a hostile operator, end to end on a real anvil with real Aave v3,
the steward and a real enclave process: an update verifies from the chain alone; inputs the
chain did not hold are flagged by `verify` (made-up prices) or refused on chain (a future or
forged anchor); shadow mode prints exactly what the enclave signs for the same block."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from sqlmodel import Session, select

from agent import jobs
from agent.jobs import AgentContext
from agent.shadow import shadow_decision
from agent.store import DecisionRow, ProposalRow, make_engine
from agent.verify import check_inputs_on_chain, verify_on_chain
from chain.aave import aave_contract, our_contract, set_pair_reserves
from chain.errors import ContractRevert
from chain.node import advance_time, latest_timestamp, start_anvil
from chain.steward import RegistrarClient
from chain.transact import Transactor
from enclave.attestation import TrustAnchors
from enclave.client import EnclaveClient, start_enclave
from enclave.nsm import DevCa
from strategies.inputs import Observations
from tests.support.system import deploy, relay_for

pytestmark = [pytest.mark.integration, pytest.mark.anvil]
HISTORY_HOURS = 24 * 20
MIN_DELAY = 60


def seed_history(w3, system, keeper, hours: int, seed: int) -> None:
    """Hourly WETH rounds (a seeded path from $1,600 whose volatility doubles half way) ending
    now, pushed with their own historical timestamps in batches; the WETH/USDC pair then holds
    5,000 WETH at the last price (as arbitrage would leave it)."""
    weth = system.market.reserve("WETH")
    feed = our_contract(w3, "PushableAggregator", weth.feed)
    advance_time(w3, hours * 3_600 + 60)
    now = latest_timestamp(w3)
    rng = np.random.default_rng(seed)
    sigma = np.full(hours, 0.006)
    sigma[hours // 2:] = 0.012  # volatility doubles half way: the agent tightens
    prices = 1_600 * np.exp(np.cumsum(rng.normal(0, sigma)))
    stamps = [now - (hours - i) * 3_600 for i in range(hours)]
    tx = Transactor(w3, keeper)
    for start in range(0, hours, 240):
        tx.send(feed.functions.pushRounds([int(p * 1e8) for p in prices[start:start + 240]], stamps[start:start + 240]))
    last = int(prices[-1] * 1e8) / 1e8
    set_pair_reserves(w3, tx, weth.pair, {weth.underlying: 5_000 * 10**18,
                                          system.market.reserve("USDC").underlying: int(5_000 * last * 10**6)})


def open_positions(w3, system, lender, borrowers) -> None:
    pool = aave_contract(w3, "Pool", system.market.pool)
    weth = our_contract(w3, "TestToken", system.market.reserve("WETH").underlying)
    usdc = our_contract(w3, "TestToken", system.market.reserve("USDC").underlying)
    tx = Transactor(w3, lender)
    tx.send(usdc.functions.mint(lender.address, 10**7 * 10**6))
    tx.send(usdc.functions.approve(pool.address, 10**7 * 10**6))
    tx.send(pool.functions.supply(usdc.address, 10**7 * 10**6, lender.address, 0))
    price = aave_contract(w3, "AaveOracle", system.market.oracle).functions.getAssetPrice(weth.address).call() / 1e8
    for index, borrower in enumerate(borrowers):
        tx = Transactor(w3, borrower)
        tokens = 10 * (index + 1)
        tx.send(weth.functions.mint(borrower.address, tokens * 10**18))
        tx.send(weth.functions.approve(pool.address, tokens * 10**18))
        tx.send(pool.functions.supply(weth.address, tokens * 10**18, borrower.address, 0))
        tx.send(pool.functions.borrow(usdc.address, int(tokens * price * 0.6 * 10**6), 2, 0, borrower.address))


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """anvil + Aave + steward, a registered enclave, 20 days of hourly WETH rounds, three
    borrowers, and one decision made, published and relayed by the agent's own jobs."""
    tmp = tmp_path_factory.mktemp("trust")
    node = start_anvil(log_dir=tmp)
    enclave = start_enclave(dev_ca_dir=tmp / "dev-ca")
    try:
        w3 = node.web3()
        system, who = deploy(w3, min_delay_seconds=MIN_DELAY, measurements=(enclave.measurement,))
        seed_history(w3, system, who.governance, HISTORY_HOURS, seed=3)
        open_positions(w3, system, who.others[0], who.others[1:4])
        anchors = TrustAnchors().with_root(DevCa.load_or_create(tmp / "dev-ca").root_pem)
        ctx = AgentContext(engine=make_engine(str(tmp / "agent.sqlite")), w3=w3, deployment=system.to_deployment(),
                           relay=relay_for(w3, system, who.operator),
                           enclave=EnclaveClient(enclave.url, enclave.measurement, anchors), assets=["WETH"],
                           registrar=RegistrarClient(w3, system.registrar, who.operator))
        jobs.ensure_enclave(ctx)
        advance_time(w3, MIN_DELAY + 1)
        jobs.execute(ctx)
        jobs.ingest(ctx)
        assert jobs.decide(ctx), "the decision should sign at least one update"
        assert jobs.submit(ctx)
        yield {"w3": w3, "system": system, "who": who, "ctx": ctx, "anchors": anchors, "enclave": enclave}
    finally:
        enclave.stop()
        node.stop()


def relayed(ctx) -> list[ProposalRow]:
    with Session(ctx.engine) as session:
        return list(session.exec(select(ProposalRow).where(ProposalRow.update_hash != "").order_by(ProposalRow.id)))


def test_an_update_verifies_from_the_chain_alone(live):
    """No database: the update from its submit transaction, the inputs from publishInputs'
    calldata, the attestation document from the registrar's; every check passes, and each
    input was re-read at the anchor block."""
    proposal = relayed(live["ctx"])[0]
    checks = verify_on_chain(live["w3"], live["ctx"].deployment, bytes.fromhex(proposal.update_hash[2:]), live["anchors"])
    assert {c.name: c.passed for c in checks} == {
        "inputs hash": True, "re-run gives identical update": True, "signature": True, "attestation": True,
        "anchor block": True, "inputs on chain": True, "chain record": True,
    }, [(c.name, c.detail) for c in checks]


def test_made_up_calm_prices_are_signed_but_flagged_by_verify(live):
    """The operator replaces the feed's rounds with a calm, made-up series (same round ids and
    times) before asking the enclave: the enclave signs what it is given, the steward cannot
    tell, but `verify` re-reads each round from the feed and names the difference."""
    ctx = live["ctx"]
    inputs = ctx.anchor_reader().read(ctx.enclave.attested.enclave_address)
    asset = inputs.asset("WETH")
    real = asset.prices[-1]
    calm = Observations(real.source, real.timestamps_s, np.full(len(real), float(real.values[-1])), real.keys)
    fake = replace(inputs, assets=(replace(asset, prices=(*asset.prices[:-1], calm)),))
    decision = ctx.enclave.decide(fake)
    assert decision.recommendation_json  # the enclave answers: it cannot see the chain
    flagged = {c.name: c for c in check_inputs_on_chain(live["w3"], ctx.deployment, fake, ctx.enclave.attested.enclave_address)}
    assert not flagged["inputs on chain"].passed
    # Every round but the newest (whose real price the fake series repeats) is named.
    assert f"{len(real) - 1} WETH feed rounds differ from the feed (first: round {real.keys[0]})" in flagged["inputs on chain"].detail
    honest = {c.name: c for c in check_inputs_on_chain(live["w3"], ctx.deployment, inputs, ctx.enclave.attested.enclave_address)}
    assert honest["inputs on chain"].passed, honest["inputs on chain"].detail


@pytest.mark.parametrize("forgery, error", [("future", "AnchorInFuture"), ("hash", "AnchorHashMismatch")])
def test_a_forged_anchor_is_refused_on_chain(live, forgery, error):
    """Inputs claiming a time 30 days ahead, or a block hash the chain does not have: the
    enclave signs them, the steward refuses the update by name and nothing changes."""
    ctx = live["ctx"]
    inputs = ctx.anchor_reader().read(ctx.enclave.attested.enclave_address)
    # The forger also clears the cooldowns the first decision started, so the enclave has
    # something to sign; and, for a future anchor, moves every observation along with it.
    weth = inputs.asset("WETH")
    weth = replace(weth, bounds=replace(weth.bounds, state={}))
    anchor = inputs.anchor
    if forgery == "future":
        shift = 30 * 86_400
        anchor = replace(anchor, timestamp_s=anchor.timestamp_s + shift)
        weth = replace(weth, prices=tuple(replace(o, timestamps_s=o.timestamps_s + shift) for o in weth.prices),
                       utilization=replace(weth.utilization, timestamps_s=weth.utilization.timestamps_s + shift))
    else:
        anchor = replace(anchor, block_hash=b"\x13" * 32)
    fake = replace(inputs, anchor=anchor, assets=(weth,))
    decision = ctx.enclave.decide(fake)
    assert decision.updates, "the forged inputs should still produce an update to relay"
    signed = decision.updates[0]
    ctx.relay.publish_inputs(fake.canonical_bytes())
    nonce_before = ctx.relay.nonce(signed.update.enclave)
    with pytest.raises(ContractRevert) as refused:
        ctx.relay.submit(signed.update, signed.signature)
    assert refused.value.name == error
    assert ctx.relay.nonce(signed.update.enclave) == nonce_before


def test_shadow_mode_prints_what_the_enclave_signed_at_the_same_block(live):
    """Shadow mode at the decision's anchor block, reading the same enclave's nonce: the same
    inputs, hence the same recommendation bytes and the same updates the enclave signed."""
    ctx = live["ctx"]
    with Session(ctx.engine) as session:
        decision = session.exec(select(DecisionRow).order_by(DecisionRow.id)).first()
    system = live["system"]
    shadow = shadow_decision(live["w3"], system.market.addresses_provider, ("WETH",), system.steward, decision.anchor_block,
                             multicall=system.market.multicall, dex_pairs=ctx.deployment.dex_pairs,
                             positions_from_block=system.deployed_at_block, enclave=decision.enclave_address)
    assert shadow.inputs.canonical_bytes() == decision.inputs_canonical
    assert shadow.recommendation.to_canonical_json().decode() == decision.recommendation_json
    signed = [json.loads(p.update_json) for p in relayed(ctx) if p.decision_id == decision.id]
    assert [u.as_json() for u in shadow.updates] == signed


def test_only_the_registered_enclave_key_counts(live, tmp_path):
    """The same update signed by another key is refused (InvalidSignature); a restarted
    enclave has a new key, whose updates are refused (EnclaveNotRegistered) until its own
    registration passes the timelock."""
    from eth_account import Account

    from chain.update import sign_update

    ctx = live["ctx"]
    inputs = ctx.anchor_reader().read(ctx.enclave.attested.enclave_address)
    weth = inputs.asset("WETH")
    provoking = replace(inputs, assets=(replace(weth, bounds=replace(weth.bounds, state={})),))
    signed = ctx.enclave.decide(provoking).updates[0]
    ctx.relay.publish_inputs(provoking.canonical_bytes())
    with pytest.raises(ContractRevert) as refused:
        ctx.relay.submit(signed.update, sign_update(signed.update, Account.create().key, ctx.deployment.steward))
    assert refused.value.name == "InvalidSignature"

    restarted = start_enclave(dev_ca_dir=tmp_path / "dev-ca")
    try:
        fresh = EnclaveClient(restarted.url, restarted.measurement, TrustAnchors().with_root(
            DevCa.load_or_create(tmp_path / "dev-ca").root_pem))
        fresh.attest()
        assert fresh.attested.enclave_address != ctx.enclave.attested.enclave_address
        other = fresh.decide(replace(provoking, enclave_nonce=0))
        with pytest.raises(ContractRevert) as refused:
            ctx.relay.submit(other.updates[0].update, other.updates[0].signature)
        assert refused.value.name == "EnclaveNotRegistered"
    finally:
        restarted.stop()
