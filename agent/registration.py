"""Registering an attested enclave key: proposed by the operator through the EnclaveRegistrar
(which can schedule nothing else), so the timelock's delay and the guardian's veto apply to
new keys as to parameter updates."""

from __future__ import annotations

from eth_utils import keccak
from web3 import Web3

from agent.store import AttestationRow
from chain.steward import GovernanceBatch, RegistrarClient, StewardClient
from enclave.attestation import VerifiedAttestation, attestation_digest


def schedule_registration(registrar: RegistrarClient, attested: VerifiedAttestation, document: bytes,
                          expires_at_s: int = 0) -> GovernanceBatch:
    """Schedules `registerEnclave` for the attested key, recording the document's canonical
    digest (re-encodings cannot change it) and publishing the document itself in the call's
    calldata; returns the timelock batch."""
    if attested.enclave_address is None:
        raise ValueError("attestation binds no secp256k1 key")
    batch, _ = registrar.schedule_registration(attested.enclave_address, attested.measurement,
                                               attestation_digest(document), expires_at_s, document)
    return batch


def registration_batch_for(relay: StewardClient, row: AttestationRow, expires_at_s: int = 0) -> GovernanceBatch:
    """The registration batch of a stored attestation, as the registrar scheduled it."""
    payload = bytes(Web3.to_bytes(hexstr=relay.steward.encode_abi(
        "registerEnclave", [Web3.to_checksum_address(row.enclave_address), bytes.fromhex(row.measurement),
                            attestation_digest(row.document), expires_at_s])))
    return GovernanceBatch((relay.steward.address,), (payload,), keccak(payload))
