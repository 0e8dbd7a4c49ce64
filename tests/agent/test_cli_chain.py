"""`risk-agent chain ...` against a real anvil: deploy and read through the installed console
script; one clear line with exit 2 for each bad input, in this process (`run_cli`)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from chain.node import free_loopback_port, start_anvil
from tests.agent.cli_runner import Result, run_in_process, run_script


def run(*args: str, env: dict | None = None) -> Result:
    return run_script(list(args), env=env, timeout=300)


def assert_one_line_error(result: Result, fragment: str) -> None:
    assert result.code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and fragment in lines[0]
    assert "Traceback" not in result.stderr


def test_help_lists_every_command(capsys):
    result = run_in_process(["--help"], capsys)
    assert result.code == 0
    for command in ("demo", "run", "status", "backtest", "sweep", "verify", "report", "propose", "db-upgrade",
                    "enclave",
                    "chain", "dashboard", "data"):
        assert command in result.stdout


def test_node_that_is_down(capsys, tmp_path):
    result = run_in_process(["chain", "deploy", "--rpc", f"http://127.0.0.1:{free_loopback_port()}"], capsys,
                            cwd=tmp_path)
    assert_one_line_error(result, "connection refused")
    assert list(tmp_path.iterdir()) == []


def test_wrong_rpc_url(capsys, tmp_path):
    assert_one_line_error(run_in_process(["chain", "deploy", "--rpc", "127.0.0.1:8545"], capsys, cwd=tmp_path),
                          "only http(s) JSON-RPC URLs")


def test_rpc_url_that_is_not_json_rpc(tmp_path, capsys):
    # A plain HTTP server that is not a node.
    port = free_loopback_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import time

        time.sleep(0.5)
        assert_one_line_error(run_in_process(["chain", "deploy", "--rpc", f"http://127.0.0.1:{port}"], capsys,
                                             cwd=tmp_path),
                              "not a JSON-RPC endpoint")
    finally:
        server.terminate()


@pytest.mark.anvil
def test_deploy_then_read_then_missing_artifact(tmp_path, capsys):
    """Deploy in process; read (text and JSON) and the missing-artifact case through the console
    script (the artifact directory comes from the environment at start)."""
    with start_anvil(log_dir=tmp_path) as node:
        out = tmp_path / "deployment.json"
        result = run_in_process(["chain", "deploy", "--rpc", node.rpc_url, "--out", str(out), "--min-delay", "60"],
                                capsys)
        assert result.code == 0, result.stderr
        deployment = json.loads(out.read_text())
        assert deployment["chain_id"] == 31337
        assert deployment["steward"] in result.stdout and deployment["addresses_provider"] in result.stdout

        text = run("chain", "read", "--rpc", node.rpc_url, "--deployment", str(out))
        assert text.code == 0 and text.stdout.splitlines()[0].endswith(" UTC")
        assert text.stdout.splitlines()[2].split()[:4] == ["WETH", "1,600.00", "8050", "8300"]  # chain/listings.py
        read = run("chain", "read", "--rpc", node.rpc_url, "--deployment", str(out), "--json")
        assert read.code == 0, read.stderr
        reserves = {r["symbol"]: r for r in json.loads(read.stdout)["reserves"]}
        assert reserves["WETH"]["params"]["liquidation_threshold_bps"] == 8_300
        assert reserves["USDC"]["price_usd_e8"] == 10**8

        missing = run("chain", "deploy", "--rpc", node.rpc_url, "--out", str(tmp_path / "x.json"),
                      env={"RISK_AGENT_ARTIFACTS_DIR": str(tmp_path / "empty")})
        assert_one_line_error(missing, "contract artifact 'Multicall3' not found")


def test_missing_deployment_file(tmp_path, capsys):
    result = run_in_process(["chain", "read", "--rpc", "http://127.0.0.1:1", "--deployment",
                             str(tmp_path / "nope.json")], capsys)
    assert_one_line_error(result, "not found")
