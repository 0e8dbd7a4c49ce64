"""The backtest engine: no look-ahead, determinism, delay and bounds as on chain, bad debt."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from backtests.baselines import v3_params
from backtests.data import synthetic_gbm_with_jumps
from backtests.run import BacktestSpec, run_backtest
from backtests.simulator import MarketPath, SimulationConfig, simulate
from strategies.bounds import Bounds, check_update
from strategies.strategy import RiskStrategy


def synthetic_path(hours: int = 24 * 75, seed: int = 5) -> MarketPath:
    series = synthetic_gbm_with_jumps(hours, seed=seed, annual_volatility=0.9, jumps_per_year=20).prices_usd
    return MarketPath("WETH", np.array([int(t.timestamp()) for t in series.index]), series.to_numpy(), 5e6)


CONFIG = SimulationConfig(positions_per_asset=300, warmup_hours=24 * 30, history_window_hours=24 * 30, seed=3)


def test_no_look_ahead_changing_later_data_changes_nothing_decided_before():
    path = synthetic_path()
    cut = 24 * 55
    altered_prices = path.prices_usd.copy()
    altered_prices[cut + 1:] *= np.linspace(1.0, 0.3, len(altered_prices) - cut - 1)  # a crash after the cut
    altered = replace(path, prices_usd=altered_prices)
    strategy = RiskStrategy(mc_paths=300)
    original = simulate([path], {"WETH": v3_params("WETH")}, strategy, CONFIG)
    changed = simulate([altered], {"WETH": v3_params("WETH")}, strategy, CONFIG)
    cut_s = int(path.timestamps_s[cut])
    before = [d for d in original.decisions if d[0] <= cut_s]
    assert before and before == [d for d in changed.decisions if d[0] <= cut_s]
    assert original.decisions != changed.decisions  # the test can fail: later data does matter later


def test_same_seed_same_numbers_and_another_seed_differs():
    path = synthetic_path()
    first = simulate([path], {"WETH": v3_params("WETH")}, RiskStrategy(mc_paths=300), CONFIG)
    second = simulate([path], {"WETH": v3_params("WETH")}, RiskStrategy(mc_paths=300), CONFIG)
    assert first.metrics() == second.metrics() and first.decisions == second.decisions
    other = simulate([path], {"WETH": v3_params("WETH")}, None, replace(CONFIG, seed=4))
    assert other.metrics() != simulate([path], {"WETH": v3_params("WETH")}, None, CONFIG).metrics()


def test_updates_pass_the_bounds_and_wait_for_the_delay():
    path = synthetic_path()
    result = simulate([path], {"WETH": v3_params("WETH")}, RiskStrategy(mc_paths=300), replace(CONFIG, delay_hours=24))
    assert result.updates > 0
    decided = {d[0] for d in result.decisions if d[2]}
    for effective_s, *_ in result.parameters["WETH"]:
        assert effective_s - 24 * 3_600 in decided  # each change lands exactly one delay after its decision
    steps = [(lt, ltv) for _, ltv, lt, _ in result.parameters["WETH"]]
    previous = v3_params("WETH").liquidation_threshold_bps
    for lt, ltv in steps:
        assert abs(lt - previous) <= 25 and ltv <= lt
        previous = lt


def test_crash_without_depth_creates_bad_debt_and_liquidations():
    hours = 24 * 10
    prices = np.concatenate([np.full(hours // 2, 2_000.0), np.full(hours - hours // 2, 900.0)])
    path = MarketPath("WETH", np.arange(hours) * 3_600 + 1_700_000_000, prices, 1e6)
    result = simulate([path], {"WETH": v3_params("WETH")}, None, replace(CONFIG, warmup_hours=0))
    assert result.liquidations > 0 and result.liquidated_debt_usd > 0 and result.bad_debt_usd > 0
    assert result.borrower_bonus_losses_usd > 0


@pytest.mark.needs_data
def test_real_crash_agent_against_static_baseline():
    spec = BacktestSpec(("ETH",), "2020-03-05", "2020-03-16", positions_per_asset=300)
    agent = run_backtest(spec)
    static = run_backtest(replace(spec, strategy="static-v3"))
    assert static.updates == 0 and agent.updates > 0
    assert static.liquidations > 0
    # The report is honest either way; the assertion is only that both ran on the same market.
    assert agent.hours == static.hours
