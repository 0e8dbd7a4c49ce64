"""A fast-path cut supersedes the operation pending on its parameter, as the agent sees it:
the steward emits PendingSuperseded, the reconcile job fails the queued proposal with the
reason, and executing it is refused by name. Both backends, the agent's own jobs and store."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session
from web3.logs import DISCARD

from agent import jobs
from agent.jobs import AgentContext
from agent.store import ProposalRow, ProposalState, make_engine
from chain.errors import ContractRevert
from chain.node import advance_time
from strategies.bounds import ParamState
from strategies.params import Param
from tests.chain.conftest import System


def queue(system: System, engine, changes: dict[Param, int]):
    """Relays a slow update and writes the store row the submit job writes for it:
    (submit result, proposal id)."""
    update = system.update("WETH", changes)
    result = system.submit(update)
    row = ProposalRow(
        decision_id=0, asset_symbol="WETH", asset_address=update.asset, state=ProposalState.QUEUED,
        update_json=json.dumps(update.as_json()), nonce=update.nonce, deadline=update.deadline,
        enclave_address=update.enclave, signature="0x", params_before_json="{}", params_after_json="{}", path="slow",
        update_hash="0x" + result.update_hash.hex(), operation_id="0x" + result.operation.operation_id.hex(),
        eta=result.ready_at)
    with Session(engine) as session:
        session.add(row)
        session.commit()
        return result, row.id


def context(system: System, tmp_path) -> AgentContext:
    return AgentContext(engine=make_engine(str(tmp_path / "agent.sqlite")), w3=system.w3,
                        deployment=system.deployment.to_deployment(), relay=system.relay, enclave=None, assets=["WETH"])


def test_reconcile_fails_the_superseded_proposal_with_the_reason(system: System, tmp_path):
    """LTV 8050 -> 8060 queued (proposal 1), LB 10500 -> 10550 queued (proposal 2), then LTV
    8050 -> 8040 at once: reconcile reads PendingSuperseded(WETH, 0, ready) and fails proposal
    1 only (1 change); proposal 2 stays queued and executes when ready."""
    ctx = context(system, tmp_path)
    raise_ltv, first = queue(system, ctx.engine, {Param.LTV: 8_060})
    _, second = queue(system, ctx.engine, {Param.LIQUIDATION_BONUS: 10_550})
    cut = system.propose("WETH", {Param.LTV: 8_040})
    superseded = system.steward.events.PendingSuperseded().process_receipt(
        system.w3.eth.get_transaction_receipt(cut.transaction_hash), errors=DISCARD)
    assert [(e.args.param, e.args.pendingReadyAt) for e in superseded] == [(int(Param.LTV), raise_ltv.ready_at)]

    assert jobs.reconcile(ctx) == 1
    with Session(ctx.engine) as session:
        failed, waiting = session.get(ProposalRow, first), session.get(ProposalRow, second)
        assert failed.state == ProposalState.FAILED and failed.error.startswith("superseded by a fast-path update (transaction 0x")
        assert waiting.state == ProposalState.QUEUED
    advance_time(system.w3, 61)
    assert jobs.execute(ctx) == [second]
    params = system.aave_params("WETH")
    assert (params[Param.LTV], params[Param.LIQUIDATION_BONUS]) == (8_040, 10_550)


def test_executing_a_superseded_update_is_refused_by_name_and_the_job_fails_it(system: System, tmp_path):
    """Without reconcile first: the execute job's relay is refused with OperationSuperseded(0)
    and the proposal ends failed; LTV stays at the cut's 8040."""
    ctx = context(system, tmp_path)
    raise_ltv, proposal = queue(system, ctx.engine, {Param.LTV: 8_060})
    cut = system.propose("WETH", {Param.LTV: 8_040})
    cut_at = system.w3.eth.get_block(system.w3.eth.get_transaction_receipt(cut.transaction_hash)["blockNumber"])["timestamp"]
    # The relay's view: only LTV has a state (executed at the cut, nothing pending), the rest none.
    assert system.relay.state(raise_ltv.operation.asset, system.enclave.address).bounds.state == {
        Param.LTV: ParamState(last_executed_at=cut_at, pending_ready_at=0)}
    advance_time(system.w3, 61)
    with pytest.raises(ContractRevert) as refused:
        system.execute(raise_ltv)
    assert (refused.value.name, refused.value.args_decoded) == ("OperationSuperseded", (int(Param.LTV),))
    assert jobs.execute(ctx) == []
    with Session(ctx.engine) as session:
        row = session.get(ProposalRow, proposal)
        assert (row.state, row.error) == (ProposalState.FAILED, "superseded by a fast-path update: it can no longer execute")
    assert system.aave_params("WETH")[Param.LTV] == 8_040
