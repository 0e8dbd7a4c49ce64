"""A proposal past its deadline can no longer be relayed; whether it expired or landed before a
crash kept the submit job from recording it is the chain's to say, not the clock's. Both
backends, the agent's own submit job and store."""

from __future__ import annotations

from sqlmodel import Session, select

from agent import jobs
from agent.store import ProposalRow, ProposalState
from chain.node import advance_time
from strategies.params import Param
from tests.chain.conftest import System
from tests.chain.test_steward_execution_time import block_time_of, signed_row, stored
from tests.chain.test_steward_supersede import context

PAST_DEADLINE_S = 3_600 + 60  # the fixture's updates have a one-hour deadline after their anchor


def test_a_fast_update_that_landed_before_the_crash_is_executed_not_expired(system: System, tmp_path):
    """LTV 8050 -> 8040 marked submitted, applied on chain, the job died before storing it; it
    runs again an hour and a minute later, past the deadline: the proposal is executed at the
    block that applied it (nothing resent: the enclave's nonce moved once)."""
    ctx = context(system, tmp_path)
    update, proposal = signed_row(system, ctx.engine, {Param.LTV: 8_040}, state=ProposalState.SUBMITTED)
    landed = system.submit(update)
    advance_time(system.w3, PAST_DEADLINE_S)
    assert jobs.submit(ctx) == [proposal]
    row = stored(ctx, proposal)
    assert (row.state, row.path, row.error) == (ProposalState.EXECUTED, "fast", None)
    assert row.executed_at_s == block_time_of(system, landed.transaction_hash)
    assert system.relay.nonce(update.enclave) == update.nonce + 1


def test_a_slow_update_that_landed_before_the_crash_is_queued_not_expired(system: System, tmp_path):
    """LTV 8050 -> 8060 (a loosening: scheduled) marked submitted and scheduled on chain before
    the crash; past its deadline the job finds the operation and queues the proposal with the
    operation's id and ETA."""
    ctx = context(system, tmp_path)
    update, proposal = signed_row(system, ctx.engine, {Param.LTV: 8_060}, state=ProposalState.SUBMITTED)
    landed = system.submit(update)
    advance_time(system.w3, PAST_DEADLINE_S)
    assert jobs.submit(ctx) == [proposal]
    row = stored(ctx, proposal)
    assert (row.state, row.path) == (ProposalState.QUEUED, "slow")
    assert (row.operation_id, row.eta) == ("0x" + landed.operation.operation_id.hex(), landed.ready_at)


def test_past_the_deadline_what_never_landed_expires_and_nothing_is_sent(system: System, tmp_path):
    """Two proposals past their deadline, neither on chain: the submitted one (its transaction
    lost before it reached the node) and a signed one never sent. Both expire with the reason;
    the steward's nonce for the enclave does not move."""
    ctx = context(system, tmp_path)
    submitted_update, submitted = signed_row(system, ctx.engine, {Param.LTV: 8_040}, state=ProposalState.SUBMITTED)
    _, signed = signed_row(system, ctx.engine, {Param.LIQUIDATION_THRESHOLD: 8_275})
    nonce = system.relay.nonce(submitted_update.enclave)
    advance_time(system.w3, PAST_DEADLINE_S)
    assert jobs.submit(ctx) == []
    with Session(ctx.engine) as session:
        rows = session.exec(select(ProposalRow).order_by(ProposalRow.id)).all()
    assert [(r.id, r.state, r.error) for r in rows] == [
        (submitted, ProposalState.EXPIRED, "deadline passed before relaying"),
        (signed, ProposalState.EXPIRED, "deadline passed before relaying")]
    assert system.relay.nonce(submitted_update.enclave) == nonce
