"""Attestation documents in the AWS Nitro format, and the one verifier for all of them.

A document is a COSE_Sign1 (ES384) over a CBOR map: module_id, digest ("SHA384"),
timestamp (ms), pcrs, certificate (DER leaf), cabundle ([root, ..., issuer of leaf]),
public_key, user_data, nonce. The verifier checks, in order: COSE structure and algorithm,
payload fields, the certificate chain to a trusted root with every certificate valid at the
document's timestamp, the signature over the `Signature1` structure, PCR0, the nonce, the
age; it returns the bound public key as an Ethereum address. It accepts real AWS documents
against the built-in AWS Nitro root and local ones only where the dev root is trusted."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from eth_utils import keccak

from enclave.errors import AttestationError

COSE_ALG_ES384 = -35
COSE_SIGN1_TAG = 18
P384_COORDINATE_BYTES = 48
AWS_NITRO_ROOT_PEM = (Path(__file__).resolve().parent / "aws_nitro_root_g1.pem").read_bytes()
REQUIRED_FIELDS = ("module_id", "digest", "timestamp", "pcrs", "certificate", "cabundle")


@dataclass(frozen=True)
class TrustAnchors:
    """Root certificates a verifier accepts. The AWS root always; others only when asked."""

    roots_der: tuple[bytes, ...] = field(default_factory=lambda: (_pem_to_der(AWS_NITRO_ROOT_PEM),))

    def with_root(self, pem_or_der: bytes) -> TrustAnchors:
        der = _pem_to_der(pem_or_der) if pem_or_der.lstrip().startswith(b"-----") else pem_or_der
        return TrustAnchors((*self.roots_der, der))


def _pem_to_der(pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


@dataclass(frozen=True)
class VerifiedAttestation:
    module_id: str
    timestamp_ms: int
    pcrs: dict[int, bytes]
    public_key: bytes | None
    enclave_address: str | None
    user_data: bytes | None
    nonce: bytes | None
    certificate_chain: tuple[str, ...]  # subjects, leaf first
    document_sha256: bytes

    @property
    def measurement(self) -> bytes:
        return self.pcrs[0]


def build_document(
    payload_fields: dict, leaf_key: ec.EllipticCurvePrivateKey, leaf_der: bytes, cabundle_der: list[bytes]
) -> bytes:
    """Signs a payload into an untagged COSE_Sign1, as the Nitro NSM does."""
    payload = cbor2.dumps({**payload_fields, "certificate": leaf_der, "cabundle": cabundle_der})
    protected = cbor2.dumps({1: COSE_ALG_ES384})
    to_sign = cbor2.dumps(["Signature1", protected, b"", payload])
    r, s = decode_dss_signature(leaf_key.sign(to_sign, ec.ECDSA(hashes.SHA384())))
    signature = r.to_bytes(P384_COORDINATE_BYTES, "big") + s.to_bytes(P384_COORDINATE_BYTES, "big")
    return cbor2.dumps([protected, {}, payload, signature])


def ethereum_address(public_key: bytes) -> str | None:
    """Address of an uncompressed secp256k1 key (65 bytes with 0x04, or the raw 64)."""
    raw = public_key[1:] if len(public_key) == 65 and public_key[0] == 4 else public_key
    if len(raw) != 64:
        return None
    from eth_utils import to_checksum_address

    return to_checksum_address(keccak(raw)[-20:])


def verify_document(
    document: bytes,
    *,
    expected_measurement: bytes | None,
    anchors: TrustAnchors = TrustAnchors(),
    expected_nonce: bytes | None = None,
    max_age_s: float | None = None,
    now_ms: int | None = None,
) -> VerifiedAttestation:
    """All checks or `AttestationError(reason)`; `now_ms` defaults to the current time."""
    protected, payload, signature = _cose_parts(document)
    fields = _payload_fields(payload)
    timestamp_ms = fields["timestamp"]
    at = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
    leaf, subjects = _verify_chain(fields["certificate"], fields["cabundle"], anchors, at)
    _verify_signature(leaf, protected, payload, signature)

    pcrs = {int(k): bytes(v) for k, v in fields["pcrs"].items()}
    if expected_measurement is not None:
        if pcrs.get(0) != expected_measurement:
            got = pcrs.get(0, b"").hex()
            raise AttestationError(f"PCR0 {got[:16]}... does not match the expected measurement {expected_measurement.hex()[:16]}...")
    nonce = fields.get("nonce")
    if expected_nonce is not None and nonce != expected_nonce:
        raise AttestationError("nonce does not match the one sent (replayed or substituted document)")
    if max_age_s is not None:
        now = now_ms if now_ms is not None else int(datetime.now(tz=UTC).timestamp() * 1000)
        age_s = (now - timestamp_ms) / 1000
        if age_s > max_age_s:
            raise AttestationError(f"document is {age_s:.0f} s old; at most {max_age_s:.0f} s allowed")
        if age_s < -60:
            raise AttestationError("document timestamp is in the future")
    public_key = fields.get("public_key")
    return VerifiedAttestation(
        module_id=fields["module_id"],
        timestamp_ms=timestamp_ms,
        pcrs=pcrs,
        public_key=public_key,
        enclave_address=ethereum_address(public_key) if public_key else None,
        user_data=fields.get("user_data"),
        nonce=nonce,
        certificate_chain=subjects,
        document_sha256=hashlib.sha256(document).digest(),
    )


def _cose_parts(document: bytes) -> tuple[bytes, bytes, bytes]:
    try:
        decoded = cbor2.loads(document)
    except Exception as error:  # noqa: BLE001 - any CBOR failure is the same verdict
        raise AttestationError(f"not CBOR ({type(error).__name__})") from None
    if isinstance(decoded, cbor2.CBORTag):
        if decoded.tag != COSE_SIGN1_TAG:
            raise AttestationError(f"unexpected CBOR tag {decoded.tag}")
        decoded = decoded.value
    if not isinstance(decoded, list) or len(decoded) != 4:
        raise AttestationError("not a COSE_Sign1 structure")
    protected, _unprotected, payload, signature = decoded
    if not all(isinstance(part, bytes) for part in (protected, payload, signature)):
        raise AttestationError("COSE_Sign1 parts have the wrong types")
    try:
        header = cbor2.loads(protected)
    except Exception:  # noqa: BLE001
        raise AttestationError("protected header is not CBOR") from None
    if not isinstance(header, dict) or header.get(1) != COSE_ALG_ES384:
        raise AttestationError(f"unsupported algorithm {header.get(1) if isinstance(header, dict) else header!r} (ES384 required)")
    if len(signature) != 2 * P384_COORDINATE_BYTES:
        raise AttestationError(f"signature is {len(signature)} bytes; ES384 needs 96")
    return protected, payload, signature


def _payload_fields(payload: bytes) -> dict:
    try:
        fields = cbor2.loads(payload)
    except Exception:  # noqa: BLE001
        raise AttestationError("payload is not CBOR") from None
    if not isinstance(fields, dict):
        raise AttestationError("payload is not a map")
    missing = [name for name in REQUIRED_FIELDS if fields.get(name) is None]
    if missing:
        raise AttestationError(f"payload lacks {', '.join(missing)}")
    if fields["digest"] != "SHA384":
        raise AttestationError(f"digest {fields['digest']!r} is not SHA384")
    if not isinstance(fields["timestamp"], int) or fields["timestamp"] <= 0:
        raise AttestationError("timestamp is not a positive integer")
    if not isinstance(fields["pcrs"], dict) or not fields["pcrs"]:
        raise AttestationError("pcrs is not a non-empty map")
    if not isinstance(fields["cabundle"], list) or not fields["cabundle"]:
        raise AttestationError("cabundle is empty")
    return fields


def _verify_chain(
    leaf_der: bytes, cabundle: list[bytes], anchors: TrustAnchors, at: datetime
) -> tuple[x509.Certificate, tuple[str, ...]]:
    """cabundle is [root, intermediates..., issuer of the leaf]; each signs the next."""
    if bytes(cabundle[0]) not in anchors.roots_der:
        raise AttestationError("certificate chain does not lead to a trusted root")
    try:
        chain = [x509.load_der_x509_certificate(bytes(der)) for der in cabundle]
        leaf = x509.load_der_x509_certificate(bytes(leaf_der))
    except ValueError:
        raise AttestationError("a certificate in the chain cannot be parsed") from None
    ordered = [*chain, leaf]
    for issuer, subject in zip(ordered, ordered[1:]):
        try:
            subject.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            raise AttestationError(f"certificate '{subject.subject.rfc4514_string()}' is not signed by its issuer") from None
    for certificate in ordered:
        if not certificate.not_valid_before_utc <= at <= certificate.not_valid_after_utc:
            name = certificate.subject.rfc4514_string()
            state = "expired" if at > certificate.not_valid_after_utc else "not yet valid"
            raise AttestationError(f"certificate '{name}' {state} at the document's timestamp {at.isoformat()}")
    for issuer in ordered[:-1]:
        try:
            constraints = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            constraints = None
        if constraints is None or not constraints.ca:
            raise AttestationError(f"issuer '{issuer.subject.rfc4514_string()}' is not a CA")
    return leaf, tuple(c.subject.rfc4514_string() for c in reversed(ordered))


def _verify_signature(leaf: x509.Certificate, protected: bytes, payload: bytes, signature: bytes) -> None:
    public_key = leaf.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name != "secp384r1":
        raise AttestationError("leaf certificate key is not P-384")
    to_verify = cbor2.dumps(["Signature1", protected, b"", payload])
    r = int.from_bytes(signature[:P384_COORDINATE_BYTES], "big")
    s = int.from_bytes(signature[P384_COORDINATE_BYTES:], "big")
    try:
        public_key.verify(encode_dss_signature(r, s), to_verify, ec.ECDSA(hashes.SHA384()))
    except InvalidSignature:
        raise AttestationError("COSE signature does not verify with the leaf certificate") from None
