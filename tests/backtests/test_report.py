"""The backtest report's parameter path: JSON records and its plot (no ../shared/data)."""

from __future__ import annotations

import json

import numpy as np

from backtests.report import parameter_path_records, plot_parameter_path, write_parameter_path
from backtests.simulator import BacktestResult


def result_with_path() -> BacktestResult:
    """Start values at t = 0 for two parameters, then an LT cut at t = 7,200 (2 h)."""
    result = BacktestResult("agent", 3)
    result.parameter_path = [(0, "WETH", "LTV", 8_050), (0, "WETH", "LIQUIDATION_THRESHOLD", 8_300),
                             (7_200, "WETH", "LIQUIDATION_THRESHOLD", 8_275)]
    result.series = {"timestamps_s": np.array([0, 3_600, 7_200]), "price_WETH": np.array([2_000.0, 1_900.0, 1_800.0])}
    return result


def test_one_record_per_value_in_force(tmp_path):
    records = parameter_path_records(result_with_path())
    assert records[2] == {"time": "1970-01-01T02:00:00+00:00", "time_s": 7_200, "asset": "WETH",
                          "parameter": "LIQUIDATION_THRESHOLD", "value": 8_275}
    written = json.loads(write_parameter_path(result_with_path(), tmp_path / "path.json").read_text())
    assert written["strategy"] == "agent" and written["records"] == records


def test_the_plot_is_written(tmp_path):
    image = plot_parameter_path(result_with_path(), tmp_path / "path.png", "test")
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and image.stat().st_size > 10_000
