"""`risk-agent backtest` and `risk-agent sweep` as users run them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from backtests.run import BacktestSpec
from backtests.sweep import grid, run_sweep

RISK_AGENT = str(Path(sys.executable).with_name("risk-agent"))
pytestmark = pytest.mark.needs_data


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([RISK_AGENT, *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("args, fragment", [
    (("--assets", "DOGE"), "no bundled history for asset 'DOGE'"),
    (("--from", "2023-06-01", "--to", "2023-07-01"), "no ETH data between 2023-06-01 and 2023-07-01"),
    (("--from", "2020-03-10", "--to", "2020-03-01"), "empty range"),
    (("--strategy", "magic"), "unknown strategy 'magic'"),
])
def test_bad_input_is_one_line(args, fragment):
    result = run("backtest", *args)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: ") and fragment in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_file_format(tmp_path):
    path = tmp_path / "prices.xlsx"
    path.write_bytes(b"PK")
    result = run("backtest", "--data", str(path))
    assert result.returncode == 2 and "unknown format '.xlsx'" in result.stderr


def test_backtest_writes_report_json_and_saves_the_run(tmp_path):
    db = tmp_path / "runs.sqlite"
    result = run("backtest", "--from", "2020-03-08", "--to", "2020-03-14", "--positions", "200",
                 "--report", str(tmp_path / "report"), "--db", str(db), "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert set(payload["metrics"]) == {"agent", "static-v3"}
    assert payload["metrics"]["static-v3"]["updates"] == 0
    assert (tmp_path / "report" / "backtest.png").stat().st_size > 10_000
    import sqlite3

    with sqlite3.connect(db) as connection:
        assert connection.execute("select count(*) from backtest_run").fetchone()[0] == 2


def test_sweep_on_a_local_dask_cluster_gives_one_table():
    base = BacktestSpec(("ETH",), "", "", positions_per_asset=200)
    specs = grid(base, ["static-v3", "static-v2"], [("2020-03-08", "2020-03-14"), ("2021-05-15", "2021-05-22")], [1, 2])
    table = run_sweep(specs, workers=2)
    assert len(table) == 8 and set(table["strategy"]) == {"static-v3", "static-v2"}
    one = table[(table.strategy == "static-v3") & (table.start == "2020-03-08") & (table.seed == 1)]
    assert isinstance(one["bad_debt_usd"].iloc[0], float) and not pd.isna(one["liquidated_debt_usd"].iloc[0])
