"""The agent service as users run it (`risk-agent run --config`), against a real anvil with
Aave v3 and the steward, and a separate real enclave process: end to end through an RPC
outage, and kill -9 at the worst moments of a relay (faults injected from the test's side by
a JSON-RPC proxy, never by hooks in the service)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
from eth_utils import keccak

from chain.aave import our_contract, set_pair_reserves
from chain.node import advance_time, free_loopback_port, latest_timestamp, revert_to, snapshot, start_anvil
from chain.steward import StewardClient
from chain.transact import Transactor
from enclave.client import start_enclave
from tests.support.rpc_proxy import RpcProxy
from tests.support.system import deploy

pytestmark = [pytest.mark.integration, pytest.mark.anvil, pytest.mark.xdist_group("service")]  # one worker: one market
RISK_AGENT = str(Path(sys.executable).with_name("risk-agent"))
MIN_DELAY_SECONDS = 60
HISTORY_HOURS = 24 * 20


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    """One anvil with Aave v3 and the steward, and one enclave process, for the module: each
    test runs from a snapshot of the chain taken here and reverted after it (anvil's revert
    also restores its clock), with its own database, proxy and service."""
    tmp = tmp_path_factory.mktemp("service-market")
    node = start_anvil(log_dir=tmp)
    w3 = node.web3()
    enclave = start_enclave(dev_ca_dir=tmp / "dev-ca")
    system, who = deploy(w3, min_delay_seconds=MIN_DELAY_SECONDS, measurements=(enclave.measurement,))
    system.to_deployment().write(tmp / "deployment.json")
    # 20 days of hourly prices whose volatility doubles half way, ending an hour ago, as a
    # backfill file; the pair holds the last price, as arbitrage leaves it.
    now = latest_timestamp(w3)
    rng = np.random.default_rng(11)
    sigma = np.where(np.arange(HISTORY_HOURS) < HISTORY_HOURS // 2, 0.006, 0.012)
    prices = 1_600 * np.exp(np.cumsum(rng.normal(0, sigma)))
    stamps = now - 3_600 * np.arange(HISTORY_HOURS, 0, -1)
    pd.DataFrame({"timestamp": stamps, "price": prices}).to_csv(tmp / "weth.csv", index=False)
    weth = system.market.reserve("WETH")
    keeper = Transactor(w3, who.governance)
    keeper.send(our_contract(w3, "PushableAggregator", weth.feed).functions.pushAnswer(int(prices[-1] * 1e8)))
    set_pair_reserves(w3, keeper, weth.pair, {weth.underlying: 5_000 * 10**18,
                                              system.market.reserve("USDC").underlying: int(5_000 * prices[-1] * 10**6)})
    yield {"node": node, "w3": w3, "system": system, "who": who, "enclave": enclave, "tmp": tmp}
    enclave.stop()
    node.stop()


@pytest.fixture
def setup(market, tmp_path):
    w3, tmp = market["w3"], market["tmp"]
    before = snapshot(w3)
    proxy = RpcProxy(market["node"].rpc_url)
    metrics_port = free_loopback_port()
    config = tmp_path / "agent.toml"
    config.write_text(f"""
profile = "local"
rpc_url = "{proxy.url}"
chain_id = 31337
deployment_file = "{tmp / 'deployment.json'}"
database_url = "{tmp_path / 'agent.sqlite'}"
assets = ["WETH"]
max_backoff_s = 2
metrics_port = {metrics_port}
[backfill_csv]
WETH = "{tmp / 'weth.csv'}"
[enclave]
url = "{market['enclave'].url}"
trust_dev_root = true
dev_ca_dir = "{tmp / 'dev-ca'}"
auto_register = true
[operator]
use_dev_account = 3
[schedules]
ingest_s = 1
decide_s = 2
submit_s = 1
execute_s = 1
reconcile_s = 1
health_s = 2
""")
    context = {"w3": w3, "system": market["system"], "who": market["who"], "config": config,
               "db": tmp_path / "agent.sqlite", "tmp": tmp_path, "proxy": proxy, "metrics_port": metrics_port,
               "services": []}
    yield context
    for service in context["services"]:
        kill(service)
    proxy.close()
    revert_to(w3, before)


def start_service(setup) -> subprocess.Popen:
    log = open(setup["tmp"] / f"service-{len(setup['services'])}.log", "w")
    process = subprocess.Popen([RISK_AGENT, "run", "--config", str(setup["config"])], stdout=log, stderr=subprocess.STDOUT,
                               env=dict(os.environ), start_new_session=True)
    process.log_path = log.name
    setup["services"].append(process)
    return process


def kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def rows(db: Path, query: str) -> list[tuple]:
    for _ in range(50):
        try:
            with sqlite3.connect(db, timeout=5) as connection:
                return connection.execute(query).fetchall()
        except sqlite3.OperationalError:
            time.sleep(0.1)
    raise AssertionError("database stayed unreadable")


def wait_for(predicate, timeout_s: float = 90, what: str = "", process: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        if process is not None and process.poll() is not None:
            raise AssertionError(f"service exited ({process.returncode}): {Path(process.log_path).read_text()[-2000:]}")
        time.sleep(0.25)
    log = Path(process.log_path).read_text()[-3000:] if process is not None else ""
    raise AssertionError(f"timed out waiting for {what}\n{log}")


def register_enclave(setup, service) -> None:
    """The service proposes its key through the registrar; time passes the delay; it executes it."""
    db = setup["db"]
    wait_for(lambda: rows(db, "select 1 from attestation where registration_state = 'scheduled'") if db.exists() else None,
             what="registration scheduled", process=service)
    advance_time(setup["w3"], MIN_DELAY_SECONDS + 1)
    wait_for(lambda: rows(db, "select 1 from attestation where registration_state = 'executed'"), what="registration executed",
             process=service)


def test_service_end_to_end_through_an_rpc_outage(setup):
    db = setup["db"]
    service = start_service(setup)
    register_enclave(setup, service)
    relayed = wait_for(lambda: rows(db, "select id, state, path from proposal where state in ('queued', 'executed')"),
                       what="a relayed proposal", process=service)
    # The RPC goes away for a while: the service keeps running, says so, and catches up.
    setup["proxy"].mode = "down"
    blocks_before = rows(db, "select max(block_number) from market_snapshot")[0][0]
    wait_for(lambda: rows(db, "select 1 from job_status where name = 'ingest' and errors > 0"), what="ingest errors",
             process=service)
    assert service.poll() is None
    setup["proxy"].mode = "forward"
    advance_time(setup["w3"], MIN_DELAY_SECONDS + 1)
    wait_for(lambda: rows(db, f"select 1 from proposal where id = {relayed[0][0]} and state = 'executed'"),
             what="execution after the outage", process=service)
    wait_for(lambda: rows(db, f"select 1 from market_snapshot where block_number > {blocks_before}"),
             what="ingest after the outage", process=service)
    metrics = requests.get(f"http://127.0.0.1:{setup['metrics_port']}/metrics", timeout=5).text
    assert 'risk_agent_job_errors_total{job="ingest"}' in metrics
    assert 'risk_agent_proposals{state="executed"}' in metrics
    assert "risk_agent_last_successful_ingest_timestamp_seconds" in metrics
    log = Path(service.log_path).read_text()
    events = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any(e["event"] == "job failed" and e.get("job") == "ingest" for e in events)
    assert all("ts" in e and "level" in e for e in events)
    # Every relayed update's inputs are published on chain.
    steward = StewardClient.for_system(setup["w3"], setup["system"])
    for (canonical,) in rows(db, "select inputs_canonical from decision where inputs_publish_tx is not null"):
        assert steward.steward.functions.inputsPublishedAtBlock(keccak(canonical)).call() > 0


@pytest.mark.parametrize("moment", ["hold-submit-before", "hold-submit-after"])
def test_kill_9_during_a_relay_loses_nothing_and_relays_once(setup, moment):
    """The service is killed while its submit transaction is held by the proxy: before it
    reached the node (nothing on chain) or after the node mined it (its answer lost). After a
    restart every proposal is as it was, relayed exactly once."""
    db = setup["db"]
    setup["proxy"].mode = moment
    service = start_service(setup)
    register_enclave(setup, service)
    assert setup["proxy"].held.wait(timeout=90), Path(service.log_path).read_text()[-2000:]
    kill(service)
    before = rows(db, "select id, nonce, update_json, signature, state from proposal order by id")
    assert before[0][4] == "submitted"
    setup["proxy"].mode = "forward"

    restarted = start_service(setup)
    wait_for(lambda: rows(db, f"select 1 from proposal where id = {before[0][0]} and state in ('queued', 'executed')"),
             what="the interrupted proposal relayed", process=restarted)
    after = rows(db, "select id, nonce, update_json, signature, state from proposal order by id")
    assert [r[:4] for r in after[: len(before)]] == [r[:4] for r in before]  # nothing lost or rewritten
    nonces = [r[1] for r in after]
    assert len(nonces) == len(set(nonces))
    steward = StewardClient.for_system(setup["w3"], setup["system"])

    def relayed_once():
        """Every update on chain once, and as many as the proposals the database calls relayed.
        The restarted service may be relaying the decision's next part (mined, its row not yet
        updated) when this is first read: the two must agree once it has, and no hash may
        ever appear twice."""
        first = setup["system"].deployed_at_block
        hashes = [e["args"]["updateHash"] for e in [*steward.steward.events.UpdateApplied().get_logs(from_block=first),
                                                     *steward.steward.events.UpdateScheduled().get_logs(from_block=first)]]
        assert len(hashes) == len(set(hashes)), f"an update relayed twice: {hashes}"
        relayed = rows(db, "select 1 from proposal where state in ('queued', 'executed', 'cancelled')")
        return len(hashes) == len(relayed) >= 1

    wait_for(relayed_once, timeout_s=30, what="the chain's updates and the relayed proposals to agree", process=restarted)
