"""The calibration figures docs/methodology.md quotes, on the bundled history (needs_data)."""

from __future__ import annotations

import pytest

from backtests.data import load_bundled
from backtests.validation import horizon_backtest, hourly_grid

pytestmark = pytest.mark.needs_data


def test_the_ltv_buffer_fails_with_sqrt_time_and_passes_fitted_at_its_horizon():
    """ETH (Binance 2017-2021), 24 h at 95%, 1,331-1,332 non-overlapping days: sqrt(time)
    93 exceedances where 66.6 are expected (Kupiec p = 0.002); the horizon tail 74 (p = 0.36,
    conditional coverage p = 0.25)."""
    grid, _ = hourly_grid(load_bundled("ETH").prices_usd)
    before = horizon_backtest("ETH", grid, 24, 0.95, "sqrt_time").test
    after = horizon_backtest("ETH", grid, 24, 0.95, "strategy").test
    assert (before.exceedances, before.passes) == (93, False) and before.p_pof < 0.01
    assert (after.exceedances, after.passes) == (74, True)


def test_the_calibration_tables_find_the_known_events():
    """Stress records and depegs from the bundled data: ETH's 12-month record ends 2018-08-17
    at 1.42%/h; USDT's 2017-04 depeg (8.6%, daily snapshots); UST's collapse from 2022-05-09,
    still open when the data end; no depeg of USDC."""
    from backtests.calibration import peg_calibration, stress_calibration

    (record,) = stress_calibration("ETH")
    assert (record.window_end_s, round(record.hourly_sigma, 4)) == (1_534_482_000, 0.0142)
    usdt = peg_calibration("USDT")
    assert any(e.start_s == 1_492_819_200 and e.severity == pytest.approx(0.0862, abs=1e-4) for e in usdt.events)
    ust = peg_calibration("UST").events[-1]
    assert ust.start_s == 1_652_119_200 and not ust.finished and ust.severity > 0.99
    assert peg_calibration("USDC").events == ()
