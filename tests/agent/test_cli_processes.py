"""No orphans: the enclave the service starts and the dashboard's Streamlit end with their
parent, even when the parent is SIGKILLed and runs no clean-up of its own (the kernel sends
the child SIGTERM: enclave.lifetime)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import requests

from chain.node import free_loopback_port
from tests.agent.cli_runner import SCRIPT

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")]


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its new parent to reap it has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def wait_until(condition, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def kill_and_reap(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def test_the_enclave_ends_when_its_parent_is_sigkilled(tmp_path):
    """A parent starts the enclave exactly as the service does (start_enclave), reports the
    child's pid, and is SIGKILLed: the enclave is gone within 5 s."""
    parent = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from enclave.client import start_enclave
        process = start_enclave(dev_ca_dir=Path({str(tmp_path / 'dev-ca')!r}))
        print(process.process.pid, flush=True)
        time.sleep(600)
        """)], stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2])
    try:
        child = int(parent.stdout.readline())
        assert alive(child)
        kill_and_reap(parent)
        assert wait_until(lambda: not alive(child), 5), f"enclave {child} outlived its SIGKILLed parent"
    finally:
        if parent.poll() is None:
            kill_and_reap(parent)
        parent.stdout.close()


def test_the_dashboard_server_ends_when_risk_agent_dashboard_is_sigkilled(tmp_path):
    """`risk-agent dashboard` serving; SIGKILL it: its Streamlit server is gone within 5 s."""
    from agent.store import make_engine

    db = tmp_path / "agent.sqlite"
    make_engine(str(db)).dispose()
    port = free_loopback_port()
    command = subprocess.Popen([str(SCRIPT), "dashboard", "--db", str(db), "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path,
                               env={**os.environ, "RISK_AGENT_HOME": str(tmp_path)})
    try:
        def serving() -> bool:
            try:
                return requests.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).ok
            except requests.ConnectionError:
                return False

        assert wait_until(serving, 60), "the dashboard did not start"
        (server,) = children(command.pid)
        assert alive(server)
        kill_and_reap(command)
        assert wait_until(lambda: not alive(server), 5), f"Streamlit {server} outlived risk-agent dashboard"
        assert not serving()
    finally:
        if command.poll() is None:
            kill_and_reap(command)
