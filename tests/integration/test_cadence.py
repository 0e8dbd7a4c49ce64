"""The same market printed every minute, every 15 minutes and every hour yields the identical
decision through the service's own decide job: the agent stores every feed round whatever
its ingest cadence, and the one hourly builder takes the last print at or before each hour
mark. Real anvil, real Aave v3 and steward, the real enclave process."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sqlmodel import Session, select

from agent import jobs
from agent.jobs import AgentContext
from agent.store import DecisionRow, PricePointRow, make_engine
from chain.aave import our_contract, set_pair_reserves
from chain.node import advance_time, latest_timestamp, start_anvil
from chain.steward import RegistrarClient
from chain.transact import Transactor
from enclave.attestation import TrustAnchors
from enclave.client import EnclaveClient, start_enclave
from enclave.nsm import DevCa
from tests.support.system import deploy, relay_for

pytestmark = [pytest.mark.integration, pytest.mark.anvil, pytest.mark.slow]  # ~65 s: make test-slow
DAYS = 15  # the guard needs 14 days of history
MINUTES = DAYS * 24 * 60


def minute_path(seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 1_600 * np.exp(np.cumsum(rng.normal(0, 0.0015, MINUTES)))


def decide_on_a_market_printed_every(step_minutes: int, enclave, tmp_path) -> tuple[dict, int]:
    tmp_path.mkdir()
    node = start_anvil(log_dir=tmp_path)
    try:
        w3 = node.web3()
        system, who = deploy(w3, measurements=(enclave.measurement,))
        weth = system.market.reserve("WETH")
        feed = our_contract(w3, "PushableAggregator", weth.feed)
        keeper = Transactor(w3, who.governance)
        anchors = TrustAnchors().with_root(DevCa.load_or_create(tmp_path.parent / "dev-ca").root_pem)
        ctx = AgentContext(engine=make_engine(str(tmp_path / "agent.sqlite")), w3=w3, deployment=system.to_deployment(),
                           relay=relay_for(w3, system, who.operator),
                           enclave=EnclaveClient(enclave.url, enclave.measurement, anchors), assets=["WETH"],
                           registrar=RegistrarClient(w3, system.registrar, who.operator))
        jobs.ensure_enclave(ctx)
        advance_time(w3, 61)
        jobs.execute(ctx)
        # The history ends on an hour mark, `end`, which is also the anchor block's time: all but
        # its last hour is pushed first; the last hour's prints go in one block stamped `end`,
        # and the decision follows with no block in between.
        start = (latest_timestamp(w3) // 3_600 + 1) * 3_600  # after the listing round
        end = start + MINUTES * 60
        prices = minute_path()
        stamps = start + 60 * np.arange(1, MINUTES + 1)
        chosen = np.arange(step_minutes - 1, MINUTES, step_minutes)
        bulk, last_hour = chosen[stamps[chosen] <= end - 3_600], chosen[stamps[chosen] > end - 3_600]
        w3.provider.make_request("evm_setNextBlockTimestamp", [end - 3_600 + 1])
        w3.provider.make_request("evm_mine", [])
        for batch in np.array_split(bulk, max(len(bulk) // 300, 1)):  # ~27k gas a round
            keeper.send(feed.functions.pushRounds([int(p * 1e8) for p in prices[batch]], [int(t) for t in stamps[batch]]),
                        gas=12_000_000, simulate=False)
        set_pair_reserves(w3, keeper, weth.pair, {weth.underlying: 5_000 * 10**18,
                                                   system.market.reserve("USDC").underlying: int(5_000 * prices[-1] * 10**6)})
        w3.provider.make_request("evm_setNextBlockTimestamp", [end])
        keeper.send(feed.functions.pushRounds([int(p * 1e8) for p in prices[last_hour]], [int(t) for t in stamps[last_hour]]),
                    gas=3_000_000, simulate=False)
        assert latest_timestamp(w3) == end
        jobs.ingest(ctx)
        jobs.decide(ctx)
        with Session(ctx.engine) as session:
            decision = session.exec(select(DecisionRow)).one()
            rounds = len(session.exec(select(PricePointRow)).all())
        recommendation = json.loads(decision.recommendation_json)
        recommendation.pop("inputs_hash")
        return recommendation, rounds
    finally:
        node.stop()


def test_one_minute_fifteen_minute_and_hourly_prints_decide_alike(tmp_path_factory):
    home = tmp_path_factory.mktemp("cadence")
    enclave = start_enclave(dev_ca_dir=home / "dev-ca")
    try:
        results = {step: decide_on_a_market_printed_every(step, enclave, home / f"every-{step}") for step in (1, 15, 60)}
    finally:
        enclave.stop()
    # Every round was stored (the listing round and the history).
    assert {step: rounds for step, (_, rounds) in results.items()} == {1: MINUTES + 1, 15: MINUTES // 15 + 1,
                                                                         60: MINUTES // 60 + 1}
    minute, quarter, hour = (results[step][0] for step in (1, 15, 60))
    assert minute == quarter == hour
    assert minute["assets"][0]["symbol"] == "WETH" and minute["assets"][0]["action"] in ("update", "hold")
    assert minute["assets"][0]["metrics"]["carried_hours"] == 0
