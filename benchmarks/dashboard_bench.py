"""Dashboard figure for the notes: first render of the Proposals page with 10,000 proposals
(AppTest, a fresh process-level cache), median of 5, and of the overview and markets pages.

Run by hand: `python benchmarks/dashboard_bench.py`."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")


def main() -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from agent.store import make_engine
    from tests.dashboard.conftest import seed_many_proposals

    db = Path(tempfile.mkdtemp()) / "many.sqlite"
    make_engine(str(db))
    seed_many_proposals(db, 10_000)
    os.environ["RISK_AGENT_DASHBOARD_DB"] = str(db)
    from dashboard.state import engine, shift_s

    for page in ("pages/proposals.py", "pages/overview.py", "pages/markets.py"):
        times = []
        for _ in range(5):
            engine.clear()
            shift_s.clear()
            start = time.perf_counter()
            at = AppTest.from_file(APP, default_timeout=120).run()
            if page != "pages/overview.py":
                at.switch_page(page).run()
            times.append(time.perf_counter() - start)
            assert not at.exception
        print(f"first render with 10,000 proposals, {page}: median {statistics.median(times) * 1e3:.0f} ms "
              f"(includes the overview run AppTest needs before switching)")


if __name__ == "__main__":
    main()
