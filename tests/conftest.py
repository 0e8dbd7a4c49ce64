"""Shared test set-up. Tests that replay real history read it from ../shared/data (never
copied into the project); where that folder is absent they are skipped with the reason."""

from __future__ import annotations

import pytest

from backtests.data import DATA_DIR


def pytest_collection_modifyitems(config, items):
    if (DATA_DIR / "prices").is_dir() and (DATA_DIR.parent / "vectors").is_dir():
        return
    skip = pytest.mark.skip(reason=f"real market history not found at {DATA_DIR} (set RISK_AGENT_DATA_DIR)")
    for item in items:
        if "needs_data" in item.keywords:
            item.add_marker(skip)
