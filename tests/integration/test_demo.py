"""The demo end to end (real Aave v3 on the in-process EVM, the real enclave process, 3 days
around the 2021-05-19 crash), then `risk-agent verify` on its proposals: passes on each,
fails when one stored input byte changes."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from agent.verify import verify_stored
from enclave.attestation import TrustAnchors
from enclave.nsm import DevCa
from strategies.inputs import decode_inputs
from strategies.params import AAVE_V3_OCT_2023

pytestmark = [pytest.mark.integration, pytest.mark.needs_data, pytest.mark.xdist_group("demo")]
WETH = AAVE_V3_OCT_2023["WETH"]


def test_demo_tightens_through_the_fast_path_queues_the_rest_and_the_guardian_vetoes_one(demo_run):
    """Every executed step stays within the steward's bounds: LT and LTV move 25 bps per
    execution at most, caps 30%; the first tightening applies at once (fast path) and one
    slow-path update is vetoed."""
    summary = demo_run.summary
    assert summary.hours_replayed == 72 and summary.decisions == 3
    assert summary.proposals_by_state.get("cancelled", 0) == 1
    executed = [p for p in summary.proposals if p["state"] == "executed"]
    assert any(p["path"] == "fast" for p in executed) and any(p["path"] == "slow" for p in executed)
    vetoed = [p for p in summary.proposals if p["state"] == "cancelled"]
    assert [p["path"] for p in vetoed] == ["slow"]
    before, after = summary.weth_before, summary.weth_after
    assert after["liquidation_threshold_bps"] < before["liquidation_threshold_bps"] == WETH.liquidation_threshold_bps
    lt_steps = sum(1 for p in executed if p["after"]["liquidation_threshold_bps"] != p["before"]["liquidation_threshold_bps"])
    assert before["liquidation_threshold_bps"] - after["liquidation_threshold_bps"] == 25 * lt_steps
    for proposal in executed:
        cap_before, cap_after = proposal["before"]["supply_cap_tokens"], proposal["after"]["supply_cap_tokens"]
        assert abs(cap_after - cap_before) <= cap_before * 3_000 // 10_000
        assert proposal["after"]["ltv_bps"] <= proposal["after"]["liquidation_threshold_bps"]


def test_every_decision_names_its_anchor_config_and_published_inputs(demo_run):
    with sqlite3.connect(demo_run.db) as connection:
        rows = connection.execute("select inputs_canonical, anchor_block, config_hash, inputs_publish_tx, "
                                  "recommendation_json from decision order by id").fetchall()
    assert len(rows) == 3
    for canonical, anchor_block, config_hash, _, recommendation in rows:
        inputs = decode_inputs(canonical)
        assert inputs.anchor.block_number == anchor_block
        assert json.loads(recommendation)["config_hash"] == config_hash and len(config_hash) == 64
        segments = inputs.asset("WETH").prices
        # A backfill file (named by its hash and the replay's shift), then the feed's own rounds.
        assert segments[0].source.startswith("file:sha256:") and ";shift_s=" in segments[0].source
        assert segments[-1].source.startswith("feed:") and len(segments[-1].keys) == len(segments[-1])
    assert all(row[3] for row in rows[:1])  # the first decision's update was relayed: its inputs were published


def test_verify_passes_on_every_executed_proposal(demo_run):
    anchors = TrustAnchors().with_root(DevCa.load_or_create(demo_run.home / "dev-ca").root_pem)
    executed = [p["id"] for p in demo_run.summary.proposals if p["state"] == "executed"]
    assert len(executed) >= 2
    for proposal_id in executed:
        checks = verify_stored(str(demo_run.db), proposal_id, anchors)
        assert [c.name for c in checks if not c.passed] == [], [(c.name, c.detail) for c in checks]


def test_verify_fails_when_one_stored_input_byte_changes(demo_run, tmp_path):
    """One price in the stored inputs changed: the inputs no longer hash to the signed
    inputsHash, and the CLI says FAIL and exits 1."""
    tampered = tmp_path / "tampered.sqlite"
    tampered.write_bytes(Path(demo_run.db).read_bytes())
    with sqlite3.connect(tampered) as connection:
        (blob,) = connection.execute("select inputs_canonical from decision where id = 1").fetchone()
        data = bytearray(blob)
        data[len(data) // 2] ^= 0x01
        connection.execute("update decision set inputs_canonical = ? where id = 1", (bytes(data),))
    anchors = TrustAnchors().with_root(DevCa.load_or_create(demo_run.home / "dev-ca").root_pem)
    checks = {c.name: c for c in verify_stored(str(tampered), 1, anchors)}
    assert not checks["inputs hash"].passed
    assert checks["signature"].passed  # the signature is over the update, which did not change
    result = subprocess.run([str(Path(sys.executable).with_name("risk-agent")), "verify", "1", "--db", str(tampered),
                             "--trust-dev-root", str(demo_run.home / "dev-ca" / "root.pem")],
                            capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 1 and "FAIL inputs hash" in result.stdout
