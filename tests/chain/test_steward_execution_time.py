"""When an update took effect, as the agent records it: `executed_at_s` is the chain time of
the block that executed it, whichever job learns of the execution (submit on the fast path,
execute, or reconcile / execute after someone else ran it), never the ETA or the job's own
time. Both backends, the agent's own jobs and store (here for the `system` fixture)."""

from __future__ import annotations

import json

from sqlmodel import Session

from agent import jobs
from agent.store import DecisionRow, ProposalRow, ProposalState
from chain.node import advance_time
from strategies.params import Param
from tests.chain.conftest import MIN_DELAY_SECONDS, System
from tests.chain.test_steward_supersede import context, queue

LATE_S = 7_200  # how long after its ETA (or its execution) the job runs


def block_time_of(system: System, transaction_hash: str) -> int:
    """The timestamp of the block that holds the transaction, read from the chain."""
    block = system.w3.eth.get_transaction_receipt(transaction_hash)["blockNumber"]
    return int(system.w3.eth.get_block(block)["timestamp"])


def signed_row(system: System, engine, changes: dict[Param, int], state=ProposalState.SIGNED) -> tuple[object, int]:
    """A decision and its signed update as the decide job stores them: (update, proposal id)."""
    update = system.update("WETH", changes)
    with Session(engine) as session:
        decision = DecisionRow(inputs_hash="ab" * 32, inputs_canonical=f"inputs on {system.backend}".encode(),
                               recommendation_json="{}", enclave_address=update.enclave, measurement="cd" * 48)
        session.add(decision)
        session.flush()
        row = ProposalRow(
            decision_id=decision.id, asset_symbol="WETH", asset_address=update.asset, state=state,
            update_json=json.dumps(update.as_json()), nonce=update.nonce, deadline=update.deadline,
            enclave_address=update.enclave, signature="0x" + system.sign(update).hex(), params_before_json="{}",
            params_after_json="{}", path="fast")
        session.add(row)
        session.commit()
        return update, row.id


def stored(ctx, proposal_id: int) -> ProposalRow:
    with Session(ctx.engine) as session:
        return session.get(ProposalRow, proposal_id)


def test_the_fast_path_takes_effect_at_its_submit_block(system: System, tmp_path):
    """LTV 8050 -> 8040 (tightening) relayed by the submit job: executed at once, at the time of
    the block that holds the submit transaction."""
    ctx = context(system, tmp_path)
    _, proposal = signed_row(system, ctx.engine, {Param.LTV: 8_040})
    assert jobs.submit(ctx) == [proposal]
    row = stored(ctx, proposal)
    assert (row.state, row.path, row.execute_tx) == (ProposalState.EXECUTED, "fast", row.submit_tx)
    assert row.executed_at_s == block_time_of(system, row.submit_tx)


def test_a_fast_update_found_applied_after_a_crash_keeps_its_block_time(system: System, tmp_path):
    """The job marked the proposal submitted and the transaction landed, but the job died before
    storing it; 20 minutes later (inside the update's one-hour deadline) the next run finds it
    applied (nothing resent) and records the time of the block that applied it, not its own."""
    ctx = context(system, tmp_path)
    update, proposal = signed_row(system, ctx.engine, {Param.LTV: 8_040}, state=ProposalState.SUBMITTED)
    landed = system.submit(update)
    advance_time(system.w3, 1_200)
    assert jobs.submit(ctx) == [proposal]
    row = stored(ctx, proposal)
    assert (row.state, row.submit_tx) == (ProposalState.EXECUTED, None)
    assert row.executed_at_s == block_time_of(system, landed.transaction_hash)


def test_the_execute_job_records_its_block_not_the_eta(system: System, tmp_path):
    """LB 10500 -> 10550 queued; the execute job runs LATE_S after the ETA: the update took
    effect at the execution's block, at least ETA + LATE_S."""
    ctx = context(system, tmp_path)
    scheduled, proposal = queue(system, ctx.engine, {Param.LIQUIDATION_BONUS: 10_550})
    advance_time(system.w3, MIN_DELAY_SECONDS + LATE_S)
    assert jobs.execute(ctx) == [proposal]
    row = stored(ctx, proposal)
    assert row.executed_at_s == block_time_of(system, row.execute_tx)
    assert row.executed_at_s >= scheduled.ready_at + LATE_S


def executed_by_someone_else(system: System, ctx):
    """A queued bonus raise that anyone executes once ready; the agent looks LATE_S later.
    Returns the proposal, the execution's receipt and its block time."""
    scheduled, proposal = queue(system, ctx.engine, {Param.LIQUIDATION_BONUS: 10_550})
    advance_time(system.w3, MIN_DELAY_SECONDS)
    receipt = system.execute(scheduled)
    executed_at = int(system.w3.eth.get_block(receipt["blockNumber"])["timestamp"])
    advance_time(system.w3, LATE_S)
    return proposal, receipt, executed_at


def test_an_execution_by_someone_else_is_dated_by_its_event(system: System, tmp_path):
    """Anyone executes the ready operation; reconcile runs LATE_S later and records the
    event's block time (and transaction), not its own."""
    ctx = context(system, tmp_path)
    proposal, receipt, executed_at = executed_by_someone_else(system, ctx)
    assert jobs.reconcile(ctx) == 1
    row = stored(ctx, proposal)
    assert (row.state, row.execute_tx) == (ProposalState.EXECUTED, "0x" + bytes(receipt["transactionHash"]).hex())
    assert row.executed_at_s == executed_at


def test_the_execute_job_dates_an_operation_someone_else_already_ran(system: System, tmp_path):
    """As above, but the execute job sees the operation done before reconcile does: the time
    and the transaction come from the steward's UpdateExecuted log."""
    ctx = context(system, tmp_path)
    proposal, receipt, executed_at = executed_by_someone_else(system, ctx)
    assert jobs.execute(ctx) == [proposal]
    row = stored(ctx, proposal)
    assert (row.state, row.executed_at_s) == (ProposalState.EXECUTED, executed_at)
    assert row.execute_tx == "0x" + bytes(receipt["transactionHash"]).hex()
