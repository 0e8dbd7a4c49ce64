"""Backtests run what the enclave signs: a backtest day's recommendation equals, byte for
byte, the recommendation a real enclave process returns for that day's stored inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import requests

from backtests.baselines import v3_params
from backtests.data import synthetic_garch
from backtests.simulator import MarketPath, SimulationConfig, simulate
from strategies.config import default_config
from strategies.strategy import RiskStrategy

pytestmark = pytest.mark.integration


def test_backtest_day_equals_the_enclave_decision_on_that_days_inputs(enclave_process):
    config = default_config()
    hours = config.window.history_hours + 24 * 3
    series = synthetic_garch(hours, seed=17, start_price=1_800.0).prices_usd
    path = MarketPath("WETH", np.array([int(t.timestamp()) for t in series.index]), series.to_numpy(), 8e6)
    result = simulate([path], {"WETH": v3_params("WETH")}, RiskStrategy(config=config),
                      SimulationConfig(positions_per_asset=200, warmup_hours=0, start_hour=config.window.history_hours,
                                       record_inputs=True, seed=2))
    # 72 hours after the first window: decisions at hours 0, 24 and 48 of the run.
    assert len(result.inputs) == 3 and set(result.inputs) == set(result.recommendations)
    compared = 0
    for day, inputs_bytes in sorted(result.inputs.items())[:2]:
        answer = requests.post(f"{enclave_process.url}/decide", data=inputs_bytes,
                               headers={"Content-Type": "application/cbor"}, timeout=120)
        assert answer.status_code == 200, answer.text
        enclave_recommendation = answer.json()["recommendation"].encode()
        assert enclave_recommendation == result.recommendations[day]
        assert json.loads(enclave_recommendation)["config_hash"] == config.config_hash_hex
        compared += 1
    assert compared == 2
