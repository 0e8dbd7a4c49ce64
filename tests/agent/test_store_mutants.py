"""Store edges the state-machine tests leave open (found by mutation): URLs, the read-only
refusals word for word, the upgrade failure, what a transition writes, the state counts."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from agent.store import (
    SCHEMA_REVISION,
    DatabaseError,
    DecisionRow,
    InvalidTransition,
    ProposalRow,
    ProposalState,
    _first_line,
    database_url,
    make_engine,
    open_read_only,
    probe,
    proposals_by_state,
    read_only_engine,
    transition,
    utcnow,
)


def test_a_bare_path_is_a_sqlite_file_whose_folder_is_made(tmp_path):
    path = tmp_path / "deep" / "er" / "agent.sqlite"
    assert database_url(str(path)) == f"sqlite:///{path}"
    assert path.parent.is_dir()


def test_postgresql_urls_use_psycopg_3_and_other_urls_are_kept():
    assert database_url("postgresql://agent@db:5432/risk") == "postgresql+psycopg://agent@db:5432/risk"
    assert database_url("postgresql+psycopg://agent@db/risk") == "postgresql+psycopg://agent@db/risk"
    assert database_url("sqlite:///var/agent.sqlite") == "sqlite:///var/agent.sqlite"


def test_first_line_of_an_error_is_cut_at_200_characters():
    assert _first_line(ValueError("first\nsecond")) == "first"
    assert _first_line(ValueError("x" * 300)) == "x" * 200
    assert _first_line(ValueError("")) == "ValueError"


def test_an_engine_without_upgrade_leaves_the_database_empty(tmp_path):
    path = tmp_path / "agent.sqlite"
    make_engine(str(path), upgrade=False).dispose()
    with sqlite3.connect(path) as connection:
        assert connection.execute("select name from sqlite_master").fetchall() == []


def test_a_database_that_cannot_be_upgraded_is_refused_in_one_line(tmp_path):
    blocked = tmp_path / "not-a-file"
    blocked.mkdir()
    with pytest.raises(DatabaseError) as raised:
        make_engine(str(blocked))
    assert str(raised.value) == f"database {blocked} cannot be used: unable to open database file"


def test_a_database_at_another_revision_is_refused_with_the_command_to_run(tmp_path):
    path = tmp_path / "agent.sqlite"
    make_engine(str(path)).dispose()
    with sqlite3.connect(path) as connection:
        connection.execute("update alembic_version set version_num = '0001'")
    with pytest.raises(DatabaseError) as raised:
        open_read_only(str(path))
    assert str(raised.value) == (f"database {path} is at schema revision 0001; this version reads {SCHEMA_REVISION} "
                                 f"(run `risk-agent db-upgrade --db {path}`)")


def test_a_database_with_the_version_table_but_no_proposals_is_not_the_agents(tmp_path):
    path = tmp_path / "half.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute("create table alembic_version(version_num text)")
    with pytest.raises(DatabaseError) as raised:
        open_read_only(str(path))
    assert str(raised.value) == f"database {path} is not a risk-agent database (no agent tables)"


def test_the_clock_is_utc_and_aware():
    now = utcnow()
    assert now.tzinfo is UTC and abs((datetime.now(tz=UTC) - now).total_seconds()) < 5


def new_proposal(session: Session, state: ProposalState, symbol: str = "WETH") -> ProposalRow:
    decision = DecisionRow(inputs_hash="ab" * 32, inputs_canonical=b"\xa0", recommendation_json="{}",
                           enclave_address="0x" + "11" * 20, measurement="cd" * 48)
    session.add(decision)
    session.commit()
    row = ProposalRow(decision_id=decision.id, asset_symbol=symbol, asset_address="0x" + "22" * 20, state=state,
                      update_json="{}", nonce=1, params_before_json=json.dumps({}), params_after_json=json.dumps({}))
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


def test_a_transition_writes_its_fields_and_time_and_names_a_refused_move(tmp_path):
    engine = make_engine(str(tmp_path / "agent.sqlite"))
    with Session(engine) as session:
        row = new_proposal(session, ProposalState.SIGNED)
        before = row.updated_at
        moved = transition(session, row, ProposalState.QUEUED, operation_id="0xab", eta=1_234)
        assert (moved.state, moved.operation_id, moved.eta) == ("queued", "0xab", 1_234)
        assert moved.updated_at >= before
        with pytest.raises(InvalidTransition) as refused:
            transition(session, moved, ProposalState.DRAFTED)
        assert str(refused.value) == f"proposal {row.id}: queued -> drafted is not allowed"
    with Session(engine) as session:
        stored = session.get(ProposalRow, row.id)
        assert (stored.state, stored.operation_id, stored.eta) == ("queued", "0xab", 1_234)


def test_proposals_are_counted_by_state_in_name_order(tmp_path):
    engine = make_engine(str(tmp_path / "agent.sqlite"))
    with Session(engine) as session:
        for state in (ProposalState.SIGNED, ProposalState.EXECUTED, ProposalState.EXECUTED, ProposalState.CANCELLED):
            new_proposal(session, state)
        assert list(proposals_by_state(session).items()) == [("cancelled", 1), ("executed", 2), ("signed", 1)]


def test_first_line_reads_the_driver_error_under_a_wrapper():
    """SQLAlchemy wraps the driver's error in `.orig`: its message is the one shown."""

    class Wrapped(Exception):
        orig = ValueError("no such table: proposal\n[SQL: select ...]")

    assert _first_line(Wrapped("(sqlite3.OperationalError) no such table: proposal")) == "no such table: proposal"


def test_a_server_url_is_opened_as_a_server_and_refused_in_one_line():
    """A PostgreSQL URL nobody answers (port 1): refused as unreadable, not as a missing file."""
    url = "postgresql://nobody@127.0.0.1:1/none"
    with pytest.raises(DatabaseError) as raised:
        open_read_only(url)
    assert str(raised.value).startswith(f"database {url} cannot be read: ")
    assert str(raised.value).endswith("port 1 failed: Connection refused")
    assert "\n" not in str(raised.value)


def test_a_path_with_a_percent_sign_is_migrated_where_it_says(tmp_path):
    """Alembic's config interpolates '%': the URL is escaped, so a folder named 'a%b' works
    and the schema lands in that very file."""
    path = tmp_path / "a%b" / "agent.sqlite"
    make_engine(str(path)).dispose()
    with sqlite3.connect(path) as connection:
        assert connection.execute("select version_num from alembic_version").fetchone() == (SCHEMA_REVISION,)


def test_the_service_waits_for_a_concurrent_writer_longer_than_sqlites_default(tmp_path):
    """SQLite gives up on a locked database after 5 s by default; the agent's connections wait
    30 s (PRAGMA busy_timeout is the wait SQLite applies, in ms), and a write waits for a lock
    another process holds and goes through once it is released (held 0.3 s here: the length
    is the pragma's, not a clock's)."""
    import threading
    import time

    path = tmp_path / "agent.sqlite"
    engine = make_engine(str(path))
    with engine.connect() as connection:
        assert connection.exec_driver_sql("pragma busy_timeout").fetchone() == (30_000,)
    other = sqlite3.connect(path, check_same_thread=False)
    other.execute("begin exclusive")
    release = threading.Timer(0.3, other.commit)
    release.start()
    started = time.monotonic()
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("insert into cursor(name, block_number) values ('waited', 1)")
    finally:
        release.join()
        other.close()
    assert time.monotonic() - started >= 0.3
    with sqlite3.connect(path) as connection:
        assert connection.execute("select block_number from cursor where name = 'waited'").fetchone() == (1,)


def test_a_sqlite_url_is_read_where_it_points(tmp_path):
    """`sqlite:///<path>` is a URL, not a file named after it: the read-only engine reads that
    database (the agent's tables and the current revision)."""
    path = tmp_path / "agent.sqlite"
    make_engine(str(path)).dispose()
    url = f"sqlite:///{path}"
    tables, revision = probe(read_only_engine(url), url)
    assert {"alembic_version", "proposal"} <= tables and revision == SCHEMA_REVISION


def test_the_busy_timeouts_the_service_and_the_readers_wait(tmp_path):
    """SQLite's busy timeout as the connection reports it (ms): the service's engine waits 30 s
    for a writer's lock, the read-only engine 5 s."""
    path = tmp_path / "agent.sqlite"
    make_engine(str(path)).dispose()
    for engine, waits_ms in ((make_engine(str(path), upgrade=False), 30_000), (read_only_engine(str(path)), 5_000)):
        with engine.connect() as connection:
            assert connection.exec_driver_sql("pragma busy_timeout").scalar() == waits_ms
        engine.dispose()


def test_a_server_engine_is_not_given_sqlites_timeout():
    """psycopg refuses unknown options ('invalid connection option "timeout"'); a PostgreSQL
    URL nobody answers (port 1) fails on the connection itself."""
    engine = make_engine("postgresql://nobody@127.0.0.1:1/none", upgrade=False)
    with pytest.raises(OperationalError, match="port 1 failed: Connection refused"):
        engine.connect()
