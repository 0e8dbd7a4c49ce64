"""The service's jobs outlive what goes wrong around them: a locked database, an enclave
that dies and comes back with a new key. Real components: in-process EVM, SQLite, the
enclave process."""

from __future__ import annotations

import sqlite3
import time

import pytest
from sqlalchemy import create_engine
from sqlmodel import Session, func, select

from agent import jobs
from agent.jobs import AgentContext
from agent.service import JobRunner, Metrics
from agent.store import AttestationRow, DecisionRow, MarketSnapshotRow, ProposalRow, make_engine
from chain.node import advance_time
from enclave.attestation import TrustAnchors
from enclave.client import EnclaveClient, start_enclave
from enclave.nsm import DevCa
from tests.support.system import registrar_for, relay_for

pytestmark = pytest.mark.integration


@pytest.fixture
def context(agent_chain, tmp_path):
    from chain.node import revert_to, snapshot

    w3, system, who = agent_chain
    checkpoint = snapshot(w3)
    process = start_enclave(dev_ca_dir=tmp_path / "dev-ca")
    anchors = TrustAnchors().with_root(DevCa.load_or_create(tmp_path / "dev-ca").root_pem)
    ctx = AgentContext(engine=make_engine(str(tmp_path / "agent.sqlite")), w3=w3, deployment=system.to_deployment(),
                       relay=relay_for(w3, system, who.operator), enclave=EnclaveClient(process.url, process.measurement, anchors),
                       assets=["WETH"], registrar=registrar_for(w3, system, who.operator))
    ctx.test_process = process
    ctx.test_dev_ca = tmp_path / "dev-ca"
    yield ctx
    ctx.test_process.stop()
    revert_to(w3, checkpoint)


def count(ctx, model) -> int:
    with Session(ctx.engine) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def test_locked_database_is_survived_and_caught_up(context, tmp_path):
    metrics = Metrics()
    runner = JobRunner("ingest", jobs.ingest, context, metrics, base_backoff_s=0.01)
    # A short busy timeout so the test does not wait the production 30 s.
    context.engine = create_engine(f"sqlite:///{tmp_path / 'agent.sqlite'}", connect_args={"timeout": 0.2})
    blocker = sqlite3.connect(tmp_path / "agent.sqlite", timeout=0)
    blocker.execute("BEGIN EXCLUSIVE")
    assert runner() is False
    assert metrics.errors.labels("ingest")._value.get() == 1
    blocker.rollback()
    blocker.close()
    time.sleep(0.05)
    assert runner() is True
    assert count(context, MarketSnapshotRow) == 1


def test_enclave_down_then_back_with_a_new_key(context):
    metrics = Metrics()
    decide = JobRunner("decide", jobs.decide, context, metrics, base_backoff_s=0.01)
    assert decide() is True  # attests and schedules the key's registration
    advance_time(context.w3, 61)
    jobs.execute(context)
    jobs.ingest(context)
    assert decide() is True and count(context, DecisionRow) == 1
    first_key = context.enclave.attested.enclave_address

    advance_time(context.w3, 86_400)  # the next decision is due a decision interval later
    context.test_process.kill()
    assert decide() is False  # the enclave is not answering: logged, counted, nothing stored
    assert count(context, DecisionRow) == 1 and count(context, ProposalRow) == 0
    assert context.enclave.attested is None

    context.test_process = start_enclave(dev_ca_dir=context.test_dev_ca)
    context.enclave.url = context.test_process.url
    time.sleep(0.05)
    assert decide() is True  # re-attested: a new key, whose registration is now scheduled
    assert context.enclave.attested.enclave_address != first_key
    assert count(context, DecisionRow) == 1
    advance_time(context.w3, 61)  # the new key's registration passes the timelock
    jobs.execute(context)
    jobs.ingest(context)
    assert decide() is True and count(context, DecisionRow) == 2
    with Session(context.engine) as session:
        states = {r.enclave_address: r.registration_state for r in session.exec(select(AttestationRow)).all()}
    assert states == {first_key: "executed", context.enclave.attested.enclave_address: "executed"}
