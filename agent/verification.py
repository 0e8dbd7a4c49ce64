"""What the dashboard and the risk report may call "verified" (pure logic; the pages and the
report only render it; it lives with the agent so neither reaches into the other).

A signed update is verified only when all three hold:
  (a) attestation: its document verifies (chain to a trusted root, COSE signature, PCR0
      equal to the expected measurement and to the measurement the update carries);
  (b) signature: the update's EIP-712 signature recovers to the key that document attests;
  (c) enclave: that key is the enclave the decision names, and the one the update names.
A verified document alone proves nothing about an update signed by another key. The
development root is trusted only when the operator opts in
(RISK_AGENT_DASHBOARD_TRUST_DEV_ROOT=1); by default only the AWS Nitro root is."""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from chain.update import ParameterUpdate, recover_signer
from enclave.attestation import TrustAnchors, VerifiedAttestation, read_document, verify_document
from enclave.errors import AttestationError

TRUST_DEV_ROOT_ENV = "RISK_AGENT_DASHBOARD_TRUST_DEV_ROOT"
HOME_ENV = "RISK_AGENT_HOME"


@dataclass(frozen=True)
class TrustPolicy:
    """Which roots the dashboard trusts: AWS's always, the local development root only if
    `trust_dev_root` (and then the one stored under `dev_ca_dir`)."""

    trust_dev_root: bool = False
    dev_ca_dir: Path | None = None
    dev_root_file: Path | None = None  # a root PEM given by path (`--trust-dev-root FILE`), instead of dev_ca_dir's

    @classmethod
    def for_root_file(cls, path: Path) -> TrustPolicy:
        """The operator named a development root PEM on the command line: that one is trusted."""
        return cls(trust_dev_root=True, dev_root_file=Path(path))

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> TrustPolicy:
        """Opt-in is exactly RISK_AGENT_DASHBOARD_TRUST_DEV_ROOT=1; anything else is off."""
        environ = os.environ if environ is None else environ
        home = Path(environ.get(HOME_ENV, Path.home() / ".risk-agent"))
        return cls(trust_dev_root=environ.get(TRUST_DEV_ROOT_ENV) == "1", dev_ca_dir=home / "dev-ca")

    def anchors(self) -> TrustAnchors:
        """Reads the stored development root; never creates a CA (the dashboard only looks)."""
        anchors = TrustAnchors()
        if self.trust_dev_root and self.dev_root_file is not None:
            return anchors.with_root(self.dev_root_file.read_bytes())  # OSError / ValueError: not a PEM file
        root = self.dev_ca_dir / "root.pem" if self.dev_ca_dir else None
        if self.trust_dev_root and root is not None and root.is_file():
            anchors = anchors.with_root(root.read_bytes())
        return anchors


class CheckState(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_CHECKED = "not checked"


@dataclass(frozen=True)
class Check:
    name: str  # "attestation", "signature" or "enclave"
    state: CheckState
    detail: str


@dataclass(frozen=True)
class UpdateVerdict:
    attestation: Check
    signature: Check
    enclave: Check
    chain: tuple[str, ...] = ()  # certificate subjects, leaf first, when the document verified

    @property
    def checks(self) -> tuple[Check, Check, Check]:
        return self.attestation, self.signature, self.enclave

    @property
    def verified(self) -> bool:
        return all(check.state is CheckState.PASSED for check in self.checks)

    @property
    def failed(self) -> tuple[str, ...]:
        """Names of the checks that failed (not those left unchecked because one failed)."""
        return tuple(check.name for check in self.checks if check.state is CheckState.FAILED)

    @property
    def message(self) -> str:
        if self.verified:
            return f"Verified: {self.enclave.detail}"
        return "NOT verified: " + "; ".join(f"{c.name}: {c.detail}" for c in self.checks if c.state is CheckState.FAILED)


def verify_update(*, document: bytes | None, update: ParameterUpdate, signature: bytes, steward: str, decision_enclave: str,
                  expected_measurement: bytes, policy: TrustPolicy) -> UpdateVerdict:
    """The three checks, each reported on its own. The document is judged as of its own
    timestamp (a stored proposal stays verifiable after the leaf certificate expires)."""
    attested, attestation = _attestation(document, update, expected_measurement, policy)
    if attested is None or attested.enclave_address is None:
        if attested is not None:
            attestation = Check("attestation", CheckState.FAILED, "the document binds no secp256k1 key")
        skipped = "needs a verified attestation"
        return UpdateVerdict(attestation, Check("signature", CheckState.NOT_CHECKED, skipped),
                             Check("enclave", CheckState.NOT_CHECKED, skipped))
    key = attested.enclave_address
    return UpdateVerdict(attestation, _signature(update, signature, steward, key), _enclave(update, decision_enclave, key),
                         attested.certificate_chain)


def _attestation(document: bytes | None, update: ParameterUpdate, expected_measurement: bytes,
                 policy: TrustPolicy) -> tuple[VerifiedAttestation | None, Check]:
    if document is None:
        return None, Check("attestation", CheckState.FAILED, "no attestation document stored for this decision")
    try:
        timestamp_ms = read_document(document).timestamp_ms
        attested = verify_document(document, expected_measurement=expected_measurement, anchors=policy.anchors(),
                                   now_ms=timestamp_ms)
    except AttestationError as error:
        return None, Check("attestation", CheckState.FAILED, error.reason)
    if update.measurement != attested.measurement:
        return None, Check("attestation", CheckState.FAILED, f"the update carries measurement {update.measurement.hex()[:16]}..., "
                                                             f"not the attested PCR0 {attested.measurement.hex()[:16]}...")
    return attested, Check("attestation", CheckState.PASSED,
                           f"key {attested.enclave_address} runs code with PCR0 {attested.measurement.hex()[:16]}...")


def _signature(update: ParameterUpdate, signature: bytes, steward: str, attested_key: str) -> Check:
    try:
        signer = recover_signer(update, signature, steward)
    except Exception as error:  # noqa: BLE001 - eth_account raises several types for a malformed signature
        return Check("signature", CheckState.FAILED, f"signature unreadable ({type(error).__name__})")
    if signer != attested_key:
        return Check("signature", CheckState.FAILED, f"signature recovers to {signer}, not the attested key {attested_key}")
    return Check("signature", CheckState.PASSED, f"signed by the attested key {attested_key}")


def _enclave(update: ParameterUpdate, decision_enclave: str, attested_key: str) -> Check:
    if decision_enclave.lower() != attested_key.lower():
        return Check("enclave", CheckState.FAILED, f"the decision names enclave {decision_enclave}, not the attested key {attested_key}")
    if update.enclave.lower() != attested_key.lower():
        return Check("enclave", CheckState.FAILED, f"the update names enclave {update.enclave}, not the attested key {attested_key}")
    return Check("enclave", CheckState.PASSED, f"the attested key {attested_key} is this decision's enclave")


def verify_proposal(proposal, decision, attestation, *, steward: str, expected_measurement: bytes,
                    policy: TrustPolicy | None = None) -> UpdateVerdict:
    """`verify_update` over the store's rows (ProposalRow, DecisionRow, AttestationRow or None)."""
    import json

    update = ParameterUpdate.from_json(json.loads(proposal.update_json))
    try:
        signature = bytes.fromhex(proposal.signature.removeprefix("0x"))
    except ValueError:
        signature = b""
    return verify_update(document=attestation.document if attestation is not None else None, update=update,
                         signature=signature, steward=steward, decision_enclave=decision.enclave_address,
                         expected_measurement=expected_measurement, policy=policy or TrustPolicy.from_env())


@dataclass(frozen=True)
class Verdict:
    """An attestation document on its own (the enclave page): check (a) only."""

    ok: bool
    message: str
    chain: tuple[str, ...] = ()


def verify_attestation(row, *, expected_measurement: bytes | None = None, policy: TrustPolicy | None = None) -> Verdict:
    """Does this stored document verify? Says nothing about any update (see verify_update)."""
    from enclave.image import measure

    if row is None:
        return Verdict(False, "No attestation document stored for this decision.")
    expected = expected_measurement if expected_measurement is not None else measure().digest
    try:
        timestamp_ms = read_document(row.document).timestamp_ms
        verified = verify_document(row.document, expected_measurement=expected, anchors=(policy or TrustPolicy.from_env()).anchors(),
                                   now_ms=timestamp_ms)
    except AttestationError as error:
        return Verdict(False, f"Attestation NOT verified: {error.reason}")
    return Verdict(True, f"Attestation verified: key {verified.enclave_address} runs this code (PCR0 {verified.measurement.hex()[:16]}…)",
                   verified.certificate_chain)


def decode(document: bytes) -> dict:
    """The document's fields for display (bytes as hex); the reason instead if it cannot be read."""
    try:
        parsed = read_document(document)
    except AttestationError as error:
        return {"error": error.reason}
    return {"module_id": parsed.module_id, "digest": "SHA384", "timestamp": parsed.timestamp_ms,
            "pcrs": {index: value.hex() for index, value in parsed.pcrs.items()},
            "cabundle": f"{len(parsed.cabundle)} certificates",
            "public_key": parsed.public_key.hex() if parsed.public_key else None,
            "user_data": parsed.user_data.hex() if parsed.user_data else None,
            "nonce": parsed.nonce.hex() if parsed.nonce else None,
            "attestation_digest": parsed.digest.hex()}
