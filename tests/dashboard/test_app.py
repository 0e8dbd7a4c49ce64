"""Every page of the dashboard through Streamlit's AppTest, on a real demo database:
assertions on what is shown, not only that it ran."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from agent.store import make_engine
from tests.dashboard.conftest import seed_many_proposals

pytestmark = [pytest.mark.integration, pytest.mark.needs_data]
APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


def app(monkeypatch, db) -> AppTest:
    monkeypatch.setenv("RISK_AGENT_DASHBOARD_DB", str(db))
    from dashboard.state import engine

    engine.clear()
    return AppTest.from_file(APP, default_timeout=120).run()


def test_empty_database_gets_a_helpful_message(monkeypatch, tmp_path):
    at = app(monkeypatch, tmp_path / "empty.sqlite")
    assert not at.exception
    assert "no agent data yet" in at.info[0].value and "make demo" in at.info[0].value


def test_overview_shows_health_markets_and_counts(monkeypatch, demo_db):
    db, _ = demo_db
    at = app(monkeypatch, db)
    assert not at.exception and at.title[0].value == "Overview"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Executed"] == "2" and int(metrics["Last ingest (block)"]) > 100
    markets = at.dataframe[-2].value if len(at.dataframe) > 2 else at.dataframe[0].value
    assert "WETH" in set(markets["asset"]) or any("WETH" in str(d.value) for d in at.dataframe)


def test_proposals_page_detail_and_live_attestation(monkeypatch, demo_db):
    db, _ = demo_db
    at = app(monkeypatch, db)
    at.switch_page("pages/proposals.py").run()
    assert not at.exception and at.title[0].value == "Proposals"
    assert "3 proposals" in at.caption[0].value
    assert at.header[0].value.startswith("Proposal #3: WETH")
    assert any(s.value.startswith("Attestation verified") for s in at.success)
    assert any("liquidation_threshold_bps" in str(d.value) for d in at.dataframe)
    at.multiselect[1].select("cancelled").run()
    assert "1 proposals" in at.caption[0].value and "cancelled" in at.header[0].value


def test_markets_enclave_and_backtests_pages(monkeypatch, demo_db):
    db, _ = demo_db
    at = app(monkeypatch, db)
    at.switch_page("pages/markets.py").run()
    assert not at.exception and at.selectbox[0].value == "WETH"
    assert any("Parameter history" in s.value for s in at.subheader)
    at.switch_page("pages/enclave.py").run()
    assert not at.exception and "Key 0x" in at.subheader[0].value
    assert any("executed" in m.value for m in at.markdown)
    at.switch_page("pages/backtests.py").run()
    assert not at.exception and at.dataframe[0].value["bad_debt_usd"].iloc[0] == 670_298.0


def test_a_tampered_attestation_is_shown_as_not_verified(monkeypatch, demo_db, tmp_path):
    db, _ = demo_db
    copy = tmp_path / "tampered.sqlite"
    shutil.copy(db, copy)
    import sqlite3

    with sqlite3.connect(copy) as connection:
        (document,) = connection.execute("select document from attestation").fetchone()
        flipped = bytearray(document)
        flipped[-1] ^= 1
        connection.execute("update attestation set document = ?", (bytes(flipped),))
    at = app(monkeypatch, copy)
    at.switch_page("pages/enclave.py").run()
    assert any("NOT verified" in e.value for e in at.error)


def test_ten_thousand_proposals_are_paginated(monkeypatch, demo_db, tmp_path):
    db, _ = demo_db
    copy = tmp_path / "many.sqlite"
    shutil.copy(db, copy)
    make_engine(str(copy))
    seed_many_proposals(copy, 10_000)
    at = app(monkeypatch, copy)
    at.switch_page("pages/proposals.py").run()
    assert not at.exception
    assert "10,003 proposals" in at.caption[0].value and "of 201" in at.caption[0].value
    assert len(at.dataframe[0].value) == 50
