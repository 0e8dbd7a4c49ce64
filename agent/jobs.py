"""The agent's jobs, each one idempotent step of the cycle: ingest → decide (in the enclave)
→ submit → execute, plus reconcile (chain events → proposal states). The scheduler (service.py)
and the demo call the same functions; each commits its own results, so a crash between any
two lines leaves the store consistent and the next run picks up from there."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from sqlmodel import Session, col, func, select
from web3 import Web3

from agent.registration import schedule_registration
from agent.store import (
    AttestationRow,
    CursorRow,
    DecisionRow,
    MarketSnapshotRow,
    PricePointRow,
    ProposalRow,
    ProposalState,
    transition,
)
from chain.deployment import Deployment
from chain.errors import ContractRevert
from chain.events import read_events
from chain.node import latest_timestamp
from chain.reader import MarketReader, ReserveState
from chain.steward import OperationState, StewardClient
from chain.transact import call
from chain.update import ParameterUpdate, update_hash
from enclave.client import EnclaveClient
from enclave.decision import DecisionInputs
from strategies.bounds import Bound, Bounds, Param, ParamState
from strategies.types import AssetHistory, BorrowerPosition, MarketHistory, RiskParams, canonical_json

log = logging.getLogger("risk_agent")
DEFAULT_DEPTH_USD = 5e6
PARAM_FIELDS = tuple(RiskParams.__dataclass_fields__)


def checkpoint(name: str) -> None:
    """Test hook for crash tests: with RISK_AGENT_PAUSE_AT=name the process stops here (so a
    test can kill -9 it at exactly this point). Does nothing otherwise."""
    if os.environ.get("RISK_AGENT_PAUSE_AT") == name:
        log.warning("paused", extra={"fields": {"checkpoint": name}})
        for handler in logging.getLogger().handlers + log.handlers:
            handler.flush()
        time.sleep(3_600)


def params_of(reserve: ReserveState | dict) -> RiskParams:
    values = reserve if isinstance(reserve, dict) else asdict(reserve)
    return RiskParams(
        values["ltv_bps"], values["liquidation_threshold_bps"], values["liquidation_bonus_bps"],
        values["supply_cap_tokens"], values["borrow_cap_tokens"], values["reserve_factor_bps"],
        values["optimal_usage_ratio_bps"], values["base_variable_borrow_rate_bps"],
        values["variable_rate_slope1_bps"], values["variable_rate_slope2_bps"],
    )


@dataclass
class AgentContext:
    """Everything a job needs, built once by the service (or the demo)."""

    engine: object
    w3: Web3
    deployment: Deployment
    relay: StewardClient
    enclave: EnclaveClient
    assets: list[str]
    governance: StewardClient | None = None  # set when new enclave keys may be registered automatically
    liquidity_depth_usd: dict[str, float] = field(default_factory=dict)
    window_hours: int = 24 * 120
    positions: Callable[[], tuple[BorrowerPosition, ...]] = lambda: ()
    reader: MarketReader | None = None

    def __post_init__(self) -> None:
        if self.reader is None:
            self.reader = MarketReader(self.w3, self.deployment.market)


# ------------------------------------------------------------------ ingest

def ingest(ctx: AgentContext) -> int:
    """Stores one market snapshot per block (a second read of the same block is skipped)."""
    snapshot = ctx.reader.read()
    with Session(ctx.engine, expire_on_commit=False) as session:
        if session.exec(select(MarketSnapshotRow).where(MarketSnapshotRow.block_number == snapshot.block_number)).first():
            return snapshot.block_number
        session.add(MarketSnapshotRow(chain_id=snapshot.chain_id, block_number=snapshot.block_number,
                                      block_timestamp=snapshot.block_timestamp,
                                      reserves_json=json.dumps([asdict(r) for r in snapshot.reserves])))
        for reserve in snapshot.reserves:
            session.add(PricePointRow(asset_symbol=reserve.symbol, timestamp_s=snapshot.block_timestamp,
                                      price_usd=reserve.price_usd_e8 / 1e8, utilization=reserve.utilization, source="chain"))
        session.commit()
    log.info("ingested", extra={"fields": {"block": snapshot.block_number, "reserves": len(snapshot.reserves)}})
    return snapshot.block_number


def backfill(ctx: AgentContext, symbol: str, points: list[tuple[int, float]], source: str) -> int:
    """Adds earlier prices (a CSV, Chainlink rounds) so a fresh service has a full window."""
    with Session(ctx.engine, expire_on_commit=False) as session:
        existing = session.exec(select(func.count()).select_from(PricePointRow).where(
            PricePointRow.asset_symbol == symbol, PricePointRow.source == source)).one()
        if existing:
            return 0
        session.add_all(PricePointRow(asset_symbol=symbol, timestamp_s=t, price_usd=p, source=source) for t, p in points)
        session.commit()
    return len(points)


# ------------------------------------------------------------------ enclave

def ensure_enclave(ctx: AgentContext) -> AttestationRow | None:
    """Attests the enclave (fresh nonce) if not yet trusted, stores the document, and checks the
    key's registration on chain; schedules it when allowed. Returns the row once registered."""
    if ctx.enclave.attested is None:
        attested = ctx.enclave.attest()
        with Session(ctx.engine, expire_on_commit=False) as session:
            session.add(AttestationRow(document=ctx.enclave.document, document_sha256=attested.document_sha256.hex(),
                                       enclave_address=attested.enclave_address, measurement=attested.measurement.hex()))
            session.commit()
        log.info("enclave attested", extra={"fields": {"address": attested.enclave_address}})
    address = ctx.enclave.attested.enclave_address
    with Session(ctx.engine, expire_on_commit=False) as session:
        row = session.exec(select(AttestationRow).where(AttestationRow.enclave_address == address)
                           .order_by(col(AttestationRow.id).desc())).first()
        registered_at = call(ctx.relay.steward.functions.enclaves(address))[2]
        if registered_at:
            if row.registration_state != "executed":
                row.registration_state = "executed"
                session.add(row)
                session.commit()
                session.refresh(row)
            return row
        if ctx.governance is not None and row.registration_state == "unregistered":
            operation_id = schedule_registration(ctx.governance, ctx.enclave.attested)
            row.registration_operation_id = "0x" + operation_id.hex()
            row.registration_state = "scheduled"
            session.add(row)
            session.commit()
            log.info("enclave registration scheduled", extra={"fields": {"operation": row.registration_operation_id}})
    return None


# ------------------------------------------------------------------ decide

def _bounds(ctx: AgentContext, asset: str) -> Bounds:
    steward = ctx.relay.steward
    limits = {p: Bound(*call(steward.functions.getBound(int(p)))) for p in Param}
    last = {p: int(call(steward.functions.lastUpdatedAt(asset, int(p)))) for p in Param}
    return Bounds(limits, {p: ParamState(last_executed_at=t) for p, t in last.items() if t})


def decision_inputs(ctx: AgentContext, session: Session, first_nonce: int) -> DecisionInputs | None:
    """The decision's inputs, from the store only: the latest snapshot and the price window."""
    snapshot = session.exec(select(MarketSnapshotRow).order_by(col(MarketSnapshotRow.block_number).desc())).first()
    if snapshot is None:
        return None
    reserves = {r["symbol"]: r for r in json.loads(snapshot.reserves_json)}
    as_of = snapshot.block_timestamp
    assets, current, bounds, addresses = [], {}, {}, {}
    for symbol in ctx.assets:
        reserve = reserves.get(symbol)
        if reserve is None:
            continue
        points = session.exec(select(PricePointRow).where(
            PricePointRow.asset_symbol == symbol, PricePointRow.timestamp_s <= as_of,
            PricePointRow.timestamp_s >= as_of - ctx.window_hours * 3_600).order_by(PricePointRow.timestamp_s)).all()
        times, prices, utilization = [], [], []
        for point in points:
            if times and point.timestamp_s <= times[-1]:
                continue  # one price per second; chain points win over a backfill at the same time
            times.append(point.timestamp_s)
            prices.append(point.price_usd)
            if point.utilization is not None:
                utilization.append(point.utilization)
        decimals = reserve["decimals"]
        assets.append(AssetHistory(symbol, tuple(times), tuple(prices), ctx.liquidity_depth_usd.get(symbol, DEFAULT_DEPTH_USD),
                                   reserve["total_supplied_raw"] / 10**decimals, reserve["total_borrowed_raw"] / 10**decimals,
                                   tuple(utilization[-24 * 7:])))
        current[symbol] = params_of(reserve)
        bounds[symbol] = _bounds(ctx, reserve["asset"])
        addresses[symbol] = reserve["asset"]
    history = MarketHistory(as_of, tuple(assets), ctx.positions())
    return DecisionInputs(ctx.w3.eth.chain_id, ctx.deployment.steward, first_nonce, addresses, history, current, bounds)


def decide(ctx: AgentContext) -> list[int]:
    """Asks the (attested, registered) enclave for a decision and stores it with its exact
    inputs and every signed update, all in one transaction."""
    attestation = ensure_enclave(ctx)
    if attestation is None:
        log.info("decision skipped: enclave key not registered yet")
        return []
    address = attestation.enclave_address
    with Session(ctx.engine, expire_on_commit=False) as session:
        used = session.exec(select(func.max(ProposalRow.nonce)).where(ProposalRow.enclave_address == address)).one()
        inputs = decision_inputs(ctx, session, (used or 0) + 1)
    if inputs is None:
        return []
    decision = ctx.enclave.decide(inputs)
    with Session(ctx.engine, expire_on_commit=False) as session:
        row = DecisionRow(inputs_hash=decision.inputs_hash.hex(), inputs_canonical=inputs.canonical_bytes(),
                          recommendation_json=decision.recommendation_json, enclave_address=address,
                          measurement=ctx.enclave.expected_measurement.hex(), attestation_id=attestation.id)
        session.add(row)
        session.flush()
        proposals = []
        symbol_of = {v: k for k, v in inputs.asset_addresses.items()}
        for signed in decision.updates:
            symbol = symbol_of[signed.update.asset]
            before = asdict(inputs.current[symbol])
            after = dict(before)
            for param, value in zip(signed.update.params, signed.update.values, strict=True):
                after[PARAM_FIELDS[param]] = value
            proposal = ProposalRow(
                decision_id=row.id, asset_symbol=symbol, asset_address=signed.update.asset, state=ProposalState.SIGNED,
                update_json=canonical_json(signed.update.as_json()).decode(), nonce=signed.update.nonce,
                deadline=signed.update.deadline, enclave_address=address, signature="0x" + signed.signature.hex(),
                params_before_json=json.dumps(before), params_after_json=json.dumps(after))
            session.add(proposal)
            proposals.append(proposal)
        session.commit()
        ids = [p.id for p in proposals]
    log.info("decided", extra={"fields": {"decision": row.id, "signed_updates": len(ids)}})
    return ids


# ------------------------------------------------------------------ submit / execute / reconcile

def submit(ctx: AgentContext) -> list[int]:
    """Relays signed updates. A proposal is marked `submitted` before its transaction is sent;
    on restart the steward's `operationOf(updateHash)` tells whether it landed, so nothing is
    lost and nothing is relayed twice (a second relay would be a no-op on chain anyway)."""
    queued = []
    now = latest_timestamp(ctx.w3)
    with Session(ctx.engine, expire_on_commit=False) as session:
        pending = session.exec(select(ProposalRow).where(
            col(ProposalRow.state).in_([ProposalState.SIGNED, ProposalState.SUBMITTED])).order_by(ProposalRow.id)).all()
        for proposal in pending:
            update = ParameterUpdate.from_json(json.loads(proposal.update_json))
            signature = bytes.fromhex(proposal.signature.removeprefix("0x"))
            digest = update_hash(update, ctx.deployment.steward)
            existing = bytes(call(ctx.relay.steward.functions.operationOf(digest)))
            if existing != b"\x00" * 32:
                transition(session, proposal, ProposalState.QUEUED, update_hash="0x" + digest.hex(),
                           operation_id="0x" + existing.hex(), eta=ctx.relay.operation_eta(existing))
                queued.append(proposal.id)
                continue
            if update.deadline < now:
                transition(session, proposal, ProposalState.EXPIRED, error="deadline passed before relaying")
                continue
            if proposal.state == ProposalState.SIGNED:
                transition(session, proposal, ProposalState.SUBMITTED, update_hash="0x" + digest.hex())
            checkpoint("submit_marked")
            try:
                result = ctx.relay.submit(update, signature)
            except ContractRevert as revert:
                transition(session, proposal, ProposalState.FAILED, error=str(revert))
                log.warning("submit refused", extra={"fields": {"proposal": proposal.id, "error": revert.name}})
                continue
            checkpoint("submit_sent")
            transition(session, proposal, ProposalState.QUEUED, operation_id="0x" + result.operation_id.hex(),
                       submit_tx=result.transaction_hash, eta=ctx.relay.operation_eta(result.operation_id))
            queued.append(proposal.id)
            log.info("queued", extra={"fields": {"proposal": proposal.id, "operation": proposal.operation_id}})
    return queued


def _operation(ctx: AgentContext, proposal: ProposalRow):
    if proposal.submit_tx:
        return ctx.relay.operation_from_transaction(proposal.submit_tx)
    target = bytes.fromhex(proposal.operation_id.removeprefix("0x"))
    return next((o for o in ctx.relay.scheduled_operations() if o.operation_id == target), None)


def execute(ctx: AgentContext) -> list[int]:
    """Executes queued proposals whose delay has passed (and scheduled enclave registrations)."""
    now = latest_timestamp(ctx.w3)
    executed = []
    with Session(ctx.engine, expire_on_commit=False) as session:
        for proposal in session.exec(select(ProposalRow).where(ProposalRow.state == ProposalState.QUEUED)).all():
            if proposal.eta is None or proposal.eta > now:
                continue
            operation_id = bytes.fromhex(proposal.operation_id.removeprefix("0x"))
            state = ctx.relay.operation_state(operation_id)
            if state is OperationState.READY:
                operation = _operation(ctx, proposal)
                transition(session, proposal, ProposalState.EXECUTED, execute_tx=ctx.relay.execute(operation))
                executed.append(proposal.id)
            elif state is OperationState.DONE:
                transition(session, proposal, ProposalState.EXECUTED)
                executed.append(proposal.id)
        scheduled = session.exec(select(AttestationRow).where(AttestationRow.registration_state == "scheduled")).all()
        for row in scheduled:
            operation_id = bytes.fromhex(row.registration_operation_id.removeprefix("0x"))
            if ctx.relay.operation_state(operation_id) is OperationState.READY:
                operation = next(o for o in ctx.relay.scheduled_operations() if o.operation_id == operation_id)
                ctx.relay.execute(operation)
                row.registration_state = "executed"
                session.add(row)
                session.commit()
                log.info("enclave registration executed", extra={"fields": {"address": row.enclave_address}})
    return executed


def reconcile(ctx: AgentContext) -> int:
    """Chain events → proposal states: a guardian's cancel, an execution by someone else."""
    head = ctx.w3.eth.block_number
    changed = 0
    with Session(ctx.engine, expire_on_commit=False) as session:
        cursor = session.get(CursorRow, "reconcile") or CursorRow(name="reconcile", block_number=ctx.deployment.deployed_at_block)
        if cursor.block_number > head:
            return 0
        events = read_events(ctx.w3, ctx.deployment, cursor.block_number, head)
        by_operation = {p.operation_id: p for p in session.exec(select(ProposalRow).where(
            ProposalRow.state == ProposalState.QUEUED)).all()}
        for event in events:
            proposal = by_operation.get(event.args.get("id"))
            if proposal is None or proposal.state != ProposalState.QUEUED:
                continue
            if event.name == "Cancelled":
                transition(session, proposal, ProposalState.CANCELLED, cancel_tx=event.transaction_hash)
                changed += 1
            elif event.name == "CallExecuted":
                transition(session, proposal, ProposalState.EXECUTED, execute_tx=event.transaction_hash)
                changed += 1
        cursor.block_number = head + 1
        session.add(cursor)
        session.commit()
    return changed
