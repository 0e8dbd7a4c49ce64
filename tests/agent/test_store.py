"""The store on SQLite and on a real PostgreSQL server: migrations, the proposal state
machine, and the jobs writing through it."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from agent.store import (
    DecisionRow,
    InvalidTransition,
    MarketSnapshotRow,
    ProposalRow,
    ProposalState,
    make_engine,
    migrate,
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


def test_ingest_writes_snapshots_once_per_block(database_url):
    from chain.deploy import SystemConfig, deploy_system
    from chain.deployment import Deployment
    from chain.node import dev_accounts, in_process_web3
    from agent.jobs import AgentContext, ingest

    w3 = in_process_web3()
    accounts = dev_accounts(w3)
    deployment: Deployment = deploy_system(w3, accounts[0], accounts[1].address, SystemConfig(min_delay_seconds=60))
    ctx = AgentContext(engine=make_engine(database_url), w3=w3, deployment=deployment, relay=None, enclave=None,
                       assets=["WETH"])
    first = ingest(ctx)
    assert ingest(ctx) == first
    with Session(ctx.engine) as session:
        snapshots = session.exec(select(MarketSnapshotRow)).all()
        assert len(snapshots) == 1 and snapshots[0].block_number == first
        assert {r["symbol"] for r in json.loads(snapshots[0].reserves_json)} == {"WETH", "WBTC", "USDC", "LINK", "CRV"}
