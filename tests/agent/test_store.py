"""The store on SQLite and on a real PostgreSQL server: migrations, the proposal state
machine, and the jobs writing through it."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from agent.store import (
    ALLOWED_TRANSITIONS,
    END_STATES,
    DatabaseError,
    DecisionRow,
    InvalidTransition,
    MarketSnapshotRow,
    ProposalRow,
    ProposalState,
    make_engine,
    migrate,
    open_read_only,
    proposals_by_state,
    transition,
)
from tests.postgres import PostgresServer


@pytest.fixture(scope="module")
def postgres_url():
    server = PostgresServer()
    try:
        url = server.start()
    except Exception as error:  # noqa: BLE001
        server.stop()
        pytest.fail(f"PostgreSQL did not start: {error}")
    yield url
    server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "agent.sqlite")
    return request.getfixturevalue("postgres_url")


def proposal(session: Session) -> ProposalRow:
    decision = DecisionRow(inputs_hash="ab" * 32, inputs_canonical=b"{}", recommendation_json="{}",
                           enclave_address="0x" + "11" * 20, measurement="cd" * 48)
    session.add(decision)
    session.commit()
    row = ProposalRow(decision_id=decision.id, asset_symbol="WETH", asset_address="0x" + "22" * 20, state=ProposalState.SIGNED,
                      update_json="{}", nonce=1, params_before_json=json.dumps({}), params_after_json=json.dumps({}))
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


def test_migrations_are_idempotent_and_the_state_machine_holds(database_url):
    engine = make_engine(database_url)
    migrate(database_url)  # a second upgrade changes nothing
    with Session(engine) as session:
        row = proposal(session)
        transition(session, row, ProposalState.SUBMITTED, update_hash="0x01")
        transition(session, row, ProposalState.QUEUED, operation_id="0x02", eta=123)
        with pytest.raises(InvalidTransition, match="queued -> signed"):
            transition(session, row, ProposalState.SIGNED)
        transition(session, row, ProposalState.CANCELLED)
        with pytest.raises(InvalidTransition):
            transition(session, row, ProposalState.EXECUTED)
        assert proposals_by_state(session) == {"cancelled": 1}
        stored = session.exec(select(ProposalRow)).one()
        assert (stored.state, stored.operation_id, stored.eta) == ("cancelled", "0x02", 123)


def test_the_migrations_build_exactly_the_models_schema(database_url):
    """Alembic's autogenerate comparison of the migrated database against the SQLModel tables
    finds nothing: no missing or extra table, column, index, nullability or type (a model
    field without its migration, or the reverse, is named here)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    engine = make_engine(database_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}),
                                       SQLModel.metadata)
    assert differences == []


# Every legal move, by hand from the design: the fast path (tightening-only) executes at
# submit, so signed/submitted -> executed is legal; only queued operations can be vetoed.
LEGAL = {
    ("drafted", "signed"), ("drafted", "failed"),
    ("signed", "submitted"), ("signed", "queued"), ("signed", "executed"), ("signed", "expired"), ("signed", "failed"),
    ("submitted", "queued"), ("submitted", "executed"), ("submitted", "expired"), ("submitted", "failed"),
    ("queued", "executed"), ("queued", "cancelled"), ("queued", "expired"), ("queued", "failed"),
}


def test_the_transition_table_is_exactly_the_designed_one():
    table = {(a.value, b.value) for a, targets in ALLOWED_TRANSITIONS.items() for b in targets}
    assert table == LEGAL
    assert {s.value for s in END_STATES} == {"executed", "cancelled", "expired", "failed"}


@pytest.fixture(scope="module")
def shared_engine(tmp_path_factory):
    return make_engine(str(tmp_path_factory.mktemp("store") / "agent.sqlite"))


@pytest.mark.parametrize("start", [s for s in ProposalState])
@pytest.mark.parametrize("target", [s for s in ProposalState])
def test_every_transition_is_allowed_or_refused_as_designed(shared_engine, start, target):
    """All 64 (from, to) pairs on a real SQLite store: legal ones commit the new state,
    the rest raise InvalidTransition and leave the stored state unchanged."""
    with Session(shared_engine) as session:
        row = proposal(session)
        row.state = start
        session.add(row)
        session.commit()
        if (start.value, target.value) in LEGAL:
            transition(session, row, target)
            assert session.get(ProposalRow, row.id).state == target
        else:
            with pytest.raises(InvalidTransition, match=f"{start} -> {target} is not allowed"):
                transition(session, row, target)
            session.rollback()
            assert session.exec(select(ProposalRow.state).where(ProposalRow.id == row.id)).one() == start


def test_read_only_open_refuses_what_is_not_the_agents_database(tmp_path):
    import sqlite3

    missing = tmp_path / "absent.sqlite"
    with pytest.raises(DatabaseError, match="not found"):
        open_read_only(str(missing))
    assert not missing.exists()  # nothing created
    foreign = tmp_path / "foreign.sqlite"
    connection = sqlite3.connect(foreign)
    connection.execute("create table notes(text)")
    connection.commit()
    connection.close()
    before = foreign.read_bytes()
    with pytest.raises(DatabaseError, match="is not a risk-agent database"):
        open_read_only(str(foreign))
    assert foreign.read_bytes() == before
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_text("not a database at all")
    with pytest.raises(DatabaseError, match="file is not a database"):
        open_read_only(str(garbage))
    with pytest.raises(DatabaseError, match="is a directory"):
        open_read_only(str(tmp_path))


def test_read_only_engine_cannot_write(tmp_path):
    from sqlalchemy.exc import OperationalError

    path = tmp_path / "agent.sqlite"
    make_engine(str(path))
    before = path.read_bytes()
    engine = open_read_only(str(path))
    with engine.connect() as connection, pytest.raises(OperationalError, match="readonly database"):
        connection.exec_driver_sql("insert into cursor(name, block_number) values ('x', 1)")
    assert path.read_bytes() == before


def test_ingest_writes_snapshots_once_per_block_and_every_feed_round(database_url, agent_system):
    """Deploy (each feed has its listing round 1), push two WETH rounds: the first ingest stores
    the snapshot, the three WETH rounds with their own updatedAt and round ids, and WETH's
    utilization; a second ingest of the same block stores nothing new."""
    from agent.jobs import AgentContext, ingest
    from agent.store import PricePointRow, UtilizationPointRow
    from chain.aave import our_contract
    from chain.node import advance_time
    from chain.transact import Transactor
    from tests.support.system import relay_for

    w3, system, who = agent_system
    feed = our_contract(w3, "PushableAggregator", system.market.reserve("WETH").feed)
    pushed = []
    for price in (1_610, 1_620):
        advance_time(w3, 600)
        receipt = Transactor(w3, who.governance).send(feed.functions.pushAnswer(price * 10**8))
        pushed.append(int(w3.eth.get_block(receipt["blockNumber"])["timestamp"]))
    ctx = AgentContext(engine=make_engine(database_url), w3=w3, deployment=system.to_deployment(),
                       relay=relay_for(w3, system, who.operator), enclave=None, assets=["WETH"])
    first = ingest(ctx)
    assert ingest(ctx) == first
    with Session(ctx.engine) as session:
        snapshots = session.exec(select(MarketSnapshotRow)).all()
        assert len(snapshots) == 1 and snapshots[0].block_number == first
        assert {r["symbol"] for r in json.loads(snapshots[0].reserves_json)} == {"WETH", "USDC"}  # WETH and its pair's quote
        rounds = session.exec(select(PricePointRow).order_by(PricePointRow.timestamp_s)).all()
        assert [(r.round_id, r.price_usd) for r in rounds] == [("1", 1_600.0), ("2", 1_610.0), ("3", 1_620.0)]
        assert [r.timestamp_s for r in rounds][1:] == pushed
        assert {r.source for r in rounds} == {f"feed:{system.market.reserve('WETH').feed}"}
        assert len(session.exec(select(UtilizationPointRow)).all()) == 1
