"""The conformance suite every strategy passes (deterministic, no look-ahead, inside the
steward's bounds, refuses bad oracles) and the agent strategy's own behaviour."""

from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd
import pytest

from backtests.data import load_bundled
from backtests.history import market_history
from strategies.bounds import Bounds, Param, check_update
from strategies.reference import ChaosCapStrategy, SmartLtvStrategy
from strategies.strategy import RiskStrategy
from tests.strategies.conftest import USDC_OCT_2023, WETH_OCT_2023, eth_history

STRATEGIES = [RiskStrategy(), SmartLtvStrategy(), ChaosCapStrategy()]

pytestmark = pytest.mark.needs_data


def with_prices(history, prices=None, timestamps=None, **fields):
    asset = history.assets[0]
    asset = replace(asset, prices_usd=tuple(prices if prices is not None else asset.prices_usd),
                    timestamps_s=tuple(timestamps if timestamps is not None else asset.timestamps_s), **fields)
    return replace(history, assets=(asset,))


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: s.name)
def test_same_inputs_give_byte_identical_recommendations(strategy, eth_series):
    history = eth_history(eth_series)
    first = strategy.propose(history, {"ETH": WETH_OCT_2023}).to_canonical_json()
    second = strategy.propose(eth_history(eth_series), {"ETH": WETH_OCT_2023}).to_canonical_json()
    assert first == second and len(first) > 100


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: s.name)
def test_every_output_passes_the_steward_checks(strategy, eth_series):
    for as_of in ("2020-02-20", "2020-03-12 12:00", "2021-05-19 14:00"):
        history = eth_history(eth_series, as_of)
        for asset in strategy.propose(history, {"ETH": WETH_OCT_2023}).assets:
            if asset.action == "update":
                check_update(WETH_OCT_2023.by_param(), asset.changes_by_param(), Bounds(), history.as_of_s)


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: s.name)
def test_data_after_the_decision_time_is_refused(strategy, eth_series):
    history = eth_history(eth_series)
    asset = history.assets[0]
    future = with_prices(history, (*asset.prices_usd, 1.0), (*asset.timestamps_s, history.as_of_s + 3_600))
    assert strategy.propose(future, {"ETH": WETH_OCT_2023}).assets[0].reason == "history extends past the decision time"


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: s.name)
@pytest.mark.parametrize(
    "fault, reason",
    [
        ("zero", "zero or negative price"),
        ("negative", "zero or negative price"),
        ("nan", "NaN"),
        ("spike", "waiting for confirmation"),
        ("stale", "stale price"),
        ("unordered", "not strictly increasing"),
        ("empty", "empty price history"),
        ("manipulated", "away from the reference source"),
    ],
)
def test_bad_oracle_data_makes_it_hold_with_a_reason(strategy, fault, reason, eth_series):
    history = eth_history(eth_series)
    prices = list(history.assets[0].prices_usd)
    times = list(history.assets[0].timestamps_s)
    extra = {}
    if fault == "zero":
        prices[-1] = 0.0
    elif fault == "negative":
        prices[-5] = -1.0
    elif fault == "nan":
        prices[-3] = math.nan
    elif fault == "spike":
        prices[-1] = prices[-2] * 1.6
    elif fault == "stale":
        history = replace(history, as_of_s=history.as_of_s + 6 * 3_600)
    elif fault == "unordered":
        times[-2], times[-3] = times[-3], times[-2]
    elif fault == "empty":
        prices, times = [], []
    elif fault == "manipulated":
        extra["reference_price_usd"] = prices[-1] * 1.2
    faulty = replace(with_prices(history, prices, times, **extra), as_of_s=history.as_of_s)
    result = strategy.propose(faulty, {"ETH": WETH_OCT_2023}).asset("ETH")
    assert result.action == "hold" and reason in result.reason, result.reason
    assert result.changes == ()


def test_asset_missing_from_history_or_parameters(eth_series):
    history = eth_history(eth_series)
    recommendation = RiskStrategy().propose(history, {"ETH": WETH_OCT_2023, "USDC": USDC_OCT_2023})
    assert recommendation.asset("USDC").reason == "asset missing from the market history"
    assert RiskStrategy().propose(history, {}).asset("ETH").reason == "no current parameters for this asset"


def test_recommendation_states_bad_debt_under_current_and_proposed(eth_series):
    asset = RiskStrategy().propose(eth_history(eth_series, "2020-03-12 12:00"), {"ETH": WETH_OCT_2023}).asset("ETH")
    for key in ("bad_debt_current_mean_usd", "bad_debt_proposed_mean_usd", "expected_shortfall_drop",
                "horizon_hours", "newly_liquidatable_positions", "liquidity_depth_usd"):
        assert key in asset.metrics
    assert asset.metrics["bad_debt_proposed_mean_usd"] <= asset.metrics["bad_debt_current_mean_usd"]


def test_threshold_falls_when_volatility_rises_before_the_crashes(eth_series):
    """From data before them only: the LT target two weeks before each crash vs the day before."""
    strategy = RiskStrategy()
    for calm, eve in (("2020-02-05", "2020-03-11 12:00"), ("2021-05-01", "2021-05-18 12:00")):
        calm_target = strategy.propose(eth_history(eth_series, calm), {"ETH": WETH_OCT_2023}).asset("ETH").targets
        eve_rec = strategy.propose(eth_history(eth_series, eve), {"ETH": WETH_OCT_2023}).asset("ETH")
        assert eve_rec.targets["LIQUIDATION_THRESHOLD"] < calm_target["LIQUIDATION_THRESHOLD"] - 500
        assert eve_rec.targets["LIQUIDATION_THRESHOLD"] < WETH_OCT_2023.liquidation_threshold_bps
        assert eve_rec.changes_by_param()[Param.LIQUIDATION_THRESHOLD] == WETH_OCT_2023.liquidation_threshold_bps - 25


def test_stablecoin_keeps_a_high_threshold_until_its_peg_breaks():
    strategy = RiskStrategy()
    usdc = load_bundled("USDC")
    ust = load_bundled("UST")
    calm = market_history([usdc], pd.Timestamp("2022-04-01", tz="UTC"), supplied_tokens=1e9, borrowed_tokens=7e8)
    assert strategy.propose(calm, {"USDC": USDC_OCT_2023}).asset("USDC").targets["LIQUIDATION_THRESHOLD"] >= 9_000
    before = market_history([ust], pd.Timestamp("2022-04-20", tz="UTC"), supplied_tokens=1e9, borrowed_tokens=7e8)
    after = market_history([ust], pd.Timestamp("2022-05-14", tz="UTC"), supplied_tokens=1e9, borrowed_tokens=7e8)
    params = {"UST": USDC_OCT_2023}
    ust_before = strategy.propose(before, params).asset("UST")
    ust_after = strategy.propose(after, params).asset("UST")
    assert ust_before.targets["LIQUIDATION_THRESHOLD"] >= 9_000
    assert ust_after.action == "hold" or ust_after.targets["LIQUIDATION_THRESHOLD"] < 7_000, (ust_after.reason, ust_after.targets)


def test_threshold_cut_is_split_when_it_would_liquidate_too_much(eth_series):
    from strategies.types import BorrowerPosition

    history = eth_history(eth_series, "2020-03-12 12:00")
    price = history.assets[0].last_price_usd
    # Many positions just above HF 1 at LT 83%: any cut liquidates them at once.
    positions = tuple(BorrowerPosition("ETH", 10.0, 10.0 * price * 0.8295) for _ in range(50)) + tuple(
        BorrowerPosition("ETH", 10.0, 10.0 * price * 0.5) for _ in range(50))
    strategy = RiskStrategy(max_new_liquidation_share=0.01)
    asset = strategy.propose(replace(history, positions=positions), {"ETH": WETH_OCT_2023}).asset("ETH")
    assert asset.metrics["cut_split_into_steps"] is True
    assert asset.metrics["full_cut_newly_liquidatable_share"] > 0.01
    assert asset.targets["LIQUIDATION_THRESHOLD_STEP"] == 8_295  # HF exactly 1 at 82.95%: not liquidatable
    assert asset.changes_by_param()[Param.LIQUIDATION_THRESHOLD] == 8_295


def test_risk_gate_only_tightens_in_stress(eth_series):
    """On 2020-03-13 (ETH -40% in a week) nothing may be loosened: no cap, LT or LTV goes up."""
    calm = RiskStrategy().propose(eth_history(eth_series, "2020-03-06"), {"ETH": WETH_OCT_2023}).asset("ETH")
    assert calm.metrics["risk_gate"] == "active"
    assert calm.changes_by_param()[Param.SUPPLY_CAP] > WETH_OCT_2023.supply_cap_tokens
    stressed = RiskStrategy().propose(eth_history(eth_series, "2020-03-13"), {"ETH": WETH_OCT_2023}).asset("ETH")
    assert stressed.metrics["risk_gate"] == "reducing"
    current = WETH_OCT_2023.by_param()
    for param in (Param.LTV, Param.LIQUIDATION_THRESHOLD, Param.SUPPLY_CAP, Param.BORROW_CAP):
        assert stressed.changes_by_param().get(param, current[param]) <= current[param]
