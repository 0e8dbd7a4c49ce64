"""The demo end to end on the in-process EVM with the real enclave process, then
`risk-agent verify` on its proposals: passes on each, fails when one stored input byte changes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from agent.demo import run_demo
from agent.verify import verify_proposal
from enclave.attestation import TrustAnchors
from enclave.nsm import DevCa

pytestmark = [pytest.mark.integration, pytest.mark.needs_data]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    db = home / "demo.sqlite"
    summary = run_demo(3, db, home)
    return summary, db, home


def test_demo_lowers_threshold_queues_executes_and_vetoes(demo_run):
    summary, db, _ = demo_run
    assert summary.hours_replayed == 72 and summary.decisions == 3
    assert summary.proposals_by_state.get("executed", 0) >= 1
    assert summary.proposals_by_state.get("cancelled", 0) == 1
    assert summary.weth_after["liquidation_threshold_bps"] < summary.weth_before["liquidation_threshold_bps"]
    assert summary.weth_after["ltv_bps"] < summary.weth_before["ltv_bps"]
    # Within the steward's bounds: at most 25 bps per executed step.
    executed = summary.proposals_by_state["executed"]
    assert summary.weth_before["liquidation_threshold_bps"] - summary.weth_after["liquidation_threshold_bps"] <= 25 * executed


def test_verify_passes_on_every_executed_proposal(demo_run):
    summary, db, home = demo_run
    anchors = TrustAnchors().with_root(DevCa.load_or_create(home / "dev-ca").root_pem)
    executed = [p["id"] for p in summary.proposals if p["state"] == "executed"]
    assert executed
    for proposal_id in executed:
        checks = verify_proposal(str(db), proposal_id, anchors)
        assert all(c.passed for c in checks), [(c.name, c.detail) for c in checks if not c.passed]


def test_verify_fails_when_one_stored_input_byte_changes(demo_run, tmp_path):
    summary, db, home = demo_run
    tampered = tmp_path / "tampered.sqlite"
    tampered.write_bytes(Path(db).read_bytes())
    with sqlite3.connect(tampered) as connection:
        (blob,) = connection.execute("select inputs_canonical from decision where id = 1").fetchone()
        data = bytearray(blob)
        position = data.index(b'"prices_usd":[') + 20
        data[position] = ord("7") if data[position] != ord("7") else ord("8")
        connection.execute("update decision set inputs_canonical = ? where id = 1", (bytes(data),))
    anchors = TrustAnchors().with_root(DevCa.load_or_create(home / "dev-ca").root_pem)
    checks = {c.name: c for c in verify_proposal(str(tampered), 1, anchors)}
    assert not checks["inputs hash"].passed
    result = subprocess.run([str(Path(sys.executable).with_name("risk-agent")), "verify", "1", "--db", str(tampered)],
                            capture_output=True, text=True, env={"RISK_AGENT_HOME": str(home), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 1 and "FAIL inputs hash" in result.stdout
