"""Every page of the dashboard through Streamlit's AppTest, on the demo's real database (as it
was before its last timelock execution): assertions on what is shown, not only that it ran."""

from __future__ import annotations

import html
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from agent.store import make_engine
from agent.times import utc
from tests.dashboard.conftest import seed_many_proposals

pytestmark = [pytest.mark.integration, pytest.mark.needs_data, pytest.mark.xdist_group("demo")]
APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


def app(monkeypatch, db, home=None, trust_dev_root=False) -> AppTest:
    monkeypatch.setenv("RISK_AGENT_DASHBOARD_DB", str(db))
    monkeypatch.setenv("RISK_AGENT_DASHBOARD_TRUST_DEV_ROOT", "1" if trust_dev_root else "0")
    if home is not None:
        monkeypatch.setenv("RISK_AGENT_HOME", str(home))
    from dashboard.state import engine, shift_s

    engine.clear()
    shift_s.clear()
    return AppTest.from_file(APP, default_timeout=120).run()


def texts(at) -> str:
    return "\n".join([*(m.value for m in at.markdown), *(t.value for t in at.text), *(c.value for c in at.code),
                      *(c.value for c in at.caption)])


def test_a_missing_or_foreign_database_is_one_clear_error(monkeypatch, tmp_path):
    at = app(monkeypatch, tmp_path / "missing.sqlite")
    assert not at.exception
    assert at.error[0].value.startswith(f"database {tmp_path / 'missing.sqlite'} not found.")
    foreign = tmp_path / "foreign.sqlite"
    with sqlite3.connect(foreign) as connection:
        connection.execute("create table invoices (id integer primary key)")
    before = foreign.read_bytes()
    at = app(monkeypatch, foreign)
    assert "is not a risk-agent database" in at.error[0].value
    assert foreign.read_bytes() == before


def test_an_empty_agent_database_shows_each_page_without_data(monkeypatch, tmp_path):
    db = tmp_path / "empty.sqlite"
    make_engine(str(db)).dispose()
    at = app(monkeypatch, db)
    assert not at.exception and at.title[0].value == "Overview"
    assert "Nothing is waiting in the timelock" in texts(at)
    for page, message in (("proposals", "No proposals match."), ("markets", "No market data yet"),
                          ("enclave", "No attestation document stored yet."), ("backtests", "No saved runs.")):
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception
        assert message in " ".join(i.value for i in at.info), page


def test_overview_shows_the_queued_update_its_countdown_and_veto(monkeypatch, dashboard_db):
    db, home, queued_id = dashboard_db
    with sqlite3.connect(db) as connection:
        eta, update_json = connection.execute("select eta, update_json from proposal where id = ?",
                                              (queued_id,)).fetchone()
        shift = int(connection.execute("select value from run_info where key = 'time_shift_s'").fetchone()[0])
        counts = dict(connection.execute("select state, count(*) from proposal group by state").fetchall())
    update = json.loads(update_json)
    at = app(monkeypatch, db, home)
    assert not at.exception and at.title[0].value == "Overview"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Waiting in the timelock"] == "1" and metrics["Executed"] == str(counts["executed"])
    assert metrics["Vetoed"] == str(counts["cancelled"])
    shown = texts(at)
    assert f"**Executable from {utc(eta)}** (chain clock) · data's own time {utc(eta - shift)}" in shown
    assert utc(eta - shift).startswith("2021-05")
    command = next(c.value for c in at.code if c.value.startswith("cast send"))
    params, values = ",".join(map(str, update["params"])), ",".join(map(str, update["values"]))
    assert f'"veto(address,uint8[],uint256[],bytes32)" {update["asset"]} "[{params}]" "[{values}]" 0x' in command
    markets = at.dataframe[0].value
    assert "WETH" in set(markets["asset"]) and f"#{queued_id}" in markets.set_index("asset").loc["WETH", "queued"]


def test_proposal_detail_is_verified_only_with_the_dev_root_opted_in(monkeypatch, dashboard_db):
    db, home, queued_id = dashboard_db
    at = app(monkeypatch, db, home)
    at.switch_page("pages/proposals.py").run()
    assert not at.exception and at.title[0].value == "Proposals"
    assert at.header[0].value.startswith(f"Proposal #{queued_id}: WETH — queued (timelock path)")
    assert at.error[0].value == "NOT verified: attestation: certificate chain does not lead to a trusted root"
    at = app(monkeypatch, db, home, trust_dev_root=True)
    at.switch_page("pages/proposals.py").run()
    assert at.success[0].value.startswith("Verified: the attested key 0x")
    checks = [t.value for t in at.text if t.value.startswith("[passed]")]
    assert [c.split(":")[0] for c in checks] == ["[passed] attestation", "[passed] signature", "[passed] enclave"]
    assert any("cast send" in c.value for c in at.code)
    assert f"risk-agent report {queued_id} --db {db} --format html" in texts(at)
    at.multiselect[1].select("cancelled").run()
    assert "1 proposals" in at.caption[1].value and "cancelled" in at.header[0].value
    assert any("Vetoed by the guardian" in i.value for i in at.info)


def test_an_executed_proposal_shows_when_it_took_effect(monkeypatch, dashboard_db):
    """The Chain block of an executed proposal names the chain time of the block that executed
    it (the store's executed_at_s, after its ETA for a timelocked one); a queued one shows '-'."""
    db, home, queued_id = dashboard_db
    at = app(monkeypatch, db, home)
    at.switch_page("pages/proposals.py").run()
    assert f"execute tx           -\nexecuted at          -\n" in texts(at)
    at.multiselect[1].set_value(["executed"]).run()
    shown = int(at.header[0].value.split("#")[1].split(":")[0])
    with sqlite3.connect(db) as connection:
        (executed_at_s, execute_tx, eta) = connection.execute(
            "select executed_at_s, execute_tx, eta from proposal where id = ?", (shown,)).fetchone()
    assert executed_at_s is not None and (eta is None or executed_at_s >= eta)
    assert f"execute tx           {execute_tx}\nexecuted at          {utc(executed_at_s)} (chain clock)\n" in texts(at)


def test_the_risk_report_is_built_from_the_page(monkeypatch, dashboard_db):
    db, home, queued_id = dashboard_db
    at = app(monkeypatch, db, home, trust_dev_root=True)
    at.switch_page("pages/proposals.py").run()
    at.button(key=f"report-{queued_id}").click().run()
    assert not at.exception
    from dashboard.views.proposals import build_html

    page = build_html(str(db), queued_id)
    assert page.startswith("<!doctype html>") and f"Risk report: proposal #{queued_id}" in page
    shown = html.unescape(page)
    assert "<strong>Verified.</strong>" in shown and '"veto(address,uint8[],uint256[],bytes32)"' in shown


def test_markets_show_price_parameters_utilization_rates_and_health_factors(monkeypatch, dashboard_db):
    db, home, _ = dashboard_db
    at = app(monkeypatch, db, home)
    at.switch_page("pages/markets.py").run()
    assert not at.exception and at.selectbox[0].value == "WETH"
    subheaders = [s.value for s in at.subheader]
    assert subheaders[:2] == ["WETH price and the parameters in force", "Realized volatility (24 observations)"]
    for expected in ("Utilization", "Monte Carlo bad debt of each decision on WETH",
                     "WETH rate curve: in force against proposed",
                     "Health factors of the positions"):
        assert expected in subheaders
    parameters = at.dataframe[0].value
    assert parameters["LT %"].iloc[0] == 83.0 and parameters["LT %"].is_monotonic_decreasing
    assert parameters["time"].dt.year.eq(2021).all()
    assert "8 positions with $" in texts(at)


def test_enclave_and_backtests_pages(monkeypatch, dashboard_db, tmp_path):
    db, home, _ = dashboard_db
    at = app(monkeypatch, db, home, trust_dev_root=True)
    at.switch_page("pages/enclave.py").run()
    assert not at.exception and at.subheader[0].value.startswith("Key 0x")
    assert at.text[0].value.startswith("Registration on chain: executed")
    assert at.success[0].value.startswith("Attestation verified: key 0x")
    at.switch_page("pages/backtests.py").run()
    assert not at.exception and at.dataframe[0].value["bad_debt_usd"].iloc[0] == 670_298.0
    copy = tmp_path / "tampered.sqlite"
    shutil.copy(db, copy)
    with sqlite3.connect(copy) as connection:
        (document,) = connection.execute("select document from attestation").fetchone()
        flipped = bytearray(document)
        flipped[-1] ^= 1
        connection.execute("update attestation set document = ?", (bytes(flipped),))
    at = app(monkeypatch, copy, home, trust_dev_root=True)
    at.switch_page("pages/enclave.py").run()
    assert any("NOT verified" in e.value for e in at.error)


def test_symbols_and_rationales_from_data_render_as_plain_text(monkeypatch, dashboard_db, tmp_path):
    """A symbol and a rationale made of markdown and HTML are shown as those characters."""
    db, home, queued_id = dashboard_db
    copy = tmp_path / "hostile.sqlite"
    shutil.copy(db, copy)
    symbol, reason = "[WETH](https://evil.example)", "**urgent** <img src=x onerror=alert(1)> _now_"
    with sqlite3.connect(copy) as connection:
        (decision_id, recommendation) = connection.execute(
            "select d.id, d.recommendation_json from decision d join proposal p on p.decision_id = d.id where p.id = ?",
            (queued_id,)).fetchone()
        data = json.loads(recommendation)
        for asset in data["assets"]:
            if asset["symbol"] == "WETH":
                asset["symbol"], asset["reason"] = symbol, reason
        connection.execute("update decision set recommendation_json = ? where id = ?", (json.dumps(data), decision_id))
        connection.execute("update proposal set asset_symbol = ? where id = ?", (symbol, queued_id))
    at = app(monkeypatch, copy, home)
    at.switch_page("pages/proposals.py").run()
    assert not at.exception
    assert at.header[0].value == (f"Proposal #{queued_id}: \\[WETH\\]\\(https\\://evil\\.example\\) — queued "
                                  "(timelock path)")
    assert reason in [t.value for t in at.text]
    assert all("<img" not in m.value for m in at.markdown)


def test_ten_thousand_proposals_are_paginated(monkeypatch, dashboard_db, tmp_path):
    db, home, _ = dashboard_db
    copy = tmp_path / "many.sqlite"
    shutil.copy(db, copy)
    with sqlite3.connect(copy) as connection:
        (demo,) = connection.execute("select count(*) from proposal").fetchone()
    seed_many_proposals(copy, 10_000)
    at = app(monkeypatch, copy, home)
    assert not at.exception
    assert "and 1,901 more" in texts(at)  # 2,000 seeded and the demo's 1 queued: the overview lists 100
    at.switch_page("pages/proposals.py").run()
    assert not at.exception
    caption = next(c.value for c in at.caption if "proposals ·" in c.value)
    total = demo + 10_000
    assert caption == f"{total:,} proposals · page 1 of {-(-total // 50)}"
    assert len(at.dataframe[0].value) == 50
