"""The dashboard's read-only queries on a small hand-written store (no demo database)."""

from __future__ import annotations

import json
import sqlite3

import pandas as pd
from alembic import command
from alembic.config import Config
from sqlmodel import Session

from agent.store import MIGRATIONS_DIR, ProposalRow, make_engine, open_read_only
from dashboard.queries import parameter_history, to_time

DECIDED_S = 1_800_000_000
SHIFT_S = 100_000_000  # a replay's chain time minus the data's own time
BEFORE = {"ltv_bps": 8_050, "liquidation_threshold_bps": 8_300, "liquidation_bonus_bps": 10_500}


def update_json(decided_s: int) -> str:
    return json.dumps({"anchor_timestamp": decided_s})


def test_parameter_history_steps_when_each_update_was_executed(tmp_path):
    """#1, stored at schema 0002 (no execution time): LTV 80.5 -> 81%, decided at DECIDED_S,
    ETA one day later, shown at its ETA, DECIDED_S + 86,400. #2, fast path: LT 83 -> 82.75%,
    decided at DECIDED_S + 90,000 and applied 24 s later (the submit's block), shown there,
    DECIDED_S + 90,024. #3, slow: LTV 81 -> 81.5%, decided at DECIDED_S + 100,000, ETA one
    day later (DECIDED_S + 186,400) but executed two hours after it: shown at DECIDED_S +
    193,600, not at the ETA. Before them, the values in force from #1's decision; every time
    less SHIFT_S."""
    db = tmp_path / "agent.sqlite"
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", f"sqlite:///{db}")
    command.upgrade(config, "0002")
    with sqlite3.connect(db) as connection:
        connection.execute(
            "insert into proposal (created_at, updated_at, decision_id, asset_symbol, asset_address, state, "
            "update_json, nonce, deadline, enclave_address, signature, update_hash, params_before_json, "
            "params_after_json, eta, path) values ('2027-01-15 08:00:00', '2027-01-16 08:00:00', 1, 'WETH', '0x', "
            "'executed', ?, 1, 0, '', '', '', ?, ?, ?, 'slow')",
            (update_json(DECIDED_S), json.dumps(BEFORE), json.dumps({**BEFORE, "ltv_bps": 8_100}), DECIDED_S + 86_400))
    after_first = {**BEFORE, "ltv_bps": 8_100}
    after_second = {**after_first, "liquidation_threshold_bps": 8_275}
    with Session(make_engine(str(db))) as session:  # migrated to the latest schema: #1 has no execution time
        session.add_all([
            ProposalRow(decision_id=2, asset_symbol="WETH", asset_address="0x", state="executed", path="fast",
                        update_json=update_json(DECIDED_S + 90_000), params_before_json=json.dumps(after_first),
                        params_after_json=json.dumps(after_second), executed_at_s=DECIDED_S + 90_024),
            ProposalRow(decision_id=3, asset_symbol="WETH", asset_address="0x", state="executed", path="slow",
                        update_json=update_json(DECIDED_S + 100_000), params_before_json=json.dumps(after_second),
                        params_after_json=json.dumps({**after_second, "ltv_bps": 8_150}), eta=DECIDED_S + 186_400,
                        executed_at_s=DECIDED_S + 193_600),
        ])
        session.commit()

    history = parameter_history(open_read_only(str(db)), "WETH", SHIFT_S)

    expected = pd.DataFrame({
        "time": to_time(pd.Series([DECIDED_S, DECIDED_S + 86_400, DECIDED_S + 90_024, DECIDED_S + 193_600]) - SHIFT_S),
        "update": ["in force before #1", "#1 (slow path)", "#2 (fast path)", "#3 (slow path)"],
        "LTV %": [80.5, 81.0, 81.0, 81.5],
        "LT %": [83.0, 83.0, 82.75, 82.75],
        "LB %": [5.0, 5.0, 5.0, 5.0],
    })
    pd.testing.assert_frame_equal(history, expected)


def test_a_slow_part_moves_only_what_it_changes(tmp_path):
    """One decision at DECIDED_S split in two: the fast part cuts LT 83 -> 82.75% (applied at
    DECIDED_S + 24), the slow part raises the bonus 5 -> 5.5%; both were written from the values
    before the decision, so the slow part's before and after still say LT 83%. Executed at
    DECIDED_S + 86,424, it shows LT 82.75% (the cut stays) and LB 5.5%. A later fast LTV cut
    (80.5 -> 80.25%) executed at DECIDED_S + 90,000 but stored with a lower id than the slow
    part comes after it in time."""
    db = tmp_path / "agent.sqlite"
    cut = {**BEFORE, "liquidation_threshold_bps": 8_275}
    with Session(make_engine(str(db))) as session:
        session.add_all([
            ProposalRow(decision_id=1, asset_symbol="WETH", asset_address="0x", state="executed", path="fast",
                        update_json=update_json(DECIDED_S), params_before_json=json.dumps(BEFORE),
                        params_after_json=json.dumps(cut), executed_at_s=DECIDED_S + 24),
            ProposalRow(decision_id=2, asset_symbol="WETH", asset_address="0x", state="executed", path="fast",
                        update_json=update_json(DECIDED_S + 89_000), params_before_json=json.dumps(cut),
                        params_after_json=json.dumps({**cut, "ltv_bps": 8_025}), executed_at_s=DECIDED_S + 90_000),
            ProposalRow(decision_id=1, asset_symbol="WETH", asset_address="0x", state="executed", path="slow",
                        update_json=update_json(DECIDED_S), params_before_json=json.dumps(BEFORE),
                        params_after_json=json.dumps({**BEFORE, "liquidation_bonus_bps": 10_550}),
                        eta=DECIDED_S + 86_400, executed_at_s=DECIDED_S + 86_424),
        ])
        session.commit()

    history = parameter_history(open_read_only(str(db)), "WETH", SHIFT_S)

    expected = pd.DataFrame({
        "time": to_time(pd.Series([DECIDED_S, DECIDED_S + 24, DECIDED_S + 86_424, DECIDED_S + 90_000]) - SHIFT_S),
        "update": ["in force before #1", "#1 (fast path)", "#3 (slow path)", "#2 (fast path)"],
        "LTV %": [80.5, 80.5, 80.5, 80.25],
        "LT %": [83.0, 82.75, 82.75, 82.75],
        "LB %": [5.0, 5.0, 5.5, 5.5],
    })
    pd.testing.assert_frame_equal(history, expected)
