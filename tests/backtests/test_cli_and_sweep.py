"""`risk-agent backtest` and `risk-agent sweep` as users run them (through the console
script's own body in this process), and a sweep on a local Dask cluster."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from backtests.run import BacktestSpec
from backtests.sweep import grid, run_sweep
from tests.agent.cli_runner import run_in_process

pytestmark = pytest.mark.needs_data


@pytest.mark.parametrize("args, message", [
    (("--assets", "DOGE"), "no bundled history for asset 'DOGE' (known: "),
    (("--from", "2023-06-01", "--to", "2023-07-01"), "no ETH data between 2023-06-01 and 2023-07-01 (the data covers "),
    (("--from", "2020-03-10", "--to", "2020-03-01"), "empty range: --to 2020-03-01 is not after --from 2020-03-10"),
    (("--strategy", "magic"), "unknown strategy 'magic' (known: "),
])
def test_bad_input_is_one_line(args, message, capsys, tmp_path):
    result = run_in_process(["backtest", *args], capsys, cwd=tmp_path)
    assert (result.code, result.stdout) == (2, "")
    assert result.stderr.startswith(f"error: {message}") and result.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_unknown_file_format(tmp_path, capsys):
    path = tmp_path / "prices.xlsx"
    path.write_bytes(b"PK")
    result = run_in_process(["backtest", "--data", str(path)], capsys, cwd=tmp_path)
    assert result.code == 2 and "unknown format '.xlsx'" in result.stderr


def test_backtest_writes_report_json_and_saves_the_run(tmp_path, capsys):
    db = tmp_path / "runs.sqlite"
    result = run_in_process(["backtest", "--from", "2020-03-08", "--to", "2020-03-14", "--positions", "200",
                             "--report", str(tmp_path / "report"), "--db", str(db), "--json"], capsys)
    assert result.code == 0, result.stderr
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
