"""Caps from liquidation capacity and demand, by hand (no ../shared/data)."""

from __future__ import annotations

import numpy as np
import pytest

from strategies.caps import cap_target, capacity_supply_cap_tokens, liquidated_share


def test_liquidated_share_by_hand():
    """Collateral 100, 200, 700 against debts 60, 100, 100 at LT 80%, a 20% drop: HF after =
    C x 0.8 x 0.8 / D = 1.0667, 1.28, 4.48: nobody; a 30% drop: 0.9333 (liquidated), 1.12, 3.92:
    100 of 1,000 collateral = 10%."""
    collateral, debt = np.array([100.0, 200.0, 700.0]), np.array([60.0, 100.0, 100.0])
    assert liquidated_share(collateral, debt, 0.8, 0.2) == 0.0
    assert liquidated_share(collateral, debt, 0.8, 0.3) == pytest.approx(0.1)


def test_capacity_by_hand():
    """$5M of depth an hour for 24 h; price $2,000, stress ES 25%, 20% of supply liquidated at a
    50% close factor: 2,000 x 0.75 x 0.2 x 0.5 = $150 per token sold, 120M / 150 = 800,000
    tokens. A calm population (5%) is floored at 10%: $75 a token, 1,600,000."""
    assert capacity_supply_cap_tokens(5e6, 24, 0.2, 0.25, 2_000, 0.1) == 800_000
    assert capacity_supply_cap_tokens(5e6, 24, 0.05, 0.25, 2_000, 0.1) == 1_600_000
    with pytest.raises(ValueError, match="positive price and a drop"):
        capacity_supply_cap_tokens(5e6, 24, 0.2, 1.0, 2_000, 0.1)


@pytest.mark.parametrize("cap, usage, capacity, expected, reason", [
    (1_000_000, 700_000, 2_000_000, 1_000_000, "below 80%"),        # 70% used: keep
    (1_000_000, 800_000, 2_000_000, 1_300_000, "usage 80% of the cap"),  # at the trigger: +30%
    (1_000_000, 850_000, 1_100_000, 1_100_000, "usage 85% of the cap"),  # never above capacity
    (1_000_000, 950_000, 600_000, 600_000, "liquidation capacity"),  # depth fell: lower, used or not
    (0, 950_000, 600_000, 600_000, "liquidation capacity"),          # Aave's 0 = no cap: capacity
])
def test_caps_rise_on_demand_only_and_fall_with_capacity(cap, usage, capacity, expected, reason):
    target = cap_target(cap, usage, capacity, 0.8, 0.3)
    assert target.tokens == expected and reason in target.reason


def test_cap_target_refuses_impossible_settings():
    with pytest.raises(ValueError, match="raise share must be in"):
        cap_target(1, 1, 1, 0.0, 0.3)
