"""Only `AttestationError` escapes the verifier, whatever it is given: hypothesis mutates
real AWS documents and local ones byte by byte, and field by field (validly re-signed, so
the mutation reaches the field checks rather than stopping at the signature)."""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enclave.attestation import TrustAnchors, attestation_digest, verify_document
from enclave.errors import AttestationError
from tests.enclave.pki import AWS_VECTORS, DOCUMENT_TIME_MS, PCR0, TestPki, aws_document

PKI = TestPki()
LOCAL = PKI.document()
ANCHORS = PKI.anchors
FIELDS = ("module_id", "digest", "timestamp", "pcrs", "certificate", "cabundle", "public_key", "user_data", "nonce")
FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

cbor_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64 - 1) | st.floats(allow_nan=False) | st.binary(max_size=64)
    | st.text(max_size=16),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.integers(-3, 40) | st.text(max_size=4), children, max_size=4),
    max_leaves=12,
)


def outcome(document: bytes, anchors: TrustAnchors = ANCHORS) -> str:
    """'verified' or the refusal code; any other exception fails the test."""
    try:
        verify_document(document, expected_measurement=None, anchors=anchors, now_ms=DOCUMENT_TIME_MS)
    except AttestationError as error:
        assert error.code and error.reason
        return error.code
    return "verified"


@st.composite
def byte_mutations(draw, document: bytes) -> bytes:
    data = bytearray(document)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif kind == "delete" and data:
            del data[at:at + draw(st.integers(1, 4))]
        elif kind == "truncate":
            del data[at:]
    return bytes(data)


@pytest.mark.needs_data
@FUZZ
@given(st.sampled_from(AWS_VECTORS).flatmap(lambda name: byte_mutations(aws_document(name))))
def test_byte_mutations_of_real_aws_documents_raise_only_attestation_error(mutated):
    assert outcome(mutated, TrustAnchors()) in ("verified", *_codes())


@FUZZ
@given(byte_mutations(LOCAL))
def test_byte_mutations_of_local_documents_raise_only_attestation_error(mutated):
    assert outcome(mutated) in ("verified", *_codes())


@FUZZ
@given(st.sampled_from(FIELDS), cbor_values)
def test_any_value_in_any_field_of_a_validly_signed_document(field, value):
    """Each of the nine fields replaced by an arbitrary CBOR value and the payload signed
    again: the verifier refuses it with a code (or accepts it if it is still a valid
    document), never with a KeyError, TypeError or ValueError."""
    document = PKI.raw_payload_document(cbor2.dumps(PKI.raw_payload(**{field: value})))
    assert outcome(document) in ("verified", *_codes())


@FUZZ
@given(st.sampled_from(FIELDS), st.lists(st.tuples(cbor_values, cbor_values), max_size=3))
def test_missing_fields_and_extra_entries(field, extra):
    fields = PKI.raw_payload()
    del fields[field]
    payload = {**fields}
    for key, value in extra:
        try:
            payload[key] = value
        except TypeError:
            continue  # unhashable in Python: cannot be a key of the dict we encode from
    result = outcome(PKI.raw_payload_document(cbor2.dumps(payload)))
    if field in ("public_key", "user_data", "nonce") and set(payload) <= set(FIELDS):
        assert result in ("verified", *_codes())
    else:
        assert result in _codes() and result != "verified"


@FUZZ
@given(st.sampled_from(["certificate", 0, 1]), st.data())
def test_mutated_certificates_in_a_validly_signed_document(which, data):
    """One certificate's DER mutated, the payload re-signed: the mutation reaches the chain
    checks (this is how a lazily decoded, malformed subject name was found)."""
    fields = PKI.raw_payload()
    if which == "certificate":
        fields["certificate"] = data.draw(byte_mutations(fields["certificate"]))
    else:
        fields["cabundle"][which] = data.draw(byte_mutations(fields["cabundle"][which]))
    assert outcome(PKI.raw_payload_document(cbor2.dumps(fields))) in ("verified", *_codes())


@FUZZ
@given(cbor_values)
def test_any_cbor_value_as_the_whole_document(value):
    assert outcome(cbor2.dumps(value)) in _codes()


@FUZZ
@given(cbor_values, cbor_values)
def test_any_protected_and_unprotected_headers(protected, unprotected):
    document = PKI.raw_payload_document(cbor2.dumps(PKI.raw_payload()), protected=cbor2.dumps(protected),
                                        unprotected=unprotected if unprotected is not None else {0: 0})
    assert outcome(document) in _codes()


@FUZZ
@given(byte_mutations(LOCAL))
def test_digest_raises_only_attestation_error(mutated):
    try:
        digest = attestation_digest(mutated)
    except AttestationError as error:
        assert error.code in _codes()
    else:
        assert len(digest) == 32


def test_the_unmutated_local_document_verifies():
    """The fuzzers start from a document that verifies, so their refusals are the mutations'."""
    assert verify_document(LOCAL, expected_measurement=PCR0, anchors=ANCHORS, now_ms=DOCUMENT_TIME_MS).measurement == PCR0


def _codes() -> tuple[str, ...]:
    return ("not-bytes", "document-size", "truncated", "ill-formed", "trailing-bytes", "duplicate-key", "bad-key", "bad-text",
            "unexpected-tag", "unsupported-value", "too-deep", "not-cose-sign1", "cose-part-type", "unprotected-header",
            "protected-header", "unsupported-algorithm", "signature-length", "payload-type", "unknown-field",
            "missing-field", "field-type", "field-size", "field-value", "digest-algorithm", "pcr", "untrusted-root",
            "certificate-parse", "certificate-algorithm", "issuer-name", "issuer-signature", "certificate-not-yet-valid",
            "certificate-expired", "issuer-not-ca", "issuer-key-usage", "path-length", "leaf-is-ca", "leaf-key-usage",
            "cose-signature", "pcr0-mismatch", "nonce-mismatch", "future-timestamp", "too-old")
