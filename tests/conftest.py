"""Shared test set-up. Tests that replay real history read it from ../shared/data (never
copied into the project); where that folder is absent they are skipped with the reason."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from backtests.data import DATA_DIR

DEMO_DAYS = 3


TESTS = Path(__file__).resolve().parent
# Expensive shared set-ups (a deployed market, a database server, an enclave process: 3-10 s
# each) are made once per xdist worker that needs them. The tests sharing one run on one worker
# under make test's --dist loadgroup, so each is made once: by the fixture they use, for
# session fixtures of a directory's conftest, or the whole module, for a module's own fixture
# (some are taken with request.getfixturevalue, which collection cannot see).
SHARED_FIXTURES = {("chain", "deployed"): "chain-system", ("chain", "aave_deployed"): "chain-aave",
                   ("enclave", "enclave_process"): "enclave-process", ("agent", "agent_chain"): "agent-chain"}
SHARED_MODULES = {"agent/test_store.py": "agent-chain", "agent/test_cli_bad_input.py": "cli-market",
                  "enclave/test_server_hardening.py": "hardened-enclave", "integration/test_trust.py": "trust-market"}


def shared_setup_group(item) -> str | None:
    relative = Path(item.path).resolve().relative_to(TESTS)
    if relative.as_posix() in SHARED_MODULES:
        return SHARED_MODULES[relative.as_posix()]
    for (directory, fixture), group in SHARED_FIXTURES.items():
        if relative.parts[0] == directory and fixture in item.fixturenames:
            return group
    return None


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config, items):
    for item in items:
        group = None if item.get_closest_marker("xdist_group") else shared_setup_group(item)
        if group:
            item.add_marker(pytest.mark.xdist_group(group))
    if (DATA_DIR / "prices").is_dir() and (DATA_DIR.parent / "vectors").is_dir():
        return
    skip = pytest.mark.skip(reason=f"real market history not found at {DATA_DIR} (set RISK_AGENT_DATA_DIR)")
    for item in items:
        if "needs_data" in item.keywords:
            item.add_marker(skip)


def pytest_collection_finish(session):
    """Under `--dist loadgroup` (make test) xdist sends the tests of one xdist_group to one
    worker by suffixing their node ids on the worker; pytest 9.2 ignores that suffix and the
    groups were silently spread over both workers (pytest-xdist issue #1386). Refuse to run
    instead: the demo's users, the service tests and the shared deployments rely on it."""
    if not (session.config.getvalue("loadgroup") if hasattr(session.config.option, "loadgroup") else False):
        return
    for item in session.items:
        if item.get_closest_marker("xdist_group") and "@" not in item.nodeid.rsplit("]", 1)[-1]:
            message = (f"--dist loadgroup is not grouping {item.nodeid}: this pytest and pytest-xdist do not work "
                       "together (see pyproject.toml's pin)")
            print(message, file=sys.stderr, flush=True)  # xdist reports a worker's collection error without it
            raise pytest.UsageError(message)


@dataclass(frozen=True)
class DemoRun:
    summary: object  # agent.demo.DemoSummary
    db: Path
    home: Path  # RISK_AGENT_HOME of the run: its dev CA is home / "dev-ca"


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> DemoRun:
    """ONE demo database per test session (3 replayed days around 2021-05-19 on real Aave v3,
    the real enclave process), shared by every test that needs one. Treat it as read-only:
    copy the file before changing it.

    Built once per `pytest` run, also across xdist workers: the first worker to need it builds
    it under a file lock in the run's shared temporary directory; the others wait and reuse it
    (a demo is ~25 s of CPU and the machine has two cores). Every test that uses it is in the
    xdist group "demo", so under `--dist loadgroup` (make test) one worker builds it and runs
    them while the other goes on with the rest instead of waiting at the lock."""
    import fcntl
    import os
    import pickle

    from agent.demo import run_demo

    base = tmp_path_factory.getbasetemp()
    directory = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "demo-run"
    directory.mkdir(exist_ok=True)
    home, saved = directory / "home", directory / "summary.pickle"
    db = home / "demo.sqlite"
    with open(directory / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not saved.exists():
                home.mkdir(exist_ok=True)
                saved.write_bytes(pickle.dumps(run_demo(DEMO_DAYS, db, home)))
            summary = pickle.loads(saved.read_bytes())
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return DemoRun(summary, db, home)
