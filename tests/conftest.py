"""Shared test set-up. Tests that replay real history read it from ../shared/data (never
copied into the project); where that folder is absent they are skipped with the reason."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest

from backtests.data import DATA_DIR


def pytest_collection_modifyitems(config, items):
    if (DATA_DIR / "prices").is_dir() and (DATA_DIR.parent / "vectors").is_dir():
        return
    skip = pytest.mark.skip(reason=f"real market history not found at {DATA_DIR} (set RISK_AGENT_DATA_DIR)")
    for item in items:
        if "needs_data" in item.keywords:
            item.add_marker(skip)


# ------------------------------------------------------------------ one demo database per test session


class DemoDatabase(NamedTuple):
    """A real `risk-agent demo` database (3 replayed days) and the home its enclave's dev CA
    lives in. Shared read-only: a test that changes it works on a copy."""

    db: Path
    home: Path


DEMO_DAYS = 3


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> DemoDatabase:
    """Built once per `pytest` run, also across xdist workers: the first worker builds it under
    a file lock in the run's shared temporary directory, the others wait and reuse it (a demo
    takes ~25 s of CPU; the machine has two cores)."""
    import fcntl
    import os

    from agent.demo import run_demo

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    directory = shared / "demo-db"
    directory.mkdir(exist_ok=True)
    db, home = directory / "demo.sqlite", directory / "home"
    done = directory / "done"
    with open(directory / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not done.exists():
                home.mkdir(exist_ok=True)
                run_demo(DEMO_DAYS, db, home)
                done.write_text("ok")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return DemoDatabase(db, home)
