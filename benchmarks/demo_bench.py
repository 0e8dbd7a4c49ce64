"""The demo's wall time (issue 10: <= 90 s on 2 cores; issue 11: <= 60 s): `risk-agent demo`
end to end, three runs, median and spread, with the load average so figures from a busy
machine can be told apart."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RISK_AGENT = str(Path(sys.executable).with_name("risk-agent"))


def main(runs: int = 3, cycles: int = 10) -> None:
    seconds = []
    with tempfile.TemporaryDirectory() as home:
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run([RISK_AGENT, "demo", "--cycles", str(cycles), "--db", f"{home}/demo.sqlite", "--json"],
                           check=True, capture_output=True, env={**os.environ, "RISK_AGENT_HOME": home})
            seconds.append(time.perf_counter() - started)
    print(f"demo, {cycles} days on real Aave v3 (in-process EVM, SQLite, local enclave): "
          f"median {statistics.median(seconds):.1f} s, min {min(seconds):.1f} s, max {max(seconds):.1f} s "
          f"over {runs} runs (load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
