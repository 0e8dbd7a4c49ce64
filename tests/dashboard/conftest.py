from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from agent.store import BacktestRunRow, DecisionRow, ProposalRow, make_engine


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory):
    """A real demo database (3 replayed days) plus one saved backtest run."""
    from agent.demo import run_demo

    home = tmp_path_factory.mktemp("home")
    db = home / "demo.sqlite"
    run_demo(3, db, home)
    with Session(make_engine(str(db))) as session:
        session.add(BacktestRunRow(strategy="agent", assets="ETH", period_start="2020-03-01", period_end="2020-03-31", seed=1,
                                   metrics_json=json.dumps({"bad_debt_usd": 670_298.0, "borrower_bonus_losses_usd": 1.6e6,
                                                            "updates": 20}), report_path=None))
        session.commit()
    os.environ["RISK_AGENT_HOME"] = str(home)
    return db, home


def seed_many_proposals(db, count: int) -> None:
    """`count` proposals on one decision, spread over states and assets, for pagination tests."""
    engine = make_engine(str(db))
    states = ("executed", "cancelled", "queued", "failed", "expired")
    with Session(engine) as session:
        decision = DecisionRow(inputs_hash="ab" * 32, inputs_canonical=b"{}", recommendation_json='{"assets": []}',
                               enclave_address="0x" + "11" * 20, measurement="cd" * 48)
        session.add(decision)
        session.flush()
        start = datetime(2026, 1, 1, tzinfo=UTC)
        before = {"ltv_bps": 8050, "liquidation_threshold_bps": 8300}
        session.add_all(ProposalRow(
            decision_id=decision.id, asset_symbol=("WETH", "WBTC", "USDC")[i % 3], asset_address="0x" + "22" * 20,
            state=states[i % 5], update_json="{}", nonce=10_000 + i, created_at=start + timedelta(minutes=i),
            params_before_json=json.dumps(before), params_after_json=json.dumps({**before, "ltv_bps": 8025}),
            operation_id="0x" + f"{i:064x}", eta=1_800_000_000) for i in range(count))
        session.commit()
