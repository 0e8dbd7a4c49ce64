"""Constant-product arithmetic, the one place depth and swap output are computed."""

from __future__ import annotations

import pytest

from chain.dex import amount_out, depth_usd
from strategies.collateral import constant_product_slippage


def test_depth_at_two_percent_by_hand():
    """$1.6M of asset in the pair, s = 2%: 1.6M x 0.02 / 0.98 = $32,653.06."""
    assert depth_usd(1_600_000, 0.02) == pytest.approx(32_653.06, abs=0.01)


@pytest.mark.parametrize("slippage", [0.005, 0.02, 0.1, 0.5])
def test_selling_the_depth_costs_exactly_the_slippage(slippage: float):
    """The strategy's slippage model, fed the depth this function derives, returns the same
    slippage for a trade of that depth: chain side and strategy side agree."""
    depth = depth_usd(5_000_000, slippage)
    assert constant_product_slippage(depth, depth, slippage) == pytest.approx(slippage, rel=1e-12)


@pytest.mark.parametrize("slippage", [0.0, 1.0, -0.1, 1.5])
def test_slippage_outside_zero_one_is_refused(slippage: float):
    with pytest.raises(ValueError, match="slippage must be a fraction"):
        depth_usd(1_000_000, slippage)


def test_amount_out_is_uniswap_v2_get_amount_out():
    """1,000 in against 1,000,000 / 1,000,000: 1000 x 997 x 1e6 // (1e6 x 1000 + 997,000) = 996."""
    assert amount_out(1_000, 1_000_000, 1_000_000) == 996
    # Without the fee the same trade pays 1000 x 1e6 // 1,001,000 = 999.
    assert amount_out(1_000, 1_000_000, 1_000_000, fee_per_thousand=0) == 999


def test_amount_out_refuses_an_empty_pair():
    with pytest.raises(ValueError, match="no liquidity"):
        amount_out(1, 0, 1_000)
