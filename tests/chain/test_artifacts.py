"""Committed artifacts are what the pinned compiler makes of the committed sources."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from chain.artifacts import CONTRACT_NAMES, load_artifact

ROOT = Path(__file__).resolve().parents[2]


def test_every_artifact_has_abi_and_bytecode():
    for name in CONTRACT_NAMES:
        artifact = load_artifact(name)
        assert artifact.abi and artifact.bytecode.startswith("0x") and len(artifact.bytecode) > 100


@pytest.mark.skipif(shutil.which("node") is None, reason="node is needed to run the pinned solc")
def test_artifacts_match_sources():
    result = subprocess.run(["node", "chain/build.js", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "artifacts match sources" in result.stdout
