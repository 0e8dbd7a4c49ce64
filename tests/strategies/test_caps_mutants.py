"""Cap edges the other cap tests leave open (found by mutation): each tier boundary, each
floor and default, each exact reason."""

from __future__ import annotations

import numpy as np
import pytest

from strategies.caps import CapTarget, cap_target, capacity_supply_cap_tokens, chaos_stress_drop, liquidated_share, supply_cap_usd


def test_liquidated_share_counts_below_hf_1_not_at_it():
    """Collateral 100 against 25 at LT 50% after a 50% drop: HF = 100 x 0.5 x 0.5 / 25 = 1
    exactly: not liquidated. A hair more debt and all 100 of the 300 collateral is: 1/3."""
    collateral = np.array([100.0, 200.0])
    assert liquidated_share(collateral, np.array([25.0, 1.0]), 0.5, 0.5) == 0.0
    assert liquidated_share(collateral, np.array([25.000001, 1.0]), 0.5, 0.5) == pytest.approx(1 / 3)


def test_liquidated_share_of_nothing_is_zero():
    assert liquidated_share(np.zeros(0), np.zeros(0), 0.8, 0.3) == 0.0
    assert liquidated_share(np.zeros(2), np.ones(2), 0.8, 0.3) == 0.0


def test_supply_cap_usd_by_hand():
    """$5M an hour for 24 h; 20% of supply liquidated after a 25% drop at a 50% close factor:
    $0.075 sold per $ of supply: 120M / 0.075 = $1.6B. A share under 1% counts as 1%; a 100%
    close factor halves it."""
    assert supply_cap_usd(5e6, 24, 0.2, 0.25) == pytest.approx(1.6e9)
    assert supply_cap_usd(5e6, 24, 0.001, 0.25) == pytest.approx(120e6 / (0.01 * 0.75 * 0.5))
    assert supply_cap_usd(5e6, 24, 0.2, 0.25, close_factor=1.0) == pytest.approx(0.8e9)


@pytest.mark.parametrize("market_cap_usd, stable, drop", [
    (None, False, 0.50), (2e9 - 1, False, 0.50), (2e9, False, 0.35), (20e9, False, 0.35), (20e9 + 1, False, 0.15),
    (None, True, 0.15), (1e6, True, 0.15),
])
def test_chaos_stress_tiers_at_their_edges(market_cap_usd, stable, drop):
    assert chaos_stress_drop(market_cap_usd, stable) == drop


def test_capacity_edges():
    """No drop is allowed (a stablecoin at par); a negative drop or price is not. Capacity
    never rounds to 0 tokens (at least 1), floors otherwise, and the close factor defaults
    to 50%: $100 of depth for 1 h at $2,000 a token, 100% liquidated: 100 / 1,000 = 0.1 -> 1."""
    assert capacity_supply_cap_tokens(5e6, 24, 0.2, 0.0, 2_000, 0.1) == 600_000
    assert capacity_supply_cap_tokens(100, 1, 1.0, 0.0, 2_000, 0.1) == 1
    assert capacity_supply_cap_tokens(5e6, 24, 0.2, 0.25, 2_000, 0.1, close_factor=1.0) == 400_000
    assert capacity_supply_cap_tokens(1_001, 1, 1.0, 0.0, 2, 0.1, close_factor=1.0) == 500  # 1,001 / 2 = 500.5
    for price, drop in ((0.0, 0.25), (2_000, -0.01)):
        with pytest.raises(ValueError, match=rf"need a positive price and a drop in \[0, 1\), got {price} and {drop}"):
            capacity_supply_cap_tokens(5e6, 24, 0.2, drop, price, 0.1)


def test_cap_reasons_word_for_word():
    assert cap_target(1_000_000, 700_000, 2_000_000, 0.8, 0.3) == CapTarget(1_000_000, "usage 70% of the cap, below 80%")
    assert cap_target(1_000_000, 800_000, 2_000_000, 0.8, 0.3) == CapTarget(1_300_000, "usage 80% of the cap")
    assert cap_target(1_000_000, 950_000, 999_999, 0.8, 0.3) == CapTarget(999_999, "liquidation capacity")


def test_capacity_equal_to_the_cap_is_not_a_cut():
    assert cap_target(1_000_000, 100_000, 1_000_000, 0.8, 0.3) == CapTarget(1_000_000, "usage 10% of the cap, below 80%")


def test_a_raise_floors_to_whole_tokens():
    """1,000,001 x 1.3 = 1,300,001.3 -> 1,300,001."""
    assert cap_target(1_000_001, 1_000_001, 5_000_000, 0.8, 0.3).tokens == 1_300_001


@pytest.mark.parametrize("raise_share, step, valid", [(1.0, 0.3, True), (1.01, 0.3, False), (0.8, 0.0, True),
                                                      (0.8, -0.01, False)])
def test_cap_settings_at_their_limits(raise_share, step, valid):
    if valid:
        assert cap_target(1_000, 1_000, 5_000, raise_share, step).tokens == int(1_000 * (1 + step))
    else:
        with pytest.raises(ValueError, match=rf"got {raise_share}, {step}$"):
            cap_target(1_000, 1_000, 5_000, raise_share, step)


def test_capacity_for_an_asset_under_one_dollar():
    """$0.50 a token (a valid price): $1,000 of depth for 1 h, all liquidated at 100%: 2,000 tokens."""
    assert capacity_supply_cap_tokens(1_000, 1, 1.0, 0.0, 0.5, 0.1, close_factor=1.0) == 2_000


def test_liquidated_share_of_one_small_position():
    """A single $0.40 position owing $0.30 at LT 80% after a 10% drop: HF 0.96, liquidated: 100%."""
    assert liquidated_share(np.array([0.4]), np.array([0.3]), 0.8, 0.1) == 1.0
