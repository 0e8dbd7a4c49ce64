"""Registering an attested enclave key: a governance action through the timelock, so the
delay and the guardian's veto apply to new keys as to parameter updates."""

from __future__ import annotations

from chain.steward import StewardClient
from enclave.attestation import VerifiedAttestation


def schedule_registration(governance: StewardClient, attested: VerifiedAttestation, expires_at_s: int = 0) -> bytes:
    """Schedules `setMeasurementApproval` + `registerEnclave` (recording the document's
    SHA-256); returns the timelock operation id. Scheduling it again is a no-op."""
    if attested.enclave_address is None:
        raise ValueError("attestation binds no secp256k1 key")
    payloads = [
        governance.encode_steward_call("setMeasurementApproval", attested.measurement, True),
        governance.encode_steward_call(
            "registerEnclave", attested.enclave_address, attested.measurement, attested.document_sha256, expires_at_s
        ),
    ]
    # Salt: the document digest, so each attested key gets its own operation.
    return governance.schedule_governance(payloads, attested.document_sha256)
