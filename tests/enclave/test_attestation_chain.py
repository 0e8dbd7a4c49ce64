"""The certificate chain and time checks of the verifier, one check per test: each document
below is valid except for the one thing the test name says, and is refused with that
check's own code and words. The baseline test shows the unmodified PKI verifies, so a
refusal below is caused by the one change and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from enclave.attestation import FUTURE_SKEW_MS, TrustAnchors, verify_document
from enclave.errors import AttestationError
from tests.enclave.pki import (
    AWS_VECTORS,
    DOCUMENT_TIME,
    DOCUMENT_TIME_MS,
    PCR0,
    Issued,
    PROTECTED_ES384,
    TestPki,
    aws_document,
    aws_payload,
    cose,
    issue,
    key_usage,
    make_key,
    name,
)


@pytest.fixture(scope="module")
def pki() -> TestPki:
    return TestPki()


def refused(document: bytes, code: str, words: str, *, anchors, now_ms: int = DOCUMENT_TIME_MS, **kwargs) -> AttestationError:
    with pytest.raises(AttestationError) as raised:
        verify_document(document, expected_measurement=kwargs.pop("expected_measurement", PCR0), anchors=anchors,
                        now_ms=now_ms, **kwargs)
    assert (raised.value.code, raised.value.reason) == (code, words)
    return raised.value


def test_baseline_document_of_the_test_pki_verifies(pki):
    """Every field comes back as the document states it; the address is keccak of the key
    without its 0x04 prefix, computed here by eth_keys rather than by the verifier."""
    from eth_keys import keys

    public_key = keys.PrivateKey(b"\x01" * 32).public_key
    document = pki.document(public_key=b"\x04" + public_key.to_bytes(), user_data=b"\x33" * 20)
    verified = verify_document(document, expected_measurement=PCR0, anchors=pki.anchors, now_ms=DOCUMENT_TIME_MS,
                               expected_nonce=b"\x22" * 32, max_age_s=60)
    assert (verified.module_id, verified.timestamp_ms, verified.nonce, verified.user_data) == (
        "i-test-enc0001", DOCUMENT_TIME_MS, b"\x22" * 32, b"\x33" * 20)
    assert verified.public_key == b"\x04" + public_key.to_bytes()
    assert verified.enclave_address == public_key.to_checksum_address()
    assert verified.pcrs == {0: PCR0, 1: bytes(48), 2: bytes(48)}
    assert verified.certificate_chain == ("CN=test leaf,O=verifier tests", "CN=test intermediate,O=verifier tests",
                                          "CN=test root,O=verifier tests")
    assert verified.measurement == PCR0


# --- forgeries ---------------------------------------------------------------------------

@pytest.mark.needs_data
def test_forged_chain_under_the_real_aws_root_fails_the_issuer_signature_check():
    """An attacker copies the real AWS root into cabundle, then adds a CA of their own that
    names the AWS root as its issuer (same name, attacker's signature) and a leaf under it
    with any PCR0. Only the issuer-signature check stands between that and acceptance."""
    aws_root_der = aws_payload(aws_document(AWS_VECTORS[0]))["cabundle"][0]
    aws_root = x509.load_der_x509_certificate(aws_root_der)
    attacker_ca = issue("attacker CA", None, ca=True, issuer_name=aws_root.subject, key_usage=key_usage(cert_sign=True))
    leaf = issue("attacker leaf", attacker_ca, ca=False, key_usage=key_usage(digital_signature=True))
    forged = TestPki().document(leaf=leaf, cabundle=[aws_root_der, attacker_ca.der], pcrs={0: b"\xaa" * 48})
    refused(forged, "issuer-signature", "certificate 'CN=attacker CA,O=verifier tests' is not signed by its issuer "
                    "'CN=aws.nitro-enclaves,OU=AWS,O=Amazon,C=US'", anchors=_aws_only(), expected_measurement=b"\xaa" * 48)


@pytest.mark.needs_data
def test_attacker_leaf_under_the_real_aws_instance_ca_fails_the_issuer_signature_check():
    """The whole real AWS chain, then a leaf the attacker signed with their own key but that
    names the real instance CA as issuer, at the real document's time."""
    real = aws_payload(aws_document(AWS_VECTORS[0]))
    instance_ca = x509.load_der_x509_certificate(real["cabundle"][-1])
    at = real["timestamp"]
    when = datetime.fromtimestamp(at / 1000, tz=UTC)
    leaf = issue("attacker leaf", None, ca=False, issuer_name=instance_ca.subject, not_before=when - timedelta(minutes=5),
                 key_usage=key_usage(digital_signature=True))
    forged = TestPki().document(leaf=leaf, cabundle=list(real["cabundle"]), timestamp=at)
    refused(forged, "issuer-signature", "certificate 'CN=attacker leaf,O=verifier tests' is not signed by its issuer "
            f"'{instance_ca.subject.rfc4514_string()}'",
            anchors=_aws_only(), now_ms=at)


def _aws_only() -> TrustAnchors:
    return TrustAnchors()


def test_leaf_naming_another_issuer_than_the_certificate_above_it(pki):
    """Signed by the intermediate's key (so the signature itself is fine) but naming a
    different issuer: the link is refused on the name."""
    leaf = issue("test leaf", pki.intermediate, ca=False, issuer_name=name("someone else"), key_usage=key_usage(digital_signature=True))
    refused(pki.document(leaf=leaf), "issuer-name", "certificate 'CN=test leaf,O=verifier tests' names issuer 'CN=someone else,O=verifier tests', "
            "but the next certificate up is 'CN=test intermediate,O=verifier tests'", anchors=pki.anchors)


def test_certificate_with_an_unknown_version(pki):
    """Found by the fuzzer: version 4 (encoded 3) raises cryptography's InvalidVersion, which
    is not a ValueError."""
    leaf = pki.leaf()
    version_field = b"\xa0\x03\x02\x01\x02"  # [0] EXPLICIT INTEGER 2 (v3)
    assert leaf.der.count(version_field) == 1
    document = cbor2.loads(pki.document(leaf=leaf))
    payload = cbor2.loads(document[2])
    payload["certificate"] = leaf.der.replace(version_field, b"\xa0\x03\x02\x01\x03")
    document[2] = cbor2.dumps(payload)
    refused(cbor2.dumps(document), "certificate-parse", "certificate 2 of the chain (root first) cannot be parsed",
            anchors=pki.anchors)


def test_leaf_signed_by_a_key_that_is_not_its_issuers(pki):
    leaf = issue("test leaf", pki.intermediate, ca=False, signing_key=make_key(), key_usage=key_usage(digital_signature=True))
    refused(pki.document(leaf=leaf), "issuer-signature", "certificate 'CN=test leaf,O=verifier tests' is not signed by its issuer "
            "'CN=test intermediate,O=verifier tests'", anchors=pki.anchors)


# --- CA constraints ------------------------------------------------------------------------

def test_non_ca_intermediate(pki):
    """A certificate with basicConstraints ca=false, validly signed by the root, used to
    issue the leaf."""
    not_ca = issue("not a CA", pki.root, ca=False, lifetime=timedelta(days=30), key_usage=key_usage(cert_sign=True))
    leaf = pki.leaf(issuer=not_ca)
    refused(pki.document(leaf=leaf, chain=[pki.root, not_ca]), "issuer-not-ca", "issuer 'CN=not a CA,O=verifier tests' is not a CA",
            anchors=pki.anchors)


def test_intermediate_without_basic_constraints_is_not_a_ca(pki):
    bare = issue("no constraints", pki.root, ca=None, lifetime=timedelta(days=30))
    refused(pki.document(leaf=pki.leaf(issuer=bare), chain=[pki.root, bare]), "issuer-not-ca",
            "issuer 'CN=no constraints,O=verifier tests' is not a CA", anchors=pki.anchors)


def test_ca_whose_key_usage_forbids_signing_certificates(pki):
    limited = issue("no certSign", pki.root, ca=True, lifetime=timedelta(days=30), key_usage=key_usage(digital_signature=True))
    refused(pki.document(leaf=pki.leaf(issuer=limited), chain=[pki.root, limited]), "issuer-key-usage",
            "issuer 'CN=no certSign,O=verifier tests' may not sign certificates (keyUsage)", anchors=pki.anchors)


def test_leaf_issued_by_the_root_itself_with_a_one_certificate_bundle(pki):
    """cabundle = [root]: the shortest chain there is, and a valid one."""
    leaf = pki.leaf(issuer=pki.root)
    verified = verify_document(pki.document(leaf=leaf, chain=[pki.root]), expected_measurement=PCR0, anchors=pki.anchors,
                               now_ms=DOCUMENT_TIME_MS)
    assert verified.certificate_chain == ("CN=test leaf,O=verifier tests", "CN=test root,O=verifier tests")


def test_certificate_with_a_malformed_extension(pki):
    """basicConstraints whose value is an empty INTEGER instead of a SEQUENCE: the
    certificate loads, its extensions do not decode, and that is a parse refusal before
    any other check looks at them."""
    leaf = pki.leaf()
    constraints = b"\x06\x03\x55\x1d\x13\x01\x01\xff\x04\x02\x30\x00"  # OID 2.5.29.19, critical, OCTET STRING {SEQUENCE {}}
    assert leaf.der.count(constraints) == 1
    document = cbor2.loads(pki.document(leaf=leaf))
    payload = cbor2.loads(document[2])
    payload["certificate"] = leaf.der.replace(constraints, constraints[:-2] + b"\x02\x00")
    document[2] = cbor2.dumps(payload)
    refused(cbor2.dumps(document), "certificate-parse", "certificate 2 of the chain (root first) cannot be parsed",
            anchors=pki.anchors)


def test_path_length_constraint(pki):
    """Root says path length 0 (no CA below it), yet an intermediate CA sits between it
    and the leaf: 1 CA below > 0 allowed."""
    root = issue("strict root", None, ca=True, path_length=0, lifetime=timedelta(days=30), key_usage=key_usage(cert_sign=True))
    intermediate = issue("middle", root, ca=True, lifetime=timedelta(days=30), key_usage=key_usage(cert_sign=True))
    anchors = pki.anchors.with_root(root.der)
    refused(pki.document(leaf=pki.leaf(issuer=intermediate), chain=[root, intermediate]), "path-length",
            "issuer 'CN=strict root,O=verifier tests' allows 0 CAs below it; the chain has 1", anchors=anchors)


def test_path_length_exactly_at_its_limit_is_accepted(pki):
    """The same chain with path length 1 at the root: 1 CA below <= 1 allowed."""
    root = issue("root pathlen 1", None, ca=True, path_length=1, lifetime=timedelta(days=30), key_usage=key_usage(cert_sign=True))
    intermediate = issue("middle", root, ca=True, lifetime=timedelta(days=30), key_usage=key_usage(cert_sign=True))
    verified = verify_document(pki.document(leaf=pki.leaf(issuer=intermediate), chain=[root, intermediate]),
                               expected_measurement=PCR0, anchors=pki.anchors.with_root(root.der), now_ms=DOCUMENT_TIME_MS)
    assert verified.certificate_chain[-1] == "CN=root pathlen 1,O=verifier tests"


def test_leaf_that_is_itself_a_ca(pki):
    refused(pki.document(leaf=pki.leaf(ca=True)), "leaf-is-ca", "leaf 'CN=test leaf,O=verifier tests' is a CA certificate",
            anchors=pki.anchors)


def test_leaf_whose_key_usage_forbids_signatures(pki):
    refused(pki.document(leaf=pki.leaf(key_usage=key_usage(cert_sign=True))), "leaf-key-usage",
            "leaf 'CN=test leaf,O=verifier tests' may not sign documents (keyUsage)", anchors=pki.anchors)


# --- validity at the document's time ---------------------------------------------------------

def test_leaf_not_yet_valid_at_the_document_time(pki):
    leaf = pki.leaf(not_before=DOCUMENT_TIME + timedelta(seconds=1))
    refused(pki.document(leaf=leaf), "certificate-not-yet-valid",
            "certificate 'CN=test leaf,O=verifier tests' not yet valid at the document's timestamp 2026-01-01T00:00:00+00:00", anchors=pki.anchors)


def test_leaf_valid_from_exactly_the_document_time_is_accepted(pki):
    leaf = pki.leaf(not_before=DOCUMENT_TIME)
    verified = verify_document(pki.document(leaf=leaf), expected_measurement=PCR0, anchors=pki.anchors, now_ms=DOCUMENT_TIME_MS)
    assert verified.timestamp_ms == DOCUMENT_TIME_MS


def test_leaf_expired_at_the_document_time(pki):
    """Valid 3 h from 4 h before the document: expired an hour before it was made."""
    leaf = pki.leaf(not_before=DOCUMENT_TIME - timedelta(hours=4))
    refused(pki.document(leaf=leaf), "certificate-expired",
            "certificate 'CN=test leaf,O=verifier tests' expired at the document's timestamp 2026-01-01T00:00:00+00:00", anchors=pki.anchors)


def test_leaf_expiring_exactly_at_the_document_time_is_accepted(pki):
    leaf = pki.leaf(not_before=DOCUMENT_TIME - timedelta(hours=3))  # notAfter == document time
    verified = verify_document(pki.document(leaf=leaf), expected_measurement=PCR0, anchors=pki.anchors, now_ms=DOCUMENT_TIME_MS)
    assert verified.timestamp_ms == DOCUMENT_TIME_MS


def test_intermediate_expired_at_the_document_time(pki):
    old = issue("old intermediate", pki.root, ca=True, not_before=DOCUMENT_TIME - timedelta(days=2),
                lifetime=timedelta(days=1), key_usage=key_usage(cert_sign=True))
    refused(pki.document(leaf=pki.leaf(issuer=old), chain=[pki.root, old]), "certificate-expired",
            "certificate 'CN=old intermediate,O=verifier tests' expired at the document's timestamp 2026-01-01T00:00:00+00:00", anchors=pki.anchors)


def test_intermediate_not_yet_valid_at_the_document_time(pki):
    early = issue("future intermediate", pki.root, ca=True, not_before=DOCUMENT_TIME + timedelta(days=1),
                  lifetime=timedelta(days=30), key_usage=key_usage(cert_sign=True))
    leaf = pki.leaf(issuer=early, not_before=DOCUMENT_TIME - timedelta(minutes=1))
    refused(pki.document(leaf=leaf, chain=[pki.root, early]), "certificate-not-yet-valid",
            "certificate 'CN=future intermediate,O=verifier tests' not yet valid at the document's timestamp "
            "2026-01-01T00:00:00+00:00", anchors=pki.anchors)


# --- the document's own time ---------------------------------------------------------------

def test_document_from_the_future(pki):
    """Made at DOCUMENT_TIME, judged 1 000 000 ms earlier: 1000 s ahead, beyond the 60 s skew."""
    refused(pki.document(), "future-timestamp", "document timestamp 2026-01-01T00:00:00+00:00 is 1000 s in the future",
            anchors=pki.anchors, now_ms=DOCUMENT_TIME_MS - 1_000_000)


def test_document_older_than_max_age_says_by_how_much(pki):
    """1 000 000 ms after it was made, with at most 300 s allowed."""
    refused(pki.document(), "too-old", "document is 1000 s old; at most 300 s allowed", anchors=pki.anchors, max_age_s=300,
            now_ms=DOCUMENT_TIME_MS + 1_000_000)


def test_time_defaults_to_the_wall_clock():
    """Without now_ms the verifier reads the clock: a document made now passes max_age 60 s,
    one made 10 minutes ahead is from the future, one made 2 hours ago is too old for 1 h."""
    now = datetime.now(tz=UTC).replace(microsecond=0)
    pki = TestPki(at=now)
    now_ms = int(now.timestamp() * 1000)
    verified = verify_document(pki.document(timestamp=now_ms), expected_measurement=PCR0, anchors=pki.anchors, max_age_s=60)
    assert verified.timestamp_ms == now_ms
    with pytest.raises(AttestationError) as ahead:
        verify_document(pki.document(timestamp=now_ms + 600_000), expected_measurement=PCR0, anchors=pki.anchors)
    assert ahead.value.code == "future-timestamp"
    with pytest.raises(AttestationError) as old:
        verify_document(pki.document(timestamp=now_ms - 7_200_000, leaf=pki.leaf(not_before=now - timedelta(hours=2, minutes=5))),
                        expected_measurement=PCR0, anchors=pki.anchors, max_age_s=3_600)
    assert old.value.code == "too-old"


def test_future_skew_boundary(pki):
    """60 000 ms ahead is tolerated (clock skew); 60 001 ms is not."""
    document = pki.document()
    verified = verify_document(document, expected_measurement=PCR0, anchors=pki.anchors, now_ms=DOCUMENT_TIME_MS - FUTURE_SKEW_MS)
    assert verified.timestamp_ms == DOCUMENT_TIME_MS
    refused(document, "future-timestamp", "document timestamp 2026-01-01T00:00:00+00:00 is 60 s in the future", anchors=pki.anchors,
            now_ms=DOCUMENT_TIME_MS - FUTURE_SKEW_MS - 1)


def test_max_age_boundary(pki):
    """max_age 300 s: exactly 300 000 ms old passes, 300 001 ms old is refused."""
    document = pki.document()
    verified = verify_document(document, expected_measurement=PCR0, anchors=pki.anchors, max_age_s=300,
                               now_ms=DOCUMENT_TIME_MS + 300_000)
    assert verified.timestamp_ms == DOCUMENT_TIME_MS
    refused(document, "too-old", "document is 300 s old; at most 300 s allowed", anchors=pki.anchors, max_age_s=300,
            now_ms=DOCUMENT_TIME_MS + 300_001)


# --- algorithms ----------------------------------------------------------------------------

def test_leaf_with_a_p256_key(pki):
    leaf = pki.leaf(key=make_key("p256"))
    refused(pki.document(leaf=leaf), "certificate-algorithm", "certificate 'CN=test leaf,O=verifier tests' has a secp256r1 EC key; P-384 required",
            anchors=pki.anchors)


def test_intermediate_with_an_rsa_key(pki):
    rsa_ca = issue("rsa intermediate", pki.root, ca=True, key=make_key("rsa"), lifetime=timedelta(days=30),
                   key_usage=key_usage(cert_sign=True))
    leaf = pki.leaf(issuer=rsa_ca, hash_algorithm=hashes.SHA384())
    refused(pki.document(leaf=leaf, chain=[pki.root, rsa_ca]), "certificate-algorithm",
            "certificate 'CN=rsa intermediate,O=verifier tests' has a RSAPublicKey key; P-384 required", anchors=pki.anchors)


def test_intermediate_with_a_key_of_an_unknown_algorithm(pki):
    """The intermediate's key algorithm OID id-ecPublicKey (1.2.840.10045.2.1) changed to the
    unassigned 1.2.840.10045.2.9: the certificate still parses, but its key cannot be read."""
    ec_public_key_oid = bytes.fromhex("06072a8648ce3d0201")
    assert pki.intermediate.der.count(ec_public_key_oid) == 1
    unknown = pki.intermediate.der.replace(ec_public_key_oid, bytes.fromhex("06072a8648ce3d0209"))
    refused(pki.document(cabundle=[pki.root.der, unknown]), "certificate-algorithm",
            "certificate 'CN=test intermediate,O=verifier tests' has a key of an unsupported type; P-384 required",
            anchors=pki.anchors)


def test_leaf_signed_with_sha256(pki):
    """Right curve, wrong hash: ecdsa-with-SHA256 where Nitro uses SHA-384 throughout."""
    leaf = pki.leaf(hash_algorithm=hashes.SHA256())
    refused(pki.document(leaf=leaf), "certificate-algorithm",
            "certificate 'CN=test leaf,O=verifier tests' is signed with ecdsa-with-SHA256; ecdsa-with-SHA384 required", anchors=pki.anchors)


def test_cose_algorithm_other_than_es384(pki):
    """Protected header {1: -7} (ES256)."""
    document = cbor2.loads(pki.document())
    document[0] = bytes.fromhex("a10126")
    refused(cbor2.dumps(document), "unsupported-algorithm", "unsupported algorithm -7 (ES384, -35, required)", anchors=pki.anchors)


# --- roots, parsing, signature -------------------------------------------------------------

def test_chain_to_a_root_that_is_not_trusted(pki):
    refused(pki.document(), "untrusted-root", "certificate chain does not lead to a trusted root", anchors=_aws_only())


def test_unparseable_certificate_in_the_bundle(pki):
    refused(pki.document(cabundle=[pki.root.der, b"\x30\x03\x02\x01\x00"]), "certificate-parse",
            "certificate 1 of the chain (root first) cannot be parsed", anchors=pki.anchors)


def test_certificate_whose_subject_name_is_malformed(pki):
    """Found by the fuzzer: DER that loads, but whose subject holds a value of a type no
    name may hold (tag 13 where a UTF8String, 12, was). cryptography decodes names lazily,
    so this used to escape as a ValueError at the first use of the subject."""
    leaf = pki.leaf()
    marker = b"\x0c\x09test leaf"
    assert leaf.der.count(marker) == 1
    document = cbor2.loads(pki.document(leaf=leaf))
    payload = cbor2.loads(document[2])
    payload["certificate"] = leaf.der.replace(marker, b"\x0d\x09test leaf")
    document[2] = cbor2.dumps(payload)
    refused(cbor2.dumps(document), "certificate-parse", "certificate 2 of the chain (root first) cannot be parsed",
            anchors=pki.anchors)


def test_signature_by_another_key_than_the_leaf(pki):
    leaf = pki.leaf()
    document = cbor2.loads(pki.document(leaf=leaf))
    other = Issued(leaf.certificate, make_key())
    document[3] = cbor2.loads(cose(PROTECTED_ES384, document[2], other.key))[3]
    refused(cbor2.dumps(document), "cose-signature", "COSE signature does not verify with the leaf certificate", anchors=pki.anchors)


def test_pcr0_and_nonce_mismatches_have_their_own_codes(pki):
    document = pki.document()
    refused(document, "pcr0-mismatch", "PCR0 0001020304050607... does not match the expected measurement 0101010101010101...",
            anchors=pki.anchors, expected_measurement=b"\x01" * 48)
    refused(document, "nonce-mismatch", "nonce does not match the one sent (replayed or substituted document)",
            anchors=pki.anchors, expected_nonce=b"\x23" * 32)
