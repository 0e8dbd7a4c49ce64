"""`risk-agent verify`: anyone can re-run a stored decision with the open strategy code and
check that it gives the same bytes, that the signature is the attested enclave's, that the
attestation binds that key to this code's measurement, and what the chain recorded."""

from __future__ import annotations

import json
from dataclasses import dataclass

from eth_utils import keccak
from sqlmodel import Session

from agent.store import AttestationRow, DecisionRow, ProposalRow, ProposalState, make_engine
from chain.update import ParameterUpdate, recover_signer, update_hash
from enclave.attestation import TrustAnchors, verify_document
from enclave.decision import DecisionInputs, InputsError, decide
from enclave.errors import AttestationError
from enclave.image import measure
from strategies.types import canonical_json


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


def verify_proposal(db_url: str, proposal_id: int, anchors: TrustAnchors, w3=None) -> list[Check]:
    engine = make_engine(db_url)
    checks: list[Check] = []
    with Session(engine) as session:
        proposal = session.get(ProposalRow, proposal_id)
        if proposal is None:
            return [Check("proposal exists", False, f"no proposal {proposal_id} in {db_url}")]
        decision = session.get(DecisionRow, proposal.decision_id)
        attestation = session.get(AttestationRow, decision.attestation_id) if decision.attestation_id else None

    stored = ParameterUpdate.from_json(json.loads(proposal.update_json))
    hash_ok = keccak(decision.inputs_canonical).hex() == decision.inputs_hash == stored.inputs_hash.hex()
    checks.append(Check("inputs hash", hash_ok, "stored inputs hash to the update's inputsHash" if hash_ok
                        else "stored inputs do not hash to the update's inputsHash"))
    inputs = None
    try:
        inputs = DecisionInputs.from_json(json.loads(decision.inputs_canonical))
        rerun = decide(inputs, decision.enclave_address, bytes.fromhex(decision.measurement))
        same = [u for u in rerun.updates if u.asset == stored.asset]
        identical = bool(same) and canonical_json(same[0].as_json()) == proposal.update_json.encode()
        checks.append(Check("re-run gives identical update", identical,
                            "byte-identical" if identical else "the open code decides differently on these inputs"))
    except (InputsError, ValueError, UnicodeDecodeError) as error:
        checks.append(Check("re-run gives identical update", False, f"stored inputs unreadable: {error}"))

    if inputs is None:
        checks.append(Check("signature", False, "cannot check: the stored inputs (which name the steward) are unreadable"))
        checks.append(Check("on-chain record", False, "cannot check: the stored inputs are unreadable"))
        return checks
    signature = bytes.fromhex(proposal.signature.removeprefix("0x"))
    signer = recover_signer(stored, signature, inputs.steward) if signature else None
    checks.append(Check("signature", signer == decision.enclave_address == stored.enclave, f"signed by {signer}"))

    code_measurement = measure().digest
    if attestation is None:
        checks.append(Check("attestation", False, "no attestation document stored"))
    else:
        try:
            timestamp = __import__("cbor2").loads(__import__("cbor2").loads(attestation.document)[2])["timestamp"]
            verified = verify_document(attestation.document, expected_measurement=code_measurement, anchors=anchors, now_ms=timestamp)
            ok = verified.enclave_address == decision.enclave_address and stored.measurement == code_measurement
            checks.append(Check("attestation", ok, f"key {verified.enclave_address} bound to this code's measurement "
                                f"{code_measurement.hex()[:16]}..." if ok else "attested key or measurement differs"))
        except AttestationError as error:
            checks.append(Check("attestation", False, error.reason))

    if w3 is not None:
        from chain.deploy import contract

        steward = contract(w3, "RiskSteward", inputs.steward)
        digest = update_hash(stored, inputs.steward)
        on_chain = "0x" + bytes(steward.functions.operationOf(digest).call()).hex()
        checks.append(Check("on-chain record", on_chain == proposal.operation_id, f"steward operation {on_chain}"))
    else:
        recorded = proposal.state not in (ProposalState.QUEUED, ProposalState.EXECUTED, ProposalState.CANCELLED) or bool(
            proposal.operation_id and proposal.update_hash == "0x" + update_hash(stored, inputs.steward).hex())
        checks.append(Check("on-chain record", recorded,
                            f"stored timelock operation {proposal.operation_id} ({proposal.state}); no --rpc, chain not re-read"))
    return checks
