"""The attestation check the dashboard shows: the same verifier as everywhere, run live."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cbor2

from enclave.attestation import TrustAnchors, verify_document
from enclave.errors import AttestationError
from enclave.image import measure


@dataclass(frozen=True)
class Verdict:
    ok: bool
    message: str
    chain: tuple[str, ...] = ()


def _anchors() -> TrustAnchors:
    """The AWS root always; the local development root of this installation unless
    RISK_AGENT_DASHBOARD_TRUST_DEV_ROOT=0 (a production deployment sets it)."""
    home = Path(os.environ.get("RISK_AGENT_HOME", Path.home() / ".risk-agent"))
    trust_dev = os.environ.get("RISK_AGENT_DASHBOARD_TRUST_DEV_ROOT", "1") == "1"
    return _anchors_for(home if trust_dev else None)


@lru_cache(maxsize=4)
def _anchors_for(home: Path | None) -> TrustAnchors:
    anchors = TrustAnchors()
    if home is not None and (home / "dev-ca" / "root.pem").exists():
        from enclave.nsm import DevCa

        anchors = anchors.with_root(DevCa.load_or_create(home / "dev-ca").root_pem)
    return anchors


def decode(document: bytes) -> dict:
    payload = cbor2.loads(cbor2.loads(document)[2])
    return {k: (v.hex() if isinstance(v, bytes) else {i: p.hex() for i, p in v.items()} if k == "pcrs" else
                f"{len(v)} certificates" if k == "cabundle" else v)
            for k, v in payload.items() if k != "certificate"}


def verify_attestation(row) -> Verdict:
    if row is None:
        return Verdict(False, "No attestation document stored for this decision.")
    try:
        timestamp = cbor2.loads(cbor2.loads(row.document)[2])["timestamp"]
        verified = verify_document(row.document, expected_measurement=measure().digest, anchors=_anchors(), now_ms=timestamp)
    except AttestationError as error:
        return Verdict(False, f"Attestation NOT verified: {error.reason}")
    return Verdict(True, f"Attestation verified: key {verified.enclave_address} runs this code (PCR0 {verified.measurement.hex()[:16]}…)",
                   verified.certificate_chain)
