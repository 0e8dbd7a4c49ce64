"""Shared test set-up. Tests that replay real history read it from ../shared/data (never
copied into the project); where that folder is absent they are skipped with the reason."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from backtests.data import DATA_DIR

DEMO_DAYS = 3


def pytest_collection_modifyitems(config, items):
    if (DATA_DIR / "prices").is_dir() and (DATA_DIR.parent / "vectors").is_dir():
        return
    skip = pytest.mark.skip(reason=f"real market history not found at {DATA_DIR} (set RISK_AGENT_DATA_DIR)")
    for item in items:
        if "needs_data" in item.keywords:
            item.add_marker(skip)


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
