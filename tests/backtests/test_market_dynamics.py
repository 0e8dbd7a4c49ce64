"""Market-dynamics steps on hand-made books (no ../shared/data), and their fit on the
bundled Aave v2 data (needs_data)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from backtests.market_dynamics import (
    BorrowerDynamics,
    arrivals,
    churn,
    defend,
    dex_depth_hourly,
    incremental_slippage,
    liquidation_profit_usd,
    rate_response_factor,
    relever,
)


def test_a_liquidation_pays_only_after_slippage_and_gas():
    """Repay $1,000, seize $1,050 (5% bonus), sell at 2% slippage, $5 gas:
    1,050 x 0.98 - 1,000 - 5 = $24. With $30 of gas: -$1: it waits."""
    assert liquidation_profit_usd(1_000, 1_050, 0.02, 5) == pytest.approx(24.0)
    assert liquidation_profit_usd(1_000, 1_050, 0.02, 30) == pytest.approx(-1.0)


def test_incremental_slippage_walks_down_the_pool_within_the_hour():
    """Depth $1M at 2%: reserve R = $49M. The first $1M: proceeds 49 x 1/50 = $0.98M, 2%.
    The second $1M the same hour: 49 x (2/51 - 1/50) = $0.941569M, 5.8431%."""
    assert incremental_slippage(0.0, 1e6, 1e6, 0.02) == pytest.approx(0.02)
    assert incremental_slippage(1e6, 1e6, 1e6, 0.02) == pytest.approx(0.058431, abs=1e-6)
    assert incremental_slippage(0.0, 0.0, 1e6, 0.02) == 0.0
    assert incremental_slippage(0.0, 1.0, 0.0, 0.02) == 1.0


def test_churn_empties_the_positions_that_leave():
    tokens, debt = np.ones(4), np.full(4, 10.0)
    tokens[3] = 0.0  # already empty: cannot leave again
    left = churn(tokens, debt, np.random.default_rng(0), 1.0)
    assert left.tolist() == [True, True, True, False] and tokens.sum() == 0 and debt[:3].sum() == 0
    tokens = np.ones(4)
    assert not churn(tokens, np.ones(4), np.random.default_rng(0), 0.0).any()


def test_arrivals_come_from_the_template():
    sizes, aims = arrivals(np.random.default_rng(1), 50.0, np.array([10.0, 20.0]), np.array([1.5, 2.0]))
    # 50 expected arrivals (Poisson): a count within 5 standard deviations, each a template row.
    assert abs(len(sizes) - 50) <= 5 * 50**0.5 and set(sizes) <= {10.0, 20.0}
    assert all((s, a) in {(10.0, 1.5), (20.0, 2.0)} for s, a in zip(sizes, aims))
    assert len(arrivals(np.random.default_rng(1), 0.0, np.array([10.0]), np.array([1.5]))[0]) == 0


def test_relever_by_hand():
    """1 token at $100, LT 80%, LTV 75%, debt $40, aim HF 1.5: HF 2.0 > 1.5 x 1.25 = 1.875.
    Wanted debt min(80 / 1.5, 75) = 53.333; half the way (speed 0.5): +6.6667. With only $5 of
    borrow-cap room: +5. At HF 1.8 (debt 44.44) it is inside the band: nothing."""
    debt = np.array([40.0])
    assert relever(np.ones(1), debt, np.array([1.5]), 100.0, 0.8, 0.75, 0.25, 0.5, math.inf) == pytest.approx(6.666667, abs=1e-6)
    assert debt[0] == pytest.approx(46.666667, abs=1e-6)
    capped = np.array([40.0])
    assert relever(np.ones(1), capped, np.array([1.5]), 100.0, 0.8, 0.75, 0.25, 0.5, 5.0) == pytest.approx(5.0)
    inside = np.array([80 / 1.8])
    assert relever(np.ones(1), inside, np.array([1.5]), 100.0, 0.8, 0.75, 0.25, 0.5, math.inf) == 0.0


def test_defend_by_hand():
    """Debt $78.4 on $100 at LT 80%: HF 1.0204 < 1.05; every such borrower acting (share 1)
    repays to HF 1.5: debt 53.333, repaid 25.0667. Already under HF 1: left to liquidators."""
    debt = np.array([78.4, 81.0])
    repaid = defend(np.ones(2), debt, np.full(2, 1.5), 100.0, 0.8, 1.05, 1.0, np.random.default_rng(0))
    assert repaid == pytest.approx(25.066667, abs=1e-6)
    assert debt.tolist() == [pytest.approx(53.333333, abs=1e-6), 81.0]


def test_rate_response_by_hand():
    """beta -1% a day per point; rate 5% vs reference 3% (2 points): hourly factor
    exp(-0.01 / 24 x 2) = 0.99916701; below the reference demand grows."""
    assert rate_response_factor(0.05, 0.03, -0.01) == pytest.approx(0.99916701, abs=1e-8)
    assert rate_response_factor(0.02, 0.03, -0.01) > 1


def test_depth_follows_the_last_snapshot():
    """Snapshots at t = 100 ($5) and 200 ($7); hours 50, 100, 150, 250: fallback, 5, 5, 7."""
    series = pd.Series([5.0, 7.0], index=pd.to_datetime([100, 200], unit="s", utc=True))
    depth, fallback = dex_depth_hourly(np.array([50, 100, 150, 250]), series, 1.0)
    assert depth.tolist() == [1.0, 5.0, 5.0, 7.0] and fallback == 1


def test_dynamics_refuse_impossible_rates():
    with pytest.raises(ValueError, match="probabilities per hour"):
        BorrowerDynamics(leave_hazard_per_hour=1.5, growth_per_hour=0, relever_band=0.25, relever_speed_per_hour=0.1,
                         rate_semi_elasticity_per_pp_day=0.0)


@pytest.mark.needs_data
def test_fit_on_the_bundled_aave_data():
    """The fitted figures the notes quote: WETH reserve growth 0.42%/day, churn from a 3.94%
    daily residual, stable borrowing +2.1% per +10% ETH day, the rate semi-elasticity
    -0.11% a day per point (95% interval containing 0: a weak response)."""
    from backtests.data import DATA_DIR
    from backtests.market_dynamics import fit_dynamics

    fit = fit_dynamics(DATA_DIR, book_hhi=0.02)
    assert fit.growth_per_day.value == pytest.approx(0.00418, abs=1e-4)
    assert fit.residual_sd_per_day == pytest.approx(0.0394, abs=5e-4)
    assert fit.leave_hazard_per_day == pytest.approx(0.0394**2 / 0.04, rel=0.03)
    assert fit.relever_response.value == pytest.approx(0.209, abs=0.005)
    low, high = fit.rate_semi_elasticity.interval95
    assert fit.rate_semi_elasticity.value == pytest.approx(-0.112, abs=0.005) and low < 0 < high
