"""Committed artifacts are what the pinned compiler makes of the committed sources; Aave's come
unmodified from the pinned npm packages and link as AAVE-V3-LOCAL.md says."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from chain.artifacts import AAVE_ARTIFACT_PATHS, aave_error_names, contract_names, load_aave_artifact, load_artifact
from chain.errors import ChainError

ROOT = Path(__file__).resolve().parents[2]
needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is needed to run the pinned solc")


def test_every_contract_in_chain_contracts_has_an_artifact():
    names = contract_names()
    assert {"DemoPair", "Multicall3", "PushableAggregator", "TestToken", "TimelockController"} <= set(names)
    assert "DemoPool" not in names and "DemoOracle" not in names
    for name in names:
        artifact = load_artifact(name)
        assert artifact.abi and artifact.bytecode.startswith("0x") and len(artifact.bytecode) > 100


def test_aave_artifacts_load_with_their_link_references():
    """Pool links seven logic libraries, PoolConfigurator one, FlashLoanLogic BorrowLogic."""
    for name in AAVE_ARTIFACT_PATHS:
        assert load_aave_artifact(name).bytecode.startswith("0x")
    assert set(load_aave_artifact("Pool").link_references) == {
        "BorrowLogic", "BridgeLogic", "EModeLogic", "FlashLoanLogic", "LiquidationLogic", "PoolLogic", "SupplyLogic"
    }
    assert set(load_aave_artifact("PoolConfigurator").link_references) == {"ConfiguratorLogic"}
    assert set(load_aave_artifact("FlashLoanLogic").link_references) == {"BorrowLogic"}


def test_linking_writes_every_placeholder():
    pool = load_aave_artifact("Pool")
    libraries = {name: "0x" + f"{i + 1:040x}" for i, name in enumerate(sorted(pool.link_references))}
    linked = pool.linked(libraries)
    assert "__" not in linked and "$" not in linked and len(linked) == len(pool.bytecode)
    for name, offsets in pool.link_references.items():
        for offset in offsets:
            assert linked[2 + 2 * offset : 2 + 2 * offset + 40] == libraries[name][2:]
    with pytest.raises(ChainError, match="needs libraries BorrowLogic"):
        pool.linked({k: v for k, v in libraries.items() if k != "BorrowLogic"})


def test_aave_error_codes_come_from_errors_sol():
    names = aave_error_names()
    assert names["1"] == "CALLER_NOT_POOL_ADMIN"
    assert names["4"] == "CALLER_NOT_RISK_OR_POOL_ADMIN"
    assert names["45"] == "HEALTH_FACTOR_NOT_BELOW_THRESHOLD"
    assert len(names) == 90


def build(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["node", "chain/build.js", *args], check=False, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


@needs_node
def test_artifacts_match_sources():
    """Compiles (or finds the verdict cached under the same key) and compares byte for byte."""
    result = build("--check")
    assert result.returncode == 0, result.stderr + result.stdout
    assert "artifacts match sources" in result.stdout


@needs_node
def test_the_cache_key_changes_with_any_source_or_artifact(tmp_path):
    """One byte more in a source, or in an artifact, is another key: the check recompiles."""
    sources, artifacts = tmp_path / "contracts", tmp_path / "artifacts"
    shutil.copytree(ROOT / "chain" / "contracts", sources)
    shutil.copytree(ROOT / "chain" / "artifacts", artifacts)
    env = {"RISK_AGENT_CONTRACTS_DIR": str(sources), "RISK_AGENT_ARTIFACTS_DIR": str(artifacts)}
    base = build("--key", env=env).stdout.strip()
    assert len(base) == 64 and build("--key").stdout.strip() == base  # same bytes, same key
    (sources / "DemoPair.sol").write_text((sources / "DemoPair.sol").read_text() + " ")
    edited_source = build("--key", env=env).stdout.strip()
    shutil.copy(ROOT / "chain" / "contracts" / "DemoPair.sol", sources / "DemoPair.sol")
    assert build("--key", env=env).stdout.strip() == base
    (artifacts / "Multicall3.json").write_text((artifacts / "Multicall3.json").read_text() + " ")
    edited_artifact = build("--key", env=env).stdout.strip()
    assert len({base, edited_source, edited_artifact}) == 3


@needs_node
@pytest.mark.slow
def test_a_stale_artifact_fails_the_check(tmp_path):
    """A hand-edited artifact (one ABI entry renamed) is caught: the check compiles and refuses."""
    artifacts = tmp_path / "artifacts"
    shutil.copytree(ROOT / "chain" / "artifacts", artifacts)
    raw = json.loads((artifacts / "DemoPair.json").read_text())
    raw["abi"][0]["name"] = raw["abi"][0].get("name", "") + "X"
    (artifacts / "DemoPair.json").write_text(json.dumps(raw, indent=1) + "\n")
    result = build("--check", env={"RISK_AGENT_ARTIFACTS_DIR": str(artifacts)})
    assert result.returncode == 1
    assert "artifacts out of date with sources: DemoPair" in result.stderr
