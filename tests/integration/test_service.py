"""The agent service as users run it (`risk-agent run --config`), against a real anvil and a
separate real enclave process: end to end, kill -9 at the worst moments, the RPC going away."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import requests

from backtests.data import load_bundled
from chain.deploy import SystemConfig, deploy_system
from chain.node import advance_time, dev_accounts, free_loopback_port, start_anvil
from chain.steward import StewardClient
from enclave.client import start_enclave

pytestmark = [pytest.mark.integration, pytest.mark.anvil, pytest.mark.needs_data]
RISK_AGENT = str(Path(sys.executable).with_name("risk-agent"))
MIN_DELAY_SECONDS = 60


class ToggleProxy:
    """A loopback TCP proxy to the node that can be switched off: the RPC "goes down"."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._enabled = True
        self.open_sockets: list[socket.socket] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def enabled(self) -> bool:
        return self._enabled

    @enabled.setter
    def enabled(self, value: bool) -> None:
        self._enabled = value
        if not value:  # drop kept-alive connections too, as a dead node would
            for open_socket in self.open_sockets:
                try:
                    open_socket.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.open_sockets.clear()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.enabled:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self.open_sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


@pytest.fixture
def setup(tmp_path):
    node = start_anvil(log_dir=tmp_path)
    w3 = node.web3()
    accounts = dev_accounts(w3)
    deployment = deploy_system(w3, accounts[0], accounts[1].address, SystemConfig(min_delay_seconds=MIN_DELAY_SECONDS))
    deployment.write(tmp_path / "deployment.json")
    dev_ca = tmp_path / "dev-ca"
    enclave = start_enclave(dev_ca_dir=dev_ca)
    # Four months of real ETH history, scaled to the feed's price and ending an hour ago.
    eth = load_bundled("ETH").prices_usd.loc["2019-11-01":"2020-02-27"]
    eth = eth * (1_600 / eth.iloc[-1])
    now = w3.eth.get_block("latest")["timestamp"]
    shift = now - 3_600 - int(eth.index[-1].timestamp())
    pd.DataFrame({"timestamp": [int(t.timestamp()) + shift for t in eth.index], "price": eth.to_numpy()}).to_csv(
        tmp_path / "weth.csv", index=False)
    proxy = ToggleProxy(node.port)
    metrics_port = free_loopback_port()
    config = tmp_path / "agent.toml"
    config.write_text(f"""
profile = "local"
rpc_url = "http://127.0.0.1:{proxy.port}"
chain_id = 31337
deployment_file = "{tmp_path / 'deployment.json'}"
database_url = "{tmp_path / 'agent.sqlite'}"
assets = ["WETH"]
max_backoff_s = 4
metrics_port = {metrics_port}
[backfill_csv]
WETH = "{tmp_path / 'weth.csv'}"
[enclave]
url = "{enclave.url}"
trust_dev_root = true
dev_ca_dir = "{dev_ca}"
auto_register = true
[operator]
use_dev_account = 0
[schedules]
ingest_s = 1
decide_s = 2
submit_s = 1
execute_s = 1
reconcile_s = 1
health_s = 2
""")
    context = {"node": node, "w3": w3, "deployment": deployment, "config": config, "db": tmp_path / "agent.sqlite",
               "tmp": tmp_path, "proxy": proxy, "metrics_port": metrics_port, "guardian": StewardClient(w3, deployment, accounts[1]), "services": []}
    yield context
    for service in context["services"]:
        kill(service)
    enclave.stop()
    node.stop()


def start_service(setup, **env) -> subprocess.Popen:
    log = open(setup["tmp"] / f"service-{len(setup['services'])}.log", "w")
    process = subprocess.Popen([RISK_AGENT, "run", "--config", str(setup["config"])], stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, **env}, start_new_session=True)
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
    """The service schedules its key's registration; time passes the delay; it executes it."""
    db = setup["db"]
    wait_for(lambda: rows(db, "select 1 from attestation where registration_state = 'scheduled'") if db.exists() else None,
             what="registration scheduled", process=service)
    advance_time(setup["w3"], MIN_DELAY_SECONDS + 1)
    wait_for(lambda: rows(db, "select 1 from attestation where registration_state = 'executed'"), what="registration executed",
             process=service)


def scheduled_updates(setup) -> list:
    steward = setup["guardian"].steward
    return steward.events.UpdateScheduled().get_logs(from_block=setup["deployment"].deployed_at_block)


def test_service_end_to_end_through_an_rpc_outage(setup):
    db = setup["db"]
    service = start_service(setup)
    register_enclave(setup, service)
    proposal = wait_for(lambda: rows(db, "select id, operation_id from proposal where state = 'queued'"), what="a queued proposal",
                        process=service)[0]
    # The RPC goes away for a while: the service keeps running, says so, and catches up.
    setup["proxy"].enabled = False
    blocks_before = rows(db, "select max(block_number) from market_snapshot")[0][0]
    wait_for(lambda: rows(db, "select 1 from job_status where name = 'ingest' and errors > 0"), what="ingest errors",
             process=service)
    assert service.poll() is None
    setup["proxy"].enabled = True
    advance_time(setup["w3"], MIN_DELAY_SECONDS + 1)
    wait_for(lambda: rows(db, f"select 1 from proposal where id = {proposal[0]} and state = 'executed'"),
             what="execution after the outage", process=service)
    assert rows(db, "select max(block_number) from market_snapshot")[0][0] > blocks_before
    metrics = requests.get(f"http://127.0.0.1:{setup['metrics_port']}/metrics", timeout=5).text
    assert 'risk_agent_job_errors_total{job="ingest"}' in metrics
    assert 'risk_agent_proposals{state="executed"}' in metrics or "risk_agent_job_runs_total" in metrics
    assert "risk_agent_last_successful_ingest_timestamp_seconds" in metrics
    log = Path(service.log_path).read_text()
    assert '"event": "job failed"' in log and "ingest" in log
    events = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert all("ts" in e and "level" in e for e in events)


@pytest.mark.parametrize("checkpoint", ["submit_marked", "submit_sent"])
def test_kill_9_during_submit_loses_nothing_and_submits_once(setup, checkpoint):
    db = setup["db"]
    service = start_service(setup, RISK_AGENT_PAUSE_AT=checkpoint)
    register_enclave(setup, service)
    wait_for(lambda: '"paused"' in Path(service.log_path).read_text(), what=f"pause at {checkpoint}", process=service)
    kill(service)
    before = rows(db, "select id, nonce, update_json, signature, state from proposal order by id")
    assert before and before[0][4] == "submitted"

    restarted = start_service(setup)
    wait_for(lambda: rows(db, f"select 1 from proposal where id = {before[0][0]} and state = 'queued'"),
             what="the interrupted proposal queued", process=restarted)
    after = rows(db, "select id, nonce, update_json, signature, state from proposal order by id")
    assert [r[:4] for r in after[: len(before)]] == [r[:4] for r in before]  # nothing lost or rewritten
    nonces = [r[1] for r in after]
    assert len(nonces) == len(set(nonces))
    scheduled = scheduled_updates(setup)
    assert len(scheduled) == len({e["args"]["updateHash"] for e in scheduled}) == len(
        rows(db, "select 1 from proposal where state in ('queued', 'executed', 'cancelled')"))
