"""The agent's jobs, each one idempotent step of the cycle: ingest -> decide (in the enclave)
-> submit -> execute, plus reconcile (chain events -> proposal states). The scheduler
(service.py) and the demo call the same functions; each commits its own results, so a crash
between any two lines leaves the store consistent and the next run picks up from there.

Ingest stores every feed round (its own `updatedAt`, whatever the ingest cadence), the
reserves' utilization and the accounts the pool's events name; decide reads everything else
at one anchor block and asks the attested enclave; submit publishes the canonical inputs and
relays the signed updates in nonce order (a tightening-only update is applied at once, the
rest is scheduled in the timelock); execute runs ready operations; reconcile learns vetoes and
executions by others."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field

from sqlalchemy import func as sql_func
from sqlalchemy import select as sql_select
from sqlmodel import Session, col, select
from web3 import Web3

from agent.market_inputs import AnchorReader, feed_source, store_prices
from agent.registration import schedule_registration
from agent.store import (
    AttestationRow,
    BorrowerAccountRow,
    CursorRow,
    DecisionRow,
    MarketSnapshotRow,
    PricePointRow,
    ProposalRow,
    ProposalState,
    UtilizationPointRow,
    transition,
)
from chain.deployment import Deployment
from chain.errors import ContractRevert
from chain.events import read_events
from chain.feeds import rounds_since
from chain.node import latest_timestamp
from chain.positions import DiscoveryCursor, PositionReader, discover_accounts
from chain.reader import MarketReader, MarketSnapshot
from chain.steward import GovernanceBatch, OperationState, RegistrarClient, StewardClient, SubmitPath
from chain.update import ParameterUpdate
from enclave.client import EnclaveClient
from strategies.bounds import is_tightening_only
from strategies.config import StrategyConfig, default_config
from strategies.inputs import HOUR_S
from strategies.types import canonical_json

log = logging.getLogger("risk_agent")
# The steward refuses these for good: the update can never land; a new decision replaces it.
EXPIRED_REVERTS = frozenset({"UpdateExpired", "AnchorBlockUnavailable", "OperationExpired"})


@dataclass
class AgentContext:
    """Everything a job needs, built once by the service (or the demo)."""

    engine: object
    w3: Web3
    deployment: Deployment
    relay: StewardClient
    enclave: EnclaveClient
    assets: list[str]
    registrar: RegistrarClient | None = None  # set when new enclave keys may be proposed automatically
    liquidity_depth_usd: dict[str, float] = field(default_factory=dict)
    config: StrategyConfig = field(default_factory=default_config)
    reader: MarketReader | None = None
    positions: PositionReader | None = None

    def __post_init__(self) -> None:
        if self.reader is None:
            self.reader = reader_for(self.w3, self.deployment, self.assets)
        if self.positions is None:
            self.positions = PositionReader(self.w3, self.reader.market)

    def anchor_reader(self) -> AnchorReader:
        return AnchorReader(
            w3=self.w3, reader=self.reader, assets=list(self.assets), config=self.config,
            prices=store_prices(self.engine), steward=self.relay,
            positions=self.positions, accounts=lambda: known_accounts(self.engine),
            fallback_depth_usd=self.liquidity_depth_usd,
        )


def reader_for(w3: Web3, deployment: Deployment, assets: list[str]) -> MarketReader:
    """A reader of the governed reserves and the reserves their DEX pairs are quoted in (the
    second price needs the quote's feed); reading every reserve costs more on every ingest."""
    everything = MarketReader.from_deployment(w3, deployment)
    quotes = {everything.pair_quote_symbol(symbol) for symbol in assets} - {None}
    wanted = tuple(dict.fromkeys([*assets, *sorted(quotes)]))
    return MarketReader.from_deployment(w3, deployment, wanted)


# ------------------------------------------------------------------ ingest


def _snapshot_json(snapshot: MarketSnapshot) -> str:
    return json.dumps([{**asdict(r), "params": r.params.as_dict()} for r in snapshot.reserves], default=str)


def ingest_rounds(ctx: AgentContext, snapshot: MarketSnapshot) -> int:
    """Every feed round since the last one stored (walking back through `getRoundData`, so no
    round is missed whatever the ingest cadence); returns how many were added."""
    added = 0
    since = snapshot.block_timestamp - (ctx.config.window.history_hours + ctx.config.window.max_carry_hours + 1) * HOUR_S
    with Session(ctx.engine, expire_on_commit=False) as session:
        for symbol in ctx.assets:
            reserve = snapshot.reserve(symbol)
            if reserve.feed_round is None:
                continue
            source = feed_source(reserve.feed_round.feed)
            last = session.execute(
                sql_select(PricePointRow.round_id, PricePointRow.timestamp_s)
                .where(PricePointRow.asset_symbol == symbol, PricePointRow.source == source)
                .order_by(col(PricePointRow.timestamp_s).desc(), col(PricePointRow.id).desc()).limit(1)
            ).first()
            last_round = int(last[0]) if last is not None else 0
            if reserve.feed_round.round_id <= last_round:
                continue
            rounds = rounds_since(ctx.w3, ctx.reader.multicall, reserve.feed_round.feed, reserve.feed_round.round_id,
                                  since, snapshot.block_number, after_round_id=last_round)
            scale = 10**rounds.decimals
            session.add_all(
                PricePointRow(asset_symbol=symbol, timestamp_s=r.updated_at, price_usd=r.answer / scale, source=source,
                              round_id=str(r.round_id), block_number=snapshot.block_number)
                for r in rounds.rounds
            )
            added += len(rounds.rounds)
        session.commit()
    return added


def ingest(ctx: AgentContext) -> int:
    """One snapshot per block (a second read of the same block is skipped), every new feed
    round, each reserve's utilization, and the accounts new pool events name."""
    snapshot = ctx.reader.read()
    with Session(ctx.engine, expire_on_commit=False) as session:
        if session.exec(select(MarketSnapshotRow).where(MarketSnapshotRow.block_number == snapshot.block_number)).first():
            return snapshot.block_number
        session.add(MarketSnapshotRow(chain_id=snapshot.chain_id, block_number=snapshot.block_number,
                                      block_timestamp=snapshot.block_timestamp, reserves_json=_snapshot_json(snapshot)))
        for symbol in ctx.assets:
            session.add(UtilizationPointRow(asset_symbol=symbol, timestamp_s=snapshot.block_timestamp,
                                            block_number=snapshot.block_number,
                                            utilization=snapshot.reserve(symbol).utilization))
        session.commit()
    rounds = ingest_rounds(ctx, snapshot)
    accounts = discover(ctx, snapshot.block_number)
    log.info("ingested", extra={"fields": {"block": snapshot.block_number, "rounds": rounds, "new_accounts": accounts}})
    return snapshot.block_number


def discover(ctx: AgentContext, to_block: int) -> int:
    """Accounts named by pool events since the last scan (the cursor lives in the store)."""
    with Session(ctx.engine, expire_on_commit=False) as session:
        cursor = session.get(CursorRow, "positions") or CursorRow(name="positions",
                                                                  block_number=ctx.deployment.deployed_at_block)
        if cursor.block_number > to_block:
            return 0
        known = set(session.execute(sql_select(BorrowerAccountRow.account)).scalars())
        found = discover_accounts(ctx.w3, ctx.reader.market, DiscoveryCursor(cursor.block_number), to_block)
        new = sorted(found.accounts - known)
        session.add_all(BorrowerAccountRow(account=a, first_seen_block=to_block) for a in new)
        cursor.block_number = found.next_block
        session.add(cursor)
        session.commit()
    return len(new)


def known_accounts(engine) -> list[str]:
    with Session(engine) as session:
        return list(session.execute(sql_select(BorrowerAccountRow.account).order_by(BorrowerAccountRow.account)).scalars())


def backfill(ctx: AgentContext, symbol: str, timestamps_s, prices_usd, source: str) -> int:
    """Earlier prices from a file (named by its SHA-256 in `source`), so a fresh service has a
    full window; only points before the feed's first stored round are ever used."""
    with Session(ctx.engine, expire_on_commit=False) as session:
        existing = session.exec(select(sql_func.count()).select_from(PricePointRow).where(
            PricePointRow.asset_symbol == symbol, PricePointRow.source == source)).one()
        if existing:
            return 0
        session.add_all(PricePointRow(asset_symbol=symbol, timestamp_s=int(t), price_usd=float(p), source=source)
                        for t, p in zip(timestamps_s, prices_usd, strict=True))
        session.commit()
    return len(prices_usd)


# ------------------------------------------------------------------ enclave


def ensure_enclave(ctx: AgentContext) -> AttestationRow | None:
    """Attests the enclave (fresh nonce) if not yet trusted, stores the document, and checks the
    key's registration on chain; proposes it through the registrar when allowed. Returns the
    row once the key is registered."""
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
        registered_at = ctx.relay.steward.functions.enclaves(address).call()[2]
        if registered_at:
            if row.registration_state != "executed":
                row.registration_state = "executed"
                session.add(row)
                session.commit()
                session.refresh(row)
            return row
        if ctx.registrar is not None and row.registration_state == "unregistered":
            batch = schedule_registration(ctx.registrar, ctx.enclave.attested, ctx.enclave.document)
            row.registration_operation_id = "0x" + batch.operation_id.hex()
            row.registration_state = "scheduled"
            session.add(row)
            session.commit()
            log.info("enclave registration scheduled", extra={"fields": {"operation": row.registration_operation_id}})
    return None


# ------------------------------------------------------------------ decide


def decision_due_at(ctx: AgentContext, last_anchor_s: int | None) -> int:
    """When the next decision is due (chain time): one decision interval after the last one's
    anchor, less 1% (a block lands a few seconds either side of the mark). The service checks
    often; restarts keep the cadence, since it is read from the store."""
    if last_anchor_s is None:
        return 0
    interval = ctx.config.window.decision_interval_s
    return int(last_anchor_s + interval - max(interval // 100, 30))


def decide(ctx: AgentContext) -> list[int]:
    """Reads the inputs at one anchor block, asks the (attested, registered) enclave, and stores
    the decision with its canonical inputs and every signed update, in one transaction."""
    attestation = ensure_enclave(ctx)
    if attestation is None:
        log.info("decision skipped: enclave key not registered yet")
        return []
    with Session(ctx.engine) as session:
        in_flight = session.exec(select(sql_func.count()).select_from(ProposalRow).where(
            col(ProposalRow.state).in_([ProposalState.SIGNED, ProposalState.SUBMITTED]))).one()
        last = session.exec(select(sql_func.max(DecisionRow.anchor_timestamp))).one()
    due = decision_due_at(ctx, last)
    now = latest_timestamp(ctx.w3)
    if now < due:
        log.info("decision not due yet", extra={"fields": {"due_at": due, "chain_time": now}})
        return []
    if in_flight:
        # The nonces of a new decision would collide with the unrelayed ones (read at the same
        # counter): relay (or expire) those first.
        log.info("decision skipped: earlier updates are still being relayed", extra={"fields": {"in_flight": in_flight}})
        return []
    address = attestation.enclave_address
    snapshot = ctx.reader.read()
    ingest_rounds(ctx, snapshot)  # the feed's rounds up to the anchor block are in the store
    inputs = ctx.anchor_reader().read(address, snapshot.block_number, snapshot)
    decision = ctx.enclave.decide(inputs)
    canonical = inputs.canonical_bytes()
    with Session(ctx.engine, expire_on_commit=False) as session:
        row = DecisionRow(inputs_hash=decision.inputs_hash.hex(), inputs_canonical=canonical,
                          recommendation_json=decision.recommendation_json, enclave_address=address,
                          measurement=ctx.enclave.expected_measurement.hex(), attestation_id=attestation.id,
                          config_hash=json.loads(decision.recommendation_json).get("config_hash", ""),
                          anchor_block=inputs.anchor.block_number, anchor_timestamp=inputs.anchor.timestamp_s)
        session.add(row)
        session.flush()
        proposals = []
        by_address = {a.address: a for a in inputs.assets}
        for signed in decision.updates:
            asset = by_address[signed.update.asset]
            before = asset.params.as_dict()
            changes = dict(zip(signed.update.params, signed.update.values, strict=True))
            after = asset.params.with_changes(changes).as_dict()
            fast = is_tightening_only(asset.params.by_param(), {p: v for p, v in changes.items()})
            proposal = ProposalRow(
                decision_id=row.id, asset_symbol=asset.symbol, asset_address=asset.address, state=ProposalState.SIGNED,
                update_json=canonical_json(signed.update.as_json()).decode(), nonce=signed.update.nonce,
                deadline=signed.update.deadline, enclave_address=address, signature="0x" + signed.signature.hex(),
                params_before_json=json.dumps(before), params_after_json=json.dumps(after),
                path="fast" if fast else "slow")
            session.add(proposal)
            proposals.append(proposal)
        session.commit()
        ids = [p.id for p in proposals]
    log.info("decided", extra={"fields": {"decision": row.id, "anchor_block": inputs.anchor.block_number,
                                          "signed_updates": len(ids)}})
    return ids


# ------------------------------------------------------------------ submit / execute / reconcile


def _publish(ctx: AgentContext, session: Session, decision_id: int) -> None:
    decision = session.get(DecisionRow, decision_id)
    if decision.inputs_publish_tx:
        return
    result = ctx.relay.publish_inputs(decision.inputs_canonical)
    decision.inputs_publish_tx = result.transaction_hash or "already published"
    session.add(decision)
    session.commit()


def submit(ctx: AgentContext) -> list[int]:
    """Publishes each decision's inputs, then relays its signed updates in nonce order. A
    proposal is marked `submitted` before its transaction is sent; on restart the chain says
    whether it landed (an operation in the timelock, or the fast path's UpdateApplied), so
    nothing is lost and nothing is relayed twice."""
    landed = []
    now = latest_timestamp(ctx.w3)
    with Session(ctx.engine, expire_on_commit=False) as session:
        pending = session.exec(select(ProposalRow).where(
            col(ProposalRow.state).in_([ProposalState.SIGNED, ProposalState.SUBMITTED]))
            .order_by(ProposalRow.decision_id, ProposalRow.nonce)).all()
        for proposal in pending:
            update = ParameterUpdate.from_json(json.loads(proposal.update_json))
            signature = bytes.fromhex(proposal.signature.removeprefix("0x"))
            if update.deadline < now:
                # Past its deadline it can no longer be sent; but a submitted one may have landed
                # before the crash that kept us from recording it: the chain says which.
                result = ctx.relay.landed(update) if proposal.state == ProposalState.SUBMITTED else None
                if result is None:
                    transition(session, proposal, ProposalState.EXPIRED, error="deadline passed before relaying")
                    continue
            else:
                _publish(ctx, session, proposal.decision_id)
                if proposal.state == ProposalState.SIGNED:
                    transition(session, proposal, ProposalState.SUBMITTED,
                               update_hash="0x" + ctx.relay.update_hash(update).hex())
                try:
                    result = ctx.relay.submit(update, signature)
                except ContractRevert as revert:
                    state = ProposalState.EXPIRED if revert.name in EXPIRED_REVERTS else ProposalState.FAILED
                    transition(session, proposal, state, error=str(revert))
                    log.warning("submit refused", extra={"fields": {"proposal": proposal.id, "error": revert.name}})
                    continue
            if result.path is SubmitPath.APPLIED:
                transition(session, proposal, ProposalState.EXECUTED, submit_tx=result.transaction_hash,
                           execute_tx=result.transaction_hash, path="fast",
                           executed_at_s=_block_time_s(ctx.w3, result.block_number))
            else:
                transition(session, proposal, ProposalState.QUEUED, operation_id="0x" + result.operation_id.hex(),
                           submit_tx=result.transaction_hash, eta=result.ready_at, path="slow")
            landed.append(proposal.id)
            log.info("relayed", extra={"fields": {"proposal": proposal.id, "path": result.path.value}})
    return landed


def _block_time_s(w3: Web3, block_number: int | None) -> int | None:
    """Chain time (s) of the block that executed an update: when it took effect."""
    return None if block_number is None else int(w3.eth.get_block(block_number)["timestamp"])


def _scheduled(ctx: AgentContext, proposal: ProposalRow):
    update = ParameterUpdate.from_json(json.loads(proposal.update_json))
    return ctx.relay.operation_for(update)


def execute(ctx: AgentContext) -> list[int]:
    """Executes queued proposals whose delay has passed (and scheduled enclave registrations).
    An operation the steward refuses at execution stays queued until its window ends."""
    now = latest_timestamp(ctx.w3)
    window = ctx.deployment.execution_window_seconds or 86_400
    executed = []
    with Session(ctx.engine, expire_on_commit=False) as session:
        for proposal in session.exec(select(ProposalRow).where(ProposalRow.state == ProposalState.QUEUED)).all():
            if proposal.eta is None or proposal.eta > now:
                continue
            operation = _scheduled(ctx, proposal)
            state = ctx.relay.operation_state(operation.operation_id)
            if state is OperationState.DONE:  # executed by someone else before reconcile saw it
                found = ctx.relay.executed_in(operation.update_hash)
                block, transaction = found if found else (None, None)
                transition(session, proposal, ProposalState.EXECUTED, execute_tx=transaction,
                           executed_at_s=_block_time_s(ctx.w3, block))
                executed.append(proposal.id)
            elif state is OperationState.UNSET:
                transition(session, proposal, ProposalState.CANCELLED, error="vetoed (no longer in the timelock)")
            elif now > proposal.eta + window:
                transition(session, proposal, ProposalState.EXPIRED, error="execution window passed")
            elif state is OperationState.READY:
                try:
                    receipt = ctx.relay.execute(operation)
                except ContractRevert as revert:
                    if revert.name == "OperationSuperseded":
                        transition(session, proposal, ProposalState.FAILED,
                                   error="superseded by a fast-path update: it can no longer execute")
                        continue
                    log.warning("execution refused", extra={"fields": {"proposal": proposal.id, "error": revert.name}})
                    continue
                transition(session, proposal, ProposalState.EXECUTED, execute_tx="0x" + bytes(receipt["transactionHash"]).hex(),
                           executed_at_s=_block_time_s(ctx.w3, int(receipt["blockNumber"])))
                executed.append(proposal.id)
        for row in session.exec(select(AttestationRow).where(AttestationRow.registration_state == "scheduled")).all():
            batch = registration_batch(ctx, row)
            if ctx.relay.operation_state(batch.operation_id) is OperationState.READY:
                ctx.relay.execute(batch)
                row.registration_state = "executed"
                session.add(row)
                session.commit()
                log.info("enclave registration executed", extra={"fields": {"address": row.enclave_address}})
    return executed


def registration_batch(ctx: AgentContext, row: AttestationRow) -> GovernanceBatch:
    from agent.registration import registration_batch_for

    return registration_batch_for(ctx.relay, row)


def reconcile(ctx: AgentContext) -> int:
    """Chain events -> proposal states: a guardian's veto, an execution by someone else, a
    fast-path update that superseded a queued one (it can no longer execute)."""
    head = ctx.w3.eth.block_number
    changed = 0
    with Session(ctx.engine, expire_on_commit=False) as session:
        cursor = session.get(CursorRow, "reconcile") or CursorRow(name="reconcile", block_number=ctx.deployment.deployed_at_block)
        if cursor.block_number > head:
            return 0
        events = read_events(ctx.w3, ctx.deployment, cursor.block_number, head)
        queued = session.exec(select(ProposalRow).where(ProposalRow.state == ProposalState.QUEUED)).all()
        by_operation = {p.operation_id: p for p in queued}
        by_update = {p.update_hash: p for p in queued}
        for event in events:
            if event.name == "PendingSuperseded":
                changed += _supersede(session, queued, event)
                continue
            proposal = by_operation.get(event.args.get("id")) or by_update.get(event.args.get("updateHash"))
            if proposal is None or proposal.state != ProposalState.QUEUED:
                continue
            if event.name in ("Cancelled", "UpdateVetoed"):
                transition(session, proposal, ProposalState.CANCELLED, cancel_tx=event.transaction_hash)
                changed += 1
            elif event.name in ("CallExecuted", "UpdateExecuted"):
                transition(session, proposal, ProposalState.EXECUTED, execute_tx=event.transaction_hash,
                           executed_at_s=_block_time_s(ctx.w3, event.block_number))
                changed += 1
        cursor.block_number = head + 1
        session.add(cursor)
        session.commit()
    return changed


def _supersede(session: Session, queued: list[ProposalRow], event) -> int:
    """The queued proposal pending on the event's (asset, parameter): failed, with the reason."""
    asset, param, ready_at = event.args["asset"], int(event.args["param"]), int(event.args["pendingReadyAt"])
    for proposal in queued:
        update = json.loads(proposal.update_json)
        if (proposal.state == ProposalState.QUEUED and proposal.asset_address.lower() == asset.lower()
                and proposal.eta == ready_at and param in update["params"]):
            transition(session, proposal, ProposalState.FAILED,
                       error=f"superseded by a fast-path update (transaction {event.transaction_hash}): it can no longer execute")
            return 1
    return 0
