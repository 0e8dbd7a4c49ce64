"""The simulator against Aave v2's real liquidations: unit reading by hand (no data), the real
daily volumes (needs_data), and the whole comparison as it came out (needs_data, slow)."""

from __future__ import annotations

import numpy as np
import pytest

from backtests.realism import collateral_tokens


def test_collateral_amounts_in_both_units_of_the_file():
    """18 decimals: 3.3e17 raw = 0.33 WETH; 4.46 (already in tokens, after July 2021) stays 4.46;
    the cut is 10^9 (a billionth of a token would be dust, a billion tokens impossible)."""
    np.testing.assert_allclose(collateral_tokens(np.array([3.3e17, 4.46, 1e9, 999_999_999.0]), 18),
                               [0.33, 4.46, 1e-9, 999_999_999.0])


@pytest.mark.needs_data
def test_real_daily_weth_liquidations():
    """2021-05-19: 29,609 WETH seized at that day's hourly ETH prices, $78.6M; 2022-01-21
    (amounts already in tokens by then): $30.7M; the whole file's WETH: $445M."""
    from backtests.data import load_bundled
    from backtests.realism import real_daily_liquidations

    eth = load_bundled("WETH").prices_usd.resample("1h").last().ffill()
    daily = real_daily_liquidations("WETH", eth)
    assert daily[daily.index.strftime("%Y-%m-%d") == "2021-05-19"].iloc[0] == pytest.approx(78.63e6, rel=1e-3)
    assert daily[daily.index.strftime("%Y-%m-%d") == "2022-01-21"].iloc[0] == pytest.approx(30.68e6, rel=1e-3)
    assert daily.sum() == pytest.approx(445.4e6, rel=1e-3)


@pytest.mark.needs_data
@pytest.mark.slow
def test_simulated_against_real_liquidations_as_reported():
    """The figures in docs/methodology.md: rank correlation 0.57 on 456 days, the leveraged
    share fitted on 2021-01..08 (7.9%), then 2021-05-19 at 1.09x and 2022-01-21 at 1.77x."""
    from backtests.realism import compare

    report = compare()
    assert report.whole.days == 456
    assert report.whole.rank_correlation == pytest.approx(0.570, abs=0.005)
    assert report.leveraged_share == pytest.approx(0.0787, abs=0.001)
    assert report.ratio_by_day["2021-05-19"] == pytest.approx(1.090, abs=0.01)
    assert report.ratio_by_day["2022-01-21"] == pytest.approx(1.767, abs=0.01)
    assert report.unscaled_whole.ratio_total == pytest.approx(10.80, abs=0.05)
