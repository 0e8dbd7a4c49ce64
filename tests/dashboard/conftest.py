"""The dashboard's database: a copy of the session's demo database (tests/conftest.py) as it
was just before the demo's last timelock execution, plus one saved backtest run.

The demo ends by executing everything queued, so its final database has nothing waiting in the
timelock; the page DAO members act from would be empty. The copy rewinds the last timelocked
proposal to `queued` (its execute transaction and time forgotten), which is exactly the store's state
between its submit and its execution: the last snapshot was read before its ETA."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import pytest
from sqlmodel import Session

from agent.store import BacktestRunRow, DecisionRow, ProposalRow, make_engine


class DashboardDatabase(NamedTuple):
    db: object
    home: object
    queued_id: int


@pytest.fixture(scope="session")
def dashboard_db(demo_run, tmp_path_factory) -> DashboardDatabase:
    db = tmp_path_factory.mktemp("dashboard") / "demo-before-last-execution.sqlite"
    shutil.copy(demo_run.db, db)
    with sqlite3.connect(db) as connection:
        (queued_id, eta) = connection.execute(
            "select id, eta from proposal where path = 'slow' and state = 'executed' "
            "order by id desc limit 1").fetchone()
        (last_snapshot,) = connection.execute("select max(block_timestamp) from market_snapshot").fetchone()
        assert eta > last_snapshot  # queued at the last snapshot's time: the rewound state is one the store had
        connection.execute("update proposal set state = 'queued', execute_tx = null, executed_at_s = null where id = ?",
                           (queued_id,))
    with Session(make_engine(str(db), upgrade=False)) as session:
        session.add(BacktestRunRow(strategy="agent", assets="ETH", period_start="2020-03-01", period_end="2020-03-31",
                                   seed=1,
                                   metrics_json=json.dumps({"bad_debt_usd": 670_298.0,
                                                            "borrower_bonus_losses_usd": 1.6e6,
                                                            "updates": 20}), report_path=None))
        session.commit()
    return DashboardDatabase(db, demo_run.home, queued_id)


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
