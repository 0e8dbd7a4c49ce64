"""`risk-agent report` on a demo proposal: every section, plots next to the markdown, figures
that are the stored decision's own, text from data escaped, and the database untouched.
(The HTML opened in Chromium is in tests/dashboard/test_browser.py.)"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3

import pytest

from tests.agent.cli_runner import run_in_process

pytestmark = [pytest.mark.integration, pytest.mark.needs_data, pytest.mark.xdist_group("demo")]
SECTIONS = ["Summary", "Before and after", "Method", "Value at risk and expected shortfall",
            "Where the inputs came from",
            "Positions that become liquidatable", "Monte Carlo bad debt", "Backtest, current against proposed",
            "Attestation", "How to verify it", "How to veto it"]


@pytest.fixture
def demo_copy(demo_run, tmp_path):
    db = tmp_path / "demo.sqlite"
    shutil.copy(demo_run.db, db)
    return db, demo_run.home


def stored(db, proposal_id: int) -> dict:
    with sqlite3.connect(db) as connection:
        connection.row_factory = sqlite3.Row
        proposal = dict(connection.execute("select * from proposal where id = ?", (proposal_id,)).fetchone())
        decision = dict(connection.execute("select * from decision where id = ?",
                                           (proposal["decision_id"],)).fetchone())
    return {"proposal": proposal, "decision": decision}


def test_markdown_report_with_its_plots_and_the_database_untouched(demo_copy, tmp_path, capsys):
    db, home = demo_copy
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    out = tmp_path / "post" / "proposal-1.md"
    out.parent.mkdir()
    result = run_in_process(["report", "1", "--db", str(db), "--out", str(out), "--trust-dev-root",
                             str(home / "dev-ca" / "root.pem")], capsys)
    assert result.code == 0, result.stderr
    text = out.read_text()
    assert [line[3:] for line in text.splitlines() if line.startswith("## ")] == SECTIONS
    images = sorted(p.name for p in out.parent.glob("*.png"))
    assert result.stdout == f"report: {out} (+ {len(images)} PNG files: " + ", ".join(
        f"proposal-1-{n}.png" for n in ("health_factors", "monte_carlo",
                                        "backtest") if f"proposal-1-{n}.png" in images) + ")\n"
    for name in images:
        assert (out.parent / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"]({name})" in text
    assert {"proposal-1-backtest.png", "proposal-1-health_factors.png", "proposal-1-monte_carlo.png"} <= set(images)
    assert "**Verified.**" in text
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_json_figures_are_the_stored_decisions(demo_copy, capsys):
    """Proposal 1 (the demo's first, a fast-path tightening): its changes, anchor, inputs hash
    and publishing transaction as stored; the Monte Carlo figures as the recommendation says;
    a 90-day backtest over the stored hourly prices; nothing to veto."""
    db, _ = demo_copy
    row = stored(db, 1)
    report = json.loads(run_in_process(["report", "1", "--db", str(db), "--json"], capsys).stdout)
    before, after = json.loads(row["proposal"]["params_before_json"]), json.loads(row["proposal"]["params_after_json"])
    assert {c["parameter"]: (c["before"], c["after"]) for c in report["changes"]} == {
        k: (before[k], after[k]) for k in after if after[k] != before[k]}
    provenance = report["provenance"]
    assert provenance["anchor"]["block"] == row["decision"]["anchor_block"]
    assert provenance["inputs_hash"] == "0x" + row["decision"]["inputs_hash"].removeprefix("0x")
    assert provenance["inputs_publish_tx"] == row["decision"]["inputs_publish_tx"]
    metrics = json.loads(row["decision"]["recommendation_json"])["assets"][0]["metrics"]
    assert report["monte_carlo"]["bad_debt_proposed_mean_usd"] == metrics["bad_debt_proposed_mean_usd"]
    assert report["liquidations"]["positions_with_debt"] == metrics["positions"]
    backtest = report["backtest"]
    assert backtest["ran"] and backtest["days"] == pytest.approx(90, abs=0.1) and backtest["hours"] == 24 * 90
    assert set(backtest["metrics"]) == {"current", "proposed"}
    assert report["path"] == "fast" and report["veto"]["open"] is False
    assert report["method"]["config_file"] == "strategies/config/risk-agent-v1.toml"
    assert report["method"]["stress_window_covered"] is metrics["stress_window_covered"] is True
    assert report["attestation"]["verified"] is False  # no development root named: only AWS's is trusted


def test_an_executed_timelocked_update_says_when_it_ran(demo_copy, capsys):
    """The demo's last timelocked proposal: executed at the time of its execution's block
    (stored by the execute job, not before its ETA), in chain time and the replay's own."""
    from agent.times import utc

    db, _ = demo_copy
    with sqlite3.connect(db) as connection:
        proposal_id, eta, executed_at, transaction = connection.execute(
            "select id, eta, executed_at_s, execute_tx from proposal where path = 'slow' and state = 'executed' "
            "order by id desc limit 1").fetchone()
        (shift,) = connection.execute("select value from run_info where key = 'time_shift_s'").fetchone()
    assert executed_at >= eta
    report = json.loads(run_in_process(["report", str(proposal_id), "--db", str(db), "--json"], capsys).stdout)
    assert report["veto"]["text"] == (
        f"Executed after the timelock delay (transaction {transaction}), at {utc(executed_at)} by the chain clock "
        f"({utc(executed_at - int(shift))} in the data's own time); a veto is no longer possible.")


def test_the_method_says_why_loosening_is_held(demo_copy, tmp_path, capsys):
    """The demo's proposal 1 with its metrics edited: held for a young asset, the Method
    section says so; held for another reason (a stressed gate), it does not name the history."""
    db, _ = demo_copy
    with sqlite3.connect(db) as connection:
        (recommendation,) = connection.execute("select recommendation_json from decision where id = 1").fetchone()
    for covered, named in ((False, True), (True, False)):
        data = json.loads(recommendation)
        data["assets"][0]["metrics"].update(loosening_held=True, stress_window_covered=covered)
        with sqlite3.connect(db) as connection:
            connection.execute("update decision set recommendation_json = ? where id = 1", (json.dumps(data),))
        out = tmp_path / f"held-{covered}.md"
        assert run_in_process(["report", "1", "--db", str(db), "--out", str(out)], capsys).code == 0
        text = out.read_text()
        assert "; loosening held" in text
        assert ("loosening held (the asset's history holds no whole stress window yet)." in text) is named


def test_text_from_data_is_escaped_in_markdown_and_html(demo_copy, tmp_path, capsys):
    db, _ = demo_copy
    with sqlite3.connect(db) as connection:
        (recommendation,) = connection.execute("select recommendation_json from decision where id = 1").fetchone()
        data = json.loads(recommendation)
        data["assets"][0]["reason"] = "[claim](https://evil.example) <script>alert(1)</script> **now**"
        connection.execute("update decision set recommendation_json = ? where id = 1", (json.dumps(data),))
    page = tmp_path / "p.html"
    assert run_in_process(["report", "1", "--db", str(db), "--format", "html", "--out", str(page)], capsys).code == 0
    html = page.read_text()
    assert "<script>" not in html and 'href="https://evil' not in html and "<strong>now</strong>" not in html
    assert "&lt;script&gt;" in html
    markdown = tmp_path / "p.md"
    assert run_in_process(["report", "1", "--db", str(db), "--out", str(markdown)], capsys).code == 0
    assert r"\[claim\]\(https\://evil\.example\) \<script\>alert\(1\)\</script\> \*\*now\*\*" in markdown.read_text()


def test_a_proposal_that_does_not_exist(demo_copy, capsys):
    db, _ = demo_copy
    result = run_in_process(["report", "999", "--db", str(db)], capsys)
    assert (result.code, result.stderr) == (2, f"error: no proposal 999 in {db}\n")
