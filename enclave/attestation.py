"""Attestation documents in the AWS Nitro format, and the one verifier for all of them.

A document is a COSE_Sign1 (ES384) over a CBOR map: module_id, digest ("SHA384"),
timestamp (ms), pcrs, certificate (DER leaf), cabundle ([root, ..., issuer of leaf]),
public_key, user_data, nonce. `read_document` parses it strictly and type-checks every
field; `verify_document` then checks, in order: the certificate chain to a trusted root
(algorithms, issuer names and signatures, validity at the document's timestamp, CA
constraints), the COSE signature, PCR0, the nonce, the time. Every failure is an
`AttestationError` with its own `code`; nothing else escapes. It accepts real AWS documents
against the built-in AWS Nitro root and local ones only where the dev root is trusted.

`attestation_digest` is SHA-256 over a deterministic re-encoding of the document, so the
digest recorded on chain does not change with the document's encoding (tag 18 or not,
indefinite lengths, non-minimal integers, key order)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.x509.oid import SignatureAlgorithmOID
from eth_utils import keccak, to_checksum_address

from enclave import strict_cbor
from enclave.errors import AttestationError

COSE_ALG_ES384 = -35
COSE_HEADER_ALG = 1
COSE_SIGN1_TAG = 18
P384_COORDINATE_BYTES = 48
SHA384_BYTES = 48
MAX_DOCUMENT_BYTES = 32 * 1024  # the NSM's responses are at most 12 KiB
MAX_DOCUMENT_DEPTH = 8  # tag, COSE array, and nothing nested inside its byte strings
MAX_PAYLOAD_DEPTH = 4  # payload map, pcrs map or cabundle array
MAX_PCR_INDEX = 31
MAX_CABUNDLE = 8
MAX_TIMESTAMP_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, the last instant a datetime can hold
MAX_OPTIONAL_BYTES = {"public_key": 1024, "user_data": 512, "nonce": 512}  # the NSM's own limits
FUTURE_SKEW_MS = 60_000
AWS_NITRO_ROOT_PEM = (Path(__file__).resolve().parent / "aws_nitro_root_g1.pem").read_bytes()
REQUIRED_FIELDS = {"module_id": str, "digest": str, "timestamp": int, "pcrs": dict, "certificate": bytes, "cabundle": list}
OPTIONAL_FIELDS = ("public_key", "user_data", "nonce")


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
class AttestationDocument:
    """A document parsed and type-checked, nothing verified yet. `protected` and `payload`
    are the exact signed bytes; `digest` is `attestation_digest` of the document."""

    protected: bytes
    payload: bytes
    signature: bytes
    module_id: str
    timestamp_ms: int
    pcrs: dict[int, bytes]
    certificate: bytes
    cabundle: tuple[bytes, ...]
    public_key: bytes | None
    user_data: bytes | None
    nonce: bytes | None
    digest: bytes


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
    document_sha256: bytes  # of the bytes as received (where the store files them)
    digest: bytes  # attestation_digest: what the chain records

    @property
    def measurement(self) -> bytes:
        return self.pcrs[0]


def build_document(
    payload_fields: dict, leaf_key: ec.EllipticCurvePrivateKey, leaf_der: bytes, cabundle_der: list[bytes]
) -> bytes:
    """Signs a payload into an untagged COSE_Sign1, as the Nitro NSM does."""
    payload = cbor2.dumps({**payload_fields, "certificate": leaf_der, "cabundle": cabundle_der})
    protected = cbor2.dumps({COSE_HEADER_ALG: COSE_ALG_ES384})
    to_sign = cbor2.dumps(["Signature1", protected, b"", payload])
    r, s = decode_dss_signature(leaf_key.sign(to_sign, ec.ECDSA(hashes.SHA384())))
    signature = r.to_bytes(P384_COORDINATE_BYTES, "big") + s.to_bytes(P384_COORDINATE_BYTES, "big")
    return cbor2.dumps([protected, {}, payload, signature])


def ethereum_address(public_key: bytes) -> str | None:
    """Address of an uncompressed secp256k1 key (65 bytes with 0x04, or the raw 64)."""
    raw = public_key[1:] if len(public_key) == 65 and public_key[0] == 4 else public_key
    if len(raw) != 64:
        return None
    return to_checksum_address(keccak(raw)[-20:])


def attestation_digest(document: bytes) -> bytes:
    """SHA-256 of the document's deterministic re-encoding: the same for every encoding of
    the same document, different for any change of a field or of the signature."""
    return read_document(document).digest


def read_document(document: bytes) -> AttestationDocument:
    """Parses and type-checks a document (no signature or certificate checked)."""
    if not isinstance(document, bytes):
        raise AttestationError(f"document is a {type(document).__name__}, not bytes", "not-bytes")
    if len(document) > MAX_DOCUMENT_BYTES:
        raise AttestationError(f"document is {len(document)} bytes; at most {MAX_DOCUMENT_BYTES} allowed", "document-size")
    outer = _decode(document, "document", MAX_DOCUMENT_DEPTH, frozenset({COSE_SIGN1_TAG}))
    if isinstance(outer, strict_cbor.Tag):
        outer = outer.value
    if not isinstance(outer, list) or len(outer) != 4:
        raise AttestationError("not a COSE_Sign1 structure (an array of 4)", "not-cose-sign1")
    protected, unprotected, payload, signature = outer
    for name, part, kind in (("protected header", protected, bytes), ("unprotected header", unprotected, dict),
                             ("payload", payload, bytes), ("signature", signature, bytes)):
        if not isinstance(part, kind):
            raise AttestationError(f"COSE_Sign1 {name} is a {type(part).__name__}, not {kind.__name__}", "cose-part-type")
    if unprotected:
        raise AttestationError(f"unprotected header carries {sorted(map(repr, unprotected))}; Nitro sends it empty",
                               "unprotected-header")
    header = _decode(protected, "protected header", 1)
    if not isinstance(header, dict) or set(header) != {COSE_HEADER_ALG}:
        raise AttestationError(f"protected header must be exactly {{1: alg}}, got {header!r}", "protected-header")
    if header[COSE_HEADER_ALG] != COSE_ALG_ES384:
        raise AttestationError(f"unsupported algorithm {header[COSE_HEADER_ALG]!r} (ES384, -35, required)", "unsupported-algorithm")
    if len(signature) != 2 * P384_COORDINATE_BYTES:
        raise AttestationError(f"signature is {len(signature)} bytes; ES384 needs 96", "signature-length")
    fields = _decode(payload, "payload", MAX_PAYLOAD_DEPTH)
    checked = _check_payload(fields)
    canonical = strict_cbor.encode([strict_cbor.encode(header), {}, strict_cbor.encode(fields), signature])
    return AttestationDocument(protected=protected, payload=payload, signature=signature, **checked,
                               digest=hashlib.sha256(canonical).digest())


def _decode(data: bytes, what: str, max_depth: int, allowed_tags: frozenset[int] = frozenset()) -> object:
    try:
        return strict_cbor.decode(data, max_depth=max_depth, allowed_tags=allowed_tags)
    except strict_cbor.CborError as error:
        raise AttestationError(f"{what}: {error}", error.code) from None


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _check_payload(fields: object) -> dict:
    if not isinstance(fields, dict):
        raise AttestationError(f"payload is a {_type_name(fields)}, not a map", "payload-type")
    unknown = [key for key in fields if key not in REQUIRED_FIELDS and key not in OPTIONAL_FIELDS]
    if unknown:
        raise AttestationError(f"payload has unexpected fields {sorted(map(repr, unknown))}", "unknown-field")
    for name, kind in REQUIRED_FIELDS.items():
        if name not in fields:
            raise AttestationError(f"payload lacks {name}", "missing-field")
        value = fields[name]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise AttestationError(f"payload field {name} is a {_type_name(value)}, not {kind.__name__}", "field-type")
    for name in OPTIONAL_FIELDS:
        value = fields.get(name)
        if value is not None and not isinstance(value, bytes):
            raise AttestationError(f"payload field {name} is a {_type_name(value)}, not bytes or null", "field-type")
        if value is not None and len(value) > MAX_OPTIONAL_BYTES[name]:
            raise AttestationError(f"payload field {name} is {len(value)} bytes; at most {MAX_OPTIONAL_BYTES[name]}", "field-size")
    if fields["digest"] != "SHA384":
        raise AttestationError(f"digest {fields['digest']!r} is not SHA384", "digest-algorithm")
    if not fields["module_id"]:
        raise AttestationError("module_id is empty", "field-value")
    if not 0 < fields["timestamp"] <= MAX_TIMESTAMP_MS:
        raise AttestationError(f"timestamp {fields['timestamp']} is not a time from 1970 to 9999 in milliseconds", "field-value")
    if not fields["certificate"]:
        raise AttestationError("certificate is empty", "field-value")
    cabundle = fields["cabundle"]
    if not 1 <= len(cabundle) <= MAX_CABUNDLE:
        raise AttestationError(f"cabundle holds {len(cabundle)} certificates; 1 to {MAX_CABUNDLE} allowed", "field-value")
    if not all(isinstance(der, bytes) and der for der in cabundle):
        raise AttestationError("cabundle holds something other than non-empty byte strings", "field-type")
    pcrs = fields["pcrs"]
    for index, value in pcrs.items():
        if not isinstance(index, int) or not 0 <= index <= MAX_PCR_INDEX:
            raise AttestationError(f"PCR index {index!r} is not an integer from 0 to {MAX_PCR_INDEX}", "pcr")
        if not isinstance(value, bytes) or len(value) != SHA384_BYTES:
            shape = f"{len(value)} bytes" if isinstance(value, bytes) else _type_name(value)
            raise AttestationError(f"PCR{index} is {shape}; a SHA-384 register is {SHA384_BYTES} bytes", "pcr")
    if 0 not in pcrs:
        raise AttestationError("pcrs lacks PCR0 (the image measurement)", "pcr")
    return {
        "module_id": fields["module_id"],
        "timestamp_ms": fields["timestamp"],
        "pcrs": dict(sorted(pcrs.items())),
        "certificate": fields["certificate"],
        "cabundle": tuple(cabundle),
        "public_key": fields.get("public_key"),
        "user_data": fields.get("user_data"),
        "nonce": fields.get("nonce"),
    }


def verify_document(
    document: bytes,
    *,
    expected_measurement: bytes | None,
    anchors: TrustAnchors = TrustAnchors(),
    expected_nonce: bytes | None = None,
    max_age_s: float | None = None,
    now_ms: int | None = None,
) -> VerifiedAttestation:
    """All checks or `AttestationError`; `now_ms` defaults to the current time (pass the
    document's own `timestamp_ms` to judge a stored document as of when it was made)."""
    parsed = read_document(document)
    at = datetime.fromtimestamp(parsed.timestamp_ms / 1000, tz=UTC)
    leaf, subjects = _verify_chain(parsed.certificate, parsed.cabundle, anchors, at)
    _verify_signature(leaf, parsed.protected, parsed.payload, parsed.signature)
    if expected_measurement is not None and parsed.pcrs[0] != expected_measurement:
        raise AttestationError(f"PCR0 {parsed.pcrs[0].hex()[:16]}... does not match the expected measurement "
                               f"{expected_measurement.hex()[:16]}...", "pcr0-mismatch")
    if expected_nonce is not None and parsed.nonce != expected_nonce:
        raise AttestationError("nonce does not match the one sent (replayed or substituted document)", "nonce-mismatch")
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    if parsed.timestamp_ms > now + FUTURE_SKEW_MS:
        raise AttestationError(f"document timestamp {at.isoformat()} is {(parsed.timestamp_ms - now) / 1000:.0f} s in the future",
                               "future-timestamp")
    if max_age_s is not None and (now - parsed.timestamp_ms) / 1000 > max_age_s:
        raise AttestationError(f"document is {(now - parsed.timestamp_ms) / 1000:.0f} s old; at most {max_age_s:.0f} s allowed",
                               "too-old")
    return VerifiedAttestation(
        module_id=parsed.module_id,
        timestamp_ms=parsed.timestamp_ms,
        pcrs=parsed.pcrs,
        public_key=parsed.public_key,
        enclave_address=ethereum_address(parsed.public_key) if parsed.public_key else None,
        user_data=parsed.user_data,
        nonce=parsed.nonce,
        certificate_chain=subjects,
        document_sha256=hashlib.sha256(document).digest(),
        digest=parsed.digest,
    )


def _subject(certificate: x509.Certificate) -> str:
    return certificate.subject.rfc4514_string()


def _load_certificate(der: bytes, position: int) -> x509.Certificate:
    """Parsed in full here: cryptography decodes names, validity and extensions lazily,
    and a malformed one must be a refusal now, not a ValueError later."""
    try:
        certificate = x509.load_der_x509_certificate(der)
        certificate.subject.rfc4514_string()
        certificate.issuer.rfc4514_string()
        _ = (certificate.version, certificate.not_valid_before_utc, certificate.not_valid_after_utc,
             certificate.signature_algorithm_oid, certificate.extensions)
    except (ValueError, x509.InvalidVersion, UnsupportedAlgorithm):
        raise AttestationError(f"certificate {position} of the chain (root first) cannot be parsed", "certificate-parse") from None
    return certificate


def _extension(certificate: x509.Certificate, kind: type) -> object | None:
    """The extension's value or None; `_load_certificate` has already decoded them all."""
    try:
        return certificate.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _verify_chain(
    leaf_der: bytes, cabundle: tuple[bytes, ...], anchors: TrustAnchors, at: datetime
) -> tuple[x509.Certificate, tuple[str, ...]]:
    """cabundle is [root, intermediates..., issuer of the leaf]; each signs the next."""
    if cabundle[0] not in anchors.roots_der:
        raise AttestationError("certificate chain does not lead to a trusted root", "untrusted-root")
    ordered = [_load_certificate(der, position) for position, der in enumerate((*cabundle, leaf_der))]
    for certificate in ordered:
        _check_algorithms(certificate)
    for issuer, subject in zip(ordered, ordered[1:]):
        if subject.issuer != issuer.subject:
            raise AttestationError(f"certificate '{_subject(subject)}' names issuer '{subject.issuer.rfc4514_string()}', "
                                   f"but the next certificate up is '{_subject(issuer)}'", "issuer-name")
        try:
            subject.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            raise AttestationError(f"certificate '{_subject(subject)}' is not signed by its issuer '{_subject(issuer)}'",
                                   "issuer-signature") from None
    for certificate in ordered:
        if at < certificate.not_valid_before_utc:
            raise AttestationError(f"certificate '{_subject(certificate)}' not yet valid at the document's timestamp "
                                   f"{at.isoformat()}", "certificate-not-yet-valid")
        if at > certificate.not_valid_after_utc:
            raise AttestationError(f"certificate '{_subject(certificate)}' expired at the document's timestamp "
                                   f"{at.isoformat()}", "certificate-expired")
    for position, issuer in enumerate(ordered[:-1]):
        constraints = _extension(issuer, x509.BasicConstraints)
        if constraints is None or not constraints.ca:
            raise AttestationError(f"issuer '{_subject(issuer)}' is not a CA", "issuer-not-ca")
        usage = _extension(issuer, x509.KeyUsage)
        if usage is not None and not usage.key_cert_sign:
            raise AttestationError(f"issuer '{_subject(issuer)}' may not sign certificates (keyUsage)", "issuer-key-usage")
        below = len(ordered) - 2 - position  # CA certificates between this issuer and the leaf
        if constraints.path_length is not None and below > constraints.path_length:
            raise AttestationError(f"issuer '{_subject(issuer)}' allows {constraints.path_length} CAs below it; "
                                   f"the chain has {below}", "path-length")
    leaf = ordered[-1]
    leaf_constraints = _extension(leaf, x509.BasicConstraints)
    if leaf_constraints is not None and leaf_constraints.ca:
        raise AttestationError(f"leaf '{_subject(leaf)}' is a CA certificate", "leaf-is-ca")
    leaf_usage = _extension(leaf, x509.KeyUsage)
    if leaf_usage is not None and not leaf_usage.digital_signature:
        raise AttestationError(f"leaf '{_subject(leaf)}' may not sign documents (keyUsage)", "leaf-key-usage")
    return leaf, tuple(_subject(c) for c in reversed(ordered))


def _check_algorithms(certificate: x509.Certificate) -> None:
    """Nitro chains are P-384 keys signed with ECDSA over SHA-384, root to leaf."""
    try:
        key = certificate.public_key()
    except (ValueError, UnsupportedAlgorithm):
        raise AttestationError(f"certificate '{_subject(certificate)}' has a key of an unsupported type; P-384 required",
                               "certificate-algorithm") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp384r1":
        kind = f"{key.curve.name} EC" if isinstance(key, ec.EllipticCurvePublicKey) else type(key).__name__
        raise AttestationError(f"certificate '{_subject(certificate)}' has a {kind} key; P-384 required", "certificate-algorithm")
    if certificate.signature_algorithm_oid != SignatureAlgorithmOID.ECDSA_WITH_SHA384:
        name = certificate.signature_algorithm_oid._name  # cryptography's name for the OID, or "Unknown OID"
        raise AttestationError(f"certificate '{_subject(certificate)}' is signed with {name}; ecdsa-with-SHA384 required",
                               "certificate-algorithm")


def _verify_signature(leaf: x509.Certificate, protected: bytes, payload: bytes, signature: bytes) -> None:
    to_verify = strict_cbor.encode(["Signature1", protected, b"", payload])
    r = int.from_bytes(signature[:P384_COORDINATE_BYTES])  # big-endian, as COSE (RFC 9053 2.1) writes r and s
    s = int.from_bytes(signature[P384_COORDINATE_BYTES:])
    try:
        leaf.public_key().verify(encode_dss_signature(r, s), to_verify, ec.ECDSA(hashes.SHA384()))
    except (InvalidSignature, ValueError):
        raise AttestationError("COSE signature does not verify with the leaf certificate", "cose-signature") from None
