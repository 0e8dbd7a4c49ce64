"""The digest recorded on chain (`attestation_digest`): SHA-256 of a deterministic
re-encoding, so no re-encoding of a document changes it, while any change of what the
document says does."""

from __future__ import annotations

import hashlib

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enclave import strict_cbor
from enclave.attestation import attestation_digest, verify_document
from tests.enclave.noisy_cbor import last_choice, noisy
from tests.enclave.pki import AWS_VECTORS, DOCUMENT_TIME_MS, PCR0, TestPki, aws_document, aws_payload

def parts(document: bytes) -> tuple[dict, dict, dict, bytes]:
    protected, unprotected, payload, signature = cbor2.loads(document)
    return cbor2.loads(protected), unprotected, cbor2.loads(payload), signature


def reencode(document: bytes, choose, *, tag: bool = False, inner: bool = True) -> bytes:
    """The document with its outer array (and, if `inner`, the protected header and the
    payload) written by the noisy encoder."""
    protected_map, unprotected, payload_map, signature = parts(document)
    raw_protected, _, raw_payload, _ = cbor2.loads(document)
    protected = noisy(protected_map, choose) if inner else raw_protected
    payload = noisy(payload_map, choose) if inner else raw_payload
    outer = noisy([protected, unprotected, payload, signature], choose)
    return (b"\xd2" + outer) if tag else outer


def test_a_canonical_document_digests_to_the_sha256_of_its_own_bytes():
    """Written deterministically from the start, re-encoding changes nothing: the digest is
    then plain SHA-256 of the bytes (derived independently of the re-encoder)."""
    pki = TestPki()
    fields = pki.raw_payload()
    protected, payload = strict_cbor.encode({1: -35}), strict_cbor.encode(fields)
    signature = cbor2.loads(pki.raw_payload_document(payload, protected=protected))[3]
    document = strict_cbor.encode([protected, {}, payload, signature])
    assert attestation_digest(document) == hashlib.sha256(document).digest()


@pytest.mark.needs_data
@pytest.mark.parametrize("name", AWS_VECTORS)
def test_outer_reencodings_of_real_aws_documents_still_verify_with_the_same_digest(name):
    """Tag 18, an indefinite-length array and 8-byte length heads around the signed bytes:
    the signature still holds (the signed bytes are unchanged) and the digest is the same."""
    document = aws_document(name)
    timestamp = aws_payload(document)["timestamp"]
    original = verify_document(document, expected_measurement=None, now_ms=timestamp)
    variants = [
        b"\xd2" + document,
        reencode(document, last_choice, inner=False),  # indefinite array, widest heads
        reencode(document, last_choice, tag=True, inner=False),
    ]
    for variant in variants:
        assert variant != document
        verified = verify_document(variant, expected_measurement=None, now_ms=timestamp)
        assert verified.digest == original.digest == attestation_digest(document)
        assert verified.document_sha256 != original.document_sha256  # the raw bytes did change


@pytest.mark.needs_data
@pytest.mark.parametrize("name", AWS_VECTORS)
def test_inner_reencodings_give_the_same_digest(name):
    """Re-encoding the payload itself (reordered keys, indefinite maps and strings,
    non-minimal integers) breaks the signature, but the digest names the same content."""
    document = aws_document(name)
    variant = reencode(document, last_choice, tag=True)
    assert cbor2.loads(cbor2.loads(variant[1:])[2]) == aws_payload(document)
    assert attestation_digest(variant) == attestation_digest(document)


@pytest.mark.needs_data
@settings(max_examples=150, deadline=None)
@given(st.sampled_from(AWS_VECTORS), st.randoms(use_true_random=False), st.booleans())
def test_any_noisy_reencoding_gives_the_same_digest(name, rng, tag):
    document = aws_document(name)
    variant = reencode(document, lambda n: rng.randrange(n), tag=tag)
    assert attestation_digest(variant) == attestation_digest(document)


def _with_payload(document: bytes, **changes) -> bytes:
    protected, unprotected, payload, signature = cbor2.loads(document)
    return cbor2.dumps([protected, unprotected, cbor2.dumps({**cbor2.loads(payload), **changes}), signature])


@pytest.mark.needs_data
@pytest.mark.parametrize("name", AWS_VECTORS)
def test_every_semantic_change_gives_another_digest(name):
    document = aws_document(name)
    payload = aws_payload(document)
    protected, unprotected, raw_payload, signature = cbor2.loads(document)
    changed_pcrs = {**payload["pcrs"], 0: bytes(48)}
    variants = {
        "timestamp + 1 ms": _with_payload(document, timestamp=payload["timestamp"] + 1),
        "PCR0": _with_payload(document, pcrs=changed_pcrs),
        "nonce": _with_payload(document, nonce=b"changed nonce"),
        "user_data": _with_payload(document, user_data=b"changed user data"),
        "public_key": _with_payload(document, public_key=bytes(64)),
        "module_id": _with_payload(document, module_id=payload["module_id"] + "x"),
        "signature bit": cbor2.dumps([protected, unprotected, raw_payload, bytes([signature[0] ^ 1]) + signature[1:]]),
    }
    digests = {label: attestation_digest(variant) for label, variant in variants.items()}
    assert attestation_digest(document) not in digests.values()
    assert len(set(digests.values())) == len(variants)


def test_local_documents_reencoded_keep_their_digest():
    pki = TestPki()
    document = pki.document()
    assert attestation_digest(reencode(document, last_choice, tag=True)) == attestation_digest(document)
    verified = verify_document(document, expected_measurement=PCR0, anchors=pki.anchors, now_ms=DOCUMENT_TIME_MS)
    assert verified.digest == attestation_digest(document)
