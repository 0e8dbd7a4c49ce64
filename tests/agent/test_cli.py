"""The CLI's promises beyond bad input: read-only commands leave a database byte-identical,
`status` reads as text (no Python dicts, integer counts, UTC dates) and as JSON, every option
has help text, every reporting command takes --json, `enclave verify` checks a document's age
by default, and `db-upgrade` is the one way to migrate."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer

from tests.agent.cli_runner import run_in_process

REPORTING = {("status",), ("verify",), ("report",), ("sweep",), ("backtest",), ("demo",), ("propose",),
             ("chain", "read"), ("data", "inspect")}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def commands(group, prefix=()):
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from commands(command, (*prefix, name))
        else:
            yield (*prefix, name), command


def test_every_option_and_argument_has_help_and_reporting_commands_take_json():
    from agent.cli import app

    root = typer.main.get_command(app)
    seen = set()
    for path, command in commands(root):
        seen.add(path)
        assert command.help, path
        for parameter in command.params:
            assert getattr(parameter, "help", None), f"{' '.join(path)} {parameter.name} has no help text"
        if path in REPORTING:
            assert any("--json" in p.opts for p in command.params), f"{' '.join(path)} has no --json"
    assert REPORTING <= seen


def test_status_on_a_foreign_database_is_refused_and_leaves_it_byte_identical(tmp_path, capsys):
    foreign = tmp_path / "invoices.sqlite"
    with sqlite3.connect(foreign) as connection:
        connection.execute("create table invoices (id integer primary key, total real)")
        connection.execute("insert into invoices (total) values (12.5)")
    before = digest(foreign)
    result = run_in_process(["status", "--db", str(foreign)], capsys)
    assert (result.code, result.stdout) == (2, "")
    assert result.stderr == f"error: database {foreign} is not a risk-agent database (no agent tables)\n"
    assert digest(foreign) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["invoices.sqlite"]  # no journal, no -wal left behind


def test_an_older_revision_is_refused_by_status_and_migrated_by_db_upgrade(tmp_path, capsys):
    """A database at revision 0001 (the first schema): status names the revision and the
    command that migrates; db-upgrade migrates it; then status reads it."""
    from alembic import command
    from alembic.config import Config

    from agent.store import MIGRATIONS_DIR

    db = tmp_path / "old.sqlite"
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", f"sqlite:///{db}")
    command.upgrade(config, "0001")
    before = digest(db)
    refused = run_in_process(["status", "--db", str(db)], capsys)
    assert refused.code == 2 and "is at schema revision 0001; this version reads 0003" in refused.stderr
    assert digest(db) == before
    assert run_in_process(["backtest", "--db", str(db)], capsys).stderr.startswith(
        f"error: database {db} is at schema revision 0001; this version writes 0003 (run `risk-agent db-upgrade")
    upgraded = run_in_process(["db-upgrade", "--db", str(db)], capsys)
    assert (upgraded.code, upgraded.stdout) == (0, f"database {db} is at schema revision 0003\n")
    assert run_in_process(["status", "--db", str(db)], capsys).code == 0


def test_db_upgrade_refuses_someone_elses_database(tmp_path, capsys):
    foreign = tmp_path / "invoices.sqlite"
    with sqlite3.connect(foreign) as connection:
        connection.execute("create table invoices (id integer primary key)")
    before = digest(foreign)
    result = run_in_process(["db-upgrade", "--db", str(foreign)], capsys)
    assert result.code == 2 and "is not a risk-agent database (it has other tables)" in result.stderr
    assert digest(foreign) == before


@pytest.mark.needs_data
@pytest.mark.xdist_group("demo")  # one worker builds the shared demo and runs its users; the other is not held waiting
def test_status_of_the_demo_reads_as_text_and_json_and_writes_nothing(demo_run, tmp_path, capsys):
    """The demo's 3 days: 5 proposals (1 vetoed), the last snapshot at the last decision's
    block, shown in UTC and in the replay's own time (May 2021)."""
    db = tmp_path / "demo.sqlite"
    shutil.copy(demo_run.db, db)
    before = digest(db)
    with sqlite3.connect(db) as connection:
        counts = dict(connection.execute("select state, count(*) from proposal group by state").fetchall())
        block, stamp = connection.execute("select block_number, block_timestamp from market_snapshot "
                                          "order by block_number desc limit 1").fetchone()
        shift = int(connection.execute("select value from run_info where key = 'time_shift_s'").fetchone()[0])
    text = run_in_process(["status", "--db", str(db)], capsys)
    assert text.code == 0 and text.stderr == ""
    lines = text.stdout.splitlines()
    total = sum(counts.values())
    assert lines[0] == f"database      {db} (schema 0003)"
    assert lines[1] == f"proposals     {total}: " + ", ".join(f"{s} {n}" for s, n in sorted(counts.items()))
    when = datetime.fromtimestamp(stamp, UTC)
    own = datetime.fromtimestamp(stamp - shift, UTC)
    assert own.year == 2021 and own.month == 5
    assert (f"last snapshot block {block:,} at {when:%Y-%m-%d %H:%M:%S} UTC "
            f"(data's own time {own:%Y-%m-%d %H:%M:%S} UTC)") in lines
    assert "{'" not in text.stdout and "': " not in text.stdout and "datetime(" not in text.stdout  # no Python reprs
    as_json = json.loads(run_in_process(["status", "--db", str(db), "--json"], capsys).stdout)
    assert as_json["proposals"] == {"total": total, "by_state": dict(sorted(counts.items()))}
    assert all(isinstance(n, int) for n in as_json["proposals"]["by_state"].values())
    assert as_json["last_snapshot"]["block"] == block and as_json["time_shift_s"] == shift
    assert digest(db) == before


def old_document(directory: Path, age: timedelta, monkeypatch) -> tuple[Path, Path, str]:
    """An attestation document made `age` ago by the local NSM (the enclave's own code), its
    dev root, and the PCR0 it carries. The dev CA is made as of a day ago (its clock set back
    from the test's side), so its certificates cover the document's time."""
    import enclave.nsm
    from enclave.image import measure
    from enclave.nsm import DevCa, LocalNsm

    class DayAgo(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.now(tz) - timedelta(days=1)

    with monkeypatch.context() as patched:
        patched.setattr(enclave.nsm, "datetime", DayAgo)
        ca = DevCa.load_or_create(directory / "dev-ca")
    measurement = measure().digest
    made_at = datetime.now(tz=UTC) - age
    nsm = LocalNsm(ca, "risk-agent-test", measurement, clock=lambda: made_at)
    document = directory / "document.bin"
    document.write_bytes(nsm.attest(public_key=b"\x04" + b"\x11" * 64, user_data=None, nonce=None))
    return document, directory / "dev-ca" / "root.pem", measurement.hex()


def test_enclave_verify_checks_the_document_age_by_default(tmp_path, capsys, monkeypatch):
    """Made 600 s ago: refused at the default 300 s; accepted with --max-age 900, and as of its
    own time (an archived document)."""
    document, root, measurement = old_document(tmp_path, timedelta(seconds=600), monkeypatch)
    base = ["enclave", "verify", str(document), "--measurement", measurement, "--trust-dev-root", str(root)]
    refused = run_in_process(base, capsys)
    assert refused.code == 2 and refused.stdout == ""
    assert refused.stderr.startswith("error: attestation rejected: document is 60") and refused.stderr.endswith(
        " s old; at most 300 s allowed\n")
    assert run_in_process([*base, "--max-age", "900"], capsys).stdout.startswith("verified: module risk-agent-test")
    archived = run_in_process([*base, "--at-document-time"], capsys)
    assert archived.code == 0 and archived.stdout.startswith("verified: module risk-agent-test")


def readme_block(after: str) -> list[str]:
    """The lines of the first fenced block after `after` in README.md."""
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = text[text.index(after):].split("```", 2)[1]
    return block.split("\n", 1)[1].rstrip("\n").splitlines()


def test_the_readme_shows_what_the_demo_prints():
    """The README's sample, rebuilt from its own figures by the CLI's printing: same lines."""
    from agent.cli import demo_lines
    from agent.demo import DemoSummary

    keys = ("ltv_bps", "liquidation_threshold_bps", "liquidation_bonus_bps", "supply_cap_tokens", "borrow_cap_tokens")
    summary = DemoSummary(
        database="var/demo.sqlite", price_source="Binance ETH/USDT hourly from 2021-05-12 (real); file:sha256:00",
        hours_replayed=240, seconds=44.2, decisions=10, proposals_by_state={"cancelled": 1, "executed": 14},
        weth_before=dict(zip(keys, (8_050, 8_300, 10_500, 1_800_000, 1_400_000), strict=True)),
        weth_after=dict(zip(keys, (7_925, 8_175, 10_500, 617_400, 480_200), strict=True)),
        weth_price_start_usd=4_173.45, weth_price_end_usd=2_379.95, liquidations=22, bad_debt_usd=0.0,
        accounts_with_bad_debt=0, enclave_address="0x4371AC7c1C540462941e8e8f7D3dc6f52b07Bdd2",
        measurement="05ba2ee5703c06a7" + "00" * 40, time_shift_s=0)
    assert demo_lines(summary, Path.home() / ".risk-agent" / "dev-ca" / "root.pem") == readme_block("It ends with:")


def test_the_readme_shows_what_status_prints():
    from agent.status import status_lines

    report = {"database": "var/demo.sqlite", "schema_revision": "0003", "time_shift_s": 175_212_417,
              "proposals": {"total": 15, "by_state": {"cancelled": 1, "executed": 14}}, "waiting_in_timelock": [],
              "last_snapshot": {"block": 969, "timestamp": 1_796_852_218, "utc": "2026-12-09 21:36:58 UTC",
                                "data_time_utc": "2021-05-21 23:00:03 UTC"}, "jobs": []}
    shown = readme_block("## The agent service")
    assert status_lines(report) == shown[shown.index("$ risk-agent status --db var/demo.sqlite # read-only; --json "
                                                     "for the same as JSON") + 1:]
