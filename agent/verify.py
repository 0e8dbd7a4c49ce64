"""`risk-agent verify`: anyone can check that an update is what the measured code decides on
what the chain held.

Each check is named and fails on its own tampering:
- inputs hash: the published (or stored) canonical inputs hash to the update's `inputsHash`;
- inputs on chain: every input is re-read at the anchor block (block hash and time, reserve
  parameters and state, each feed round by its id, DEX pair reserves, the steward's bounds,
  parameter states and nonce counter, every listed position); observations from a file are
  named by the file's SHA-256 and cannot be re-read;
- re-run: the open code with the measured strategy config gives the identical update, byte
  for byte;
- signature: the update's EIP-712 signature recovers to its enclave;
- attestation: the enclave's registration document verifies, binds that key, and its PCR0 is
  this code's measurement;
- chain record: the steward applied it (fast path) or the timelock holds its operation.

Two ways in: from the agent's database (`verify_stored`), or from the chain alone
(`verify_on_chain`: the update, its inputs and the attestation document are all fetched from
the transactions that carried them)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
from eth_abi import decode as abi_decode
from eth_utils import event_abi_to_log_topic, keccak
from sqlmodel import Session
from web3 import Web3

from agent.market_inputs import AnchorReader, chain_prices
from agent.store import AttestationRow, DecisionRow, ProposalRow, open_read_only
from chain.aave import our_contract
from chain.deployment import Deployment
from chain.errors import ChainError
from chain.feeds import read_rounds
from chain.market import market_from_deployment
from chain.multicall import Multicall
from chain.positions import DiscoveryCursor, PositionReader, discover_accounts
from chain.reader import MarketReader
from chain.steward import OperationState, StewardClient
from chain.update import ParameterUpdate, recover_signer
from enclave.attestation import TrustAnchors, attestation_digest, read_document, verify_document
from enclave.decision import decide
from enclave.errors import AttestationError
from enclave.image import measure
from strategies.config import default_config
from strategies.inputs import DecisionInputs, InputsError, decode_inputs
from strategies.types import canonical_json


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


class UpdateNotFoundError(ChainError):
    """No update with that hash was applied or scheduled by this steward."""


# ------------------------------------------------------------------ the checks, each on its own


def check_inputs_hash(inputs_bytes: bytes, update: ParameterUpdate) -> Check:
    digest = keccak(inputs_bytes)
    ok = digest == update.inputs_hash
    return Check("inputs hash", ok, f"keccak256 of the inputs is 0x{digest.hex()[:16]}..."
                 + ("" if ok else f", the update commits to 0x{update.inputs_hash.hex()[:16]}..."))


def check_rerun(inputs_bytes: bytes, update: ParameterUpdate) -> Check:
    """The measured code and config, on these inputs, sign this very update (same nonce)."""
    try:
        inputs = decode_inputs(inputs_bytes)
    except InputsError as error:
        return Check("re-run gives identical update", False, f"inputs unreadable: {error}")
    rerun = decide(inputs, update.enclave, update.measurement, default_config(), canonical=inputs_bytes)
    same = [u for u in rerun.updates if u.nonce == update.nonce]
    identical = bool(same) and canonical_json(same[0].as_json()) == canonical_json(update.as_json())
    if identical:
        return Check("re-run gives identical update", True, "byte-identical")
    shown = same[0].as_json() if same else "no update with that nonce"
    return Check("re-run gives identical update", False, f"the open code decides otherwise: {shown}")


def check_signature(update: ParameterUpdate, signature: bytes, steward: str) -> Check:
    try:
        signer = recover_signer(update, signature, steward)
    except Exception as error:  # noqa: BLE001 - a malformed signature is a failed check, not a crash
        return Check("signature", False, f"does not recover ({type(error).__name__})")
    return Check("signature", signer == update.enclave, f"signed by {signer}")


def check_attestation(document: bytes | None, enclave: str, anchors: TrustAnchors, digest: bytes | None = None) -> Check:
    """Judged at the document's own time (an archived document was fresh when registered)."""
    if document is None:
        return Check("attestation", False, "no attestation document found")
    code = measure().digest
    try:
        timestamp = read_document(document).timestamp_ms
        verified = verify_document(document, expected_measurement=code, anchors=anchors, now_ms=timestamp)
    except AttestationError as error:
        return Check("attestation", False, error.reason)
    except Exception as error:  # noqa: BLE001 - any undecodable document is a failed check
        return Check("attestation", False, f"document unreadable ({type(error).__name__})")
    if verified.enclave_address != enclave:
        return Check("attestation", False, f"the document binds {verified.enclave_address}, not {enclave}")
    if digest is not None and digest != attestation_digest(document):
        return Check("attestation", False, "the document's digest is not the one registered on chain")
    return Check("attestation", True, f"key {enclave} bound to this code's measurement {code.hex()[:16]}...")


def _close(a: float, b: float) -> bool:
    return a == b or (math.isfinite(a) and math.isfinite(b) and abs(a - b) <= 1e-12 * max(abs(a), abs(b)))


def check_inputs_on_chain(w3: Web3, deployment: Deployment, inputs: DecisionInputs, enclave: str) -> list[Check]:
    """Re-reads every input at the anchor block and names what differs; `enclave` is the
    update's signer (the steward's nonce counter is per enclave)."""
    anchor = inputs.anchor
    checks = []
    try:
        block = w3.eth.get_block(anchor.block_number)
    except Exception:  # noqa: BLE001 - a node without the block
        return [Check("inputs on chain", False, f"the node has no block {anchor.block_number}")]
    block_ok = bytes(block["hash"]) == anchor.block_hash and int(block["timestamp"]) == anchor.timestamp_s
    checks.append(Check("anchor block", block_ok, f"block {anchor.block_number} "
                        + ("hash and time match" if block_ok else "hash or time differ from the inputs")))
    market = market_from_deployment(w3, deployment)
    multicall = Multicall(w3, market.multicall)
    symbols = [a.symbol for a in inputs.assets]
    quotes = {a.pair.quote_symbol for a in inputs.assets if a.pair.source != "config"} & set(market.symbols)
    selected = market.select(tuple(dict.fromkeys([*symbols, *sorted(quotes)])))
    # Only the pairs of the reserves read: a pair of a reserve outside the inputs is not listed here.
    reader = MarketReader(w3, selected, {s: p for s, p in deployment.dex_pairs.items() if s in selected.symbols})
    steward = StewardClient(w3, deployment.steward, deployment.multicall) if deployment.steward else None
    fresh_reader = AnchorReader(w3=w3, reader=reader, assets=symbols, config=default_config(),
                                prices=chain_prices(w3, multicall, anchor.block_number), steward=steward,
                                positions=PositionReader(w3, market), accounts=lambda: inputs.positions.accounts)
    snapshot = reader.read(anchor.block_number)
    fresh = fresh_reader.read(enclave, anchor.block_number, snapshot)
    problems = []
    off_chain = []
    for given in inputs.assets:
        read = fresh.asset(given.symbol)
        if given.params != read.params:
            problems.append(f"{given.symbol} parameters differ")
        if not (_close(given.supplied_tokens, read.supplied_tokens) and _close(given.borrowed_tokens, read.borrowed_tokens)):
            problems.append(f"{given.symbol} supply or debt differs")
        if given.pair != read.pair:
            problems.append(f"{given.symbol} pair reserves differ")
        if given.bounds.limits != read.bounds.limits or given.bounds.state != read.bounds.state:
            problems.append(f"{given.symbol} steward bounds or parameter states differ")
        if not _same_observations(given.utilization, read.utilization):
            problems.append(f"{given.symbol} utilization differs from the reserve's at the hourly blocks")
        for segment in given.prices:
            if segment.source.startswith("feed:"):
                problems += _feed_differences(w3, multicall, given.symbol, segment, anchor.block_number)
            else:
                off_chain.append(f"{len(segment)} {given.symbol} prices from {segment.source}")
    nonce = fresh.enclave_nonce
    if nonce != inputs.enclave_nonce:
        problems.append(f"enclave nonce {inputs.enclave_nonce} in the inputs, {nonce} on chain")
    book, fresh_book = inputs.positions, fresh.positions
    # Every account with debt at the anchor must be there: an operator could hide the risky ones.
    everyone = discover_accounts(w3, market, DiscoveryCursor(deployment.deployed_at_block), anchor.block_number)
    with_debt = {p.account for p in PositionReader(w3, market).read(everyone.accounts, anchor.block_number).positions}
    omitted = with_debt - set(book.accounts)
    if omitted:
        problems.append(f"{len(omitted)} accounts with debt at the anchor block are missing from the positions")
    if book.accounts:
        if tuple(book.accounts) != tuple(fresh_book.accounts) or not np.allclose(book.debt_usd, fresh_book.debt_usd, rtol=1e-12):
            problems.append("positions differ from the pool's accounts at the anchor block")
        else:
            for symbol, tokens in book.collateral_tokens.items():
                if not np.allclose(tokens, fresh_book.collateral_tokens.get(symbol, np.zeros(len(tokens))), rtol=1e-12):
                    problems.append(f"{symbol} collateral of the positions differs")
    checks.append(Check("inputs on chain", not problems,
                        "; ".join(problems) if problems else "every on-chain input re-read at the anchor block matches"))
    if off_chain:
        checks.append(Check("inputs from files", True, "not on chain (named by file hash): " + "; ".join(off_chain)))
    return checks


def _same_observations(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return (a.keys == b.keys and np.array_equal(a.timestamps_s, b.timestamps_s)
            and np.allclose(a.values, b.values, rtol=1e-12, atol=0))


def _feed_differences(w3: Web3, multicall: Multicall, symbol: str, segment, block: int) -> list[str]:
    if len(segment.keys) != len(segment):
        return [f"{symbol} feed prices carry no round ids"]
    feed = segment.source.removeprefix("feed:")
    decimals = int(our_contract(w3, "PushableAggregator", feed).functions.decimals().call())
    rounds = read_rounds(w3, multicall, feed, list(segment.keys), block)
    bad = 0
    first = None
    for round_id, when, price in zip(segment.keys, segment.timestamps_s, segment.values, strict=True):
        value = rounds.get(int(round_id))
        if value is None or value.updated_at != int(when) or value.answer / 10**decimals != float(price):
            bad += 1
            first = first or round_id
    return [f"{bad} {symbol} feed rounds differ from the feed (first: round {first})"] if bad else []


def check_chain_record(steward: StewardClient, update: ParameterUpdate) -> Check:
    digest = steward.update_hash(update)
    applied = steward.applied_in_block(digest)
    if applied is not None:
        return Check("chain record", True, f"applied at once (fast path) in block {applied}")
    operation = steward.operation_for(update)
    state = steward.operation_state(operation.operation_id)
    if state is OperationState.UNSET:
        return Check("chain record", False, f"operation 0x{operation.operation_id.hex()[:16]}... is not in the timelock "
                     "(never scheduled, or vetoed)")
    return Check("chain record", True, f"timelock operation 0x{operation.operation_id.hex()[:16]}... is {state.name.lower()}")


# ------------------------------------------------------------------ from the database


def verify_stored(db_url: str, proposal_id: int, anchors: TrustAnchors, w3: Web3 | None = None,
                  deployment: Deployment | None = None) -> list[Check]:
    """A stored proposal (read-only: the database is never written or migrated)."""
    engine = open_read_only(db_url)
    with Session(engine) as session:
        proposal = session.get(ProposalRow, proposal_id)
        if proposal is None:
            return [Check("proposal exists", False, f"no proposal {proposal_id} in {db_url}")]
        decision = session.get(DecisionRow, proposal.decision_id)
        attestation = session.get(AttestationRow, decision.attestation_id) if decision.attestation_id else None
    update = ParameterUpdate.from_json(json.loads(proposal.update_json))
    signature = bytes.fromhex(proposal.signature.removeprefix("0x"))
    checks = [check_inputs_hash(decision.inputs_canonical, update), check_rerun(decision.inputs_canonical, update)]
    steward_address = _steward_of(decision.inputs_canonical)
    checks.append(check_signature(update, signature, steward_address) if steward_address
                  else Check("signature", False, "the stored inputs are unreadable: no steward to check against"))
    checks.append(check_attestation(attestation.document if attestation else None, update.enclave, anchors))
    if w3 is not None and deployment is not None:
        checks += chain_checks(w3, deployment, decision.inputs_canonical, update, "stored")
    else:
        checks.append(Check("chain record", proposal.state not in ("queued", "executed", "cancelled") or bool(
            proposal.operation_id or proposal.path == "fast"),
            f"stored state {proposal.state} ({proposal.path} path); no --rpc, chain not re-read"))
    return checks


def _steward_of(inputs_bytes: bytes) -> str | None:
    try:
        return decode_inputs(inputs_bytes).steward
    except InputsError:
        return None


# ------------------------------------------------------------------ from the chain alone


@dataclass(frozen=True)
class PublishedUpdate:
    update: ParameterUpdate
    signature: bytes
    inputs: bytes
    document: bytes | None
    digest: bytes | None


def _event_logs(w3: Web3, contract, event_name: str, topic: bytes, from_block: int) -> list:
    event = getattr(contract.events, event_name)()
    return w3.eth.get_logs({"address": contract.address, "fromBlock": from_block, "toBlock": "latest",
                            "topics": [event_abi_to_log_topic(event.abi), topic]})


def _calldata_args(w3: Web3, contract, function: str, transaction_hash) -> tuple:
    data = bytes(w3.eth.get_transaction(transaction_hash)["input"])
    decoded = contract.decode_function_input(data)
    if decoded[0].fn_name != function:
        raise UpdateNotFoundError(f"transaction {bytes(transaction_hash).hex()} is not a direct {function} call")
    return decoded[1]


def fetch_published(w3: Web3, deployment: Deployment, update_hash: bytes) -> PublishedUpdate:
    """The update (from its submit transaction), its inputs (from the publishInputs transaction)
    and the enclave's attestation document (from the registrar's transaction)."""
    steward = our_contract(w3, "RiskSteward", deployment.steward)
    start = deployment.deployed_at_block
    logs = (_event_logs(w3, steward, "UpdateApplied", update_hash, start)
            or _event_logs(w3, steward, "UpdateScheduled", update_hash, start))
    if not logs:
        raise UpdateNotFoundError(f"no update 0x{update_hash.hex()} was applied or scheduled by steward {steward.address}")
    args = _calldata_args(w3, steward, "submit", logs[0]["transactionHash"])
    update = ParameterUpdate(*_update_fields(args["u"]))
    signature = bytes(args["signature"])
    published_at = steward.functions.inputsPublishedAtBlock(update.inputs_hash).call()
    inputs = None
    if published_at:
        for tx in w3.eth.get_block(published_at, full_transactions=True)["transactions"]:
            if tx["to"] == steward.address:
                try:
                    call_args = steward.decode_function_input(bytes(tx["input"]))
                except ValueError:
                    continue
                if call_args[0].fn_name == "publishInputs" and keccak(bytes(call_args[1]["inputs"])) == update.inputs_hash:
                    inputs = bytes(call_args[1]["inputs"])
                    break
    if inputs is None:
        raise UpdateNotFoundError(f"the inputs 0x{update.inputs_hash.hex()} of that update were not published")
    document, digest = None, None
    if deployment.registrar:
        registrar = our_contract(w3, "EnclaveRegistrar", deployment.registrar)
        enclave_topic = bytes(32 - 20) + bytes.fromhex(update.enclave.removeprefix("0x"))
        event = registrar.events.RegistrationScheduled()
        scheduled = w3.eth.get_logs({"address": registrar.address, "fromBlock": start, "toBlock": "latest",
                                     "topics": [event_abi_to_log_topic(event.abi), None, enclave_topic]})
        if scheduled:
            reg_args = _calldata_args(w3, registrar, "scheduleRegistration", scheduled[-1]["transactionHash"])
            document = bytes(reg_args["attestationDocument"]) or None
            digest = bytes(reg_args["attestationDigest"])
    return PublishedUpdate(update, signature, inputs, document, digest)


def _update_fields(raw) -> tuple:
    if isinstance(raw, dict):
        raw = tuple(raw.values())
    enclave, chain_id, asset, params, values, nonce, anchor_block, anchor_hash, anchor_time, deadline, inputs_hash, measurement = raw
    return (Web3.to_checksum_address(enclave), int(chain_id), Web3.to_checksum_address(asset), tuple(int(p) for p in params),
            tuple(int(v) for v in values), int(nonce), int(anchor_block), bytes(anchor_hash), int(anchor_time), int(deadline),
            bytes(inputs_hash), bytes(measurement))


def verify_on_chain(w3: Web3, deployment: Deployment, update_hash: bytes, anchors: TrustAnchors) -> list[Check]:
    """Everything from the chain: no operator database involved."""
    published = fetch_published(w3, deployment, update_hash)
    update = published.update
    checks = [check_inputs_hash(published.inputs, update), check_rerun(published.inputs, update),
              check_signature(update, published.signature, deployment.steward),
              check_attestation(published.document, update.enclave, anchors, published.digest)]
    return checks + chain_checks(w3, deployment, published.inputs, update, "published")


def chain_checks(w3: Web3, deployment: Deployment, inputs: bytes, update: ParameterUpdate, source: str) -> list[Check]:
    """The inputs re-read at their anchor block, and the update's record on chain; `source`
    names where the inputs came from (stored, published) in a refusal."""
    try:
        checks = check_inputs_on_chain(w3, deployment, decode_inputs(inputs), update.enclave)
    except InputsError as error:
        checks = [Check("inputs on chain", False, f"{source} inputs unreadable: {error}")]
    return [*checks, check_chain_record(StewardClient(w3, deployment.steward, deployment.multicall,
                                                      from_block=deployment.deployed_at_block), update)]


def decode_submit_calldata(data: bytes) -> tuple[ParameterUpdate, bytes]:
    """(update, signature) from raw `submit` calldata (for tools that hold only the bytes)."""
    types = ["(address,uint256,address,uint8[],uint256[],uint256,uint256,bytes32,uint256,uint256,bytes32,bytes)", "bytes"]
    raw, signature = abi_decode(types, data[4:])
    return ParameterUpdate(*_update_fields(raw)), bytes(signature)
