"""The verifier's parsing: COSE structure, the CBOR itself, and every payload field's type,
each refused with its own code. Documents here are validly signed by a trusted test PKI,
so the only thing wrong with each is what the test changes."""

from __future__ import annotations

import cbor2
import pytest

from enclave.attestation import MAX_DOCUMENT_BYTES, read_document, verify_document
from enclave.errors import AttestationError
from tests.enclave.pki import ABSENT, DOCUMENT_TIME_MS, PCR0, PROTECTED_ES384, TestPki


@pytest.fixture(scope="module")
def pki() -> TestPki:
    return TestPki()


def refused(document, code: str, words: str, anchors=None) -> None:
    with pytest.raises(AttestationError) as raised:
        verify_document(document, expected_measurement=PCR0, now_ms=DOCUMENT_TIME_MS,
                        **({"anchors": anchors} if anchors else {}))
    assert (raised.value.code, raised.value.reason) == (code, words)


def test_fields_are_read_with_their_types(pki):
    parsed = read_document(pki.document(user_data=b"\x33" * 20))
    assert (parsed.module_id, parsed.timestamp_ms, parsed.pcrs[0], parsed.user_data, parsed.nonce) == (
        "i-test-enc0001", DOCUMENT_TIME_MS, PCR0, b"\x33" * 20, b"\x22" * 32)
    assert parsed.cabundle == (pki.root.der, pki.intermediate.der)


# --- the COSE envelope ---------------------------------------------------------------------

def test_trailing_bytes_after_the_cose_structure(pki):
    refused(pki.document() + b"\x00", "trailing-bytes", "document: 1 bytes follow the CBOR item")


def test_garbage_is_not_a_document():
    refused(b"\x00\x01garbage", "trailing-bytes", "document: 8 bytes follow the CBOR item")
    refused(b"\x84\x44", "truncated", "document: container of 4 items cannot fit in the rest of the input (byte 1)")
    refused(b"", "truncated", "document: CBOR ends early at byte 0")


def test_not_bytes_at_all():
    refused("a text document", "not-bytes", "document is a str, not bytes")


def test_document_of_exactly_the_size_limit_is_parsed(pki):
    """32 KiB exactly passes the size check and fails later, on its content."""
    refused(b"\x00" * MAX_DOCUMENT_BYTES, "trailing-bytes", f"document: {MAX_DOCUMENT_BYTES - 1} bytes follow the CBOR item")


def test_document_over_the_size_limit(pki):
    """32 KiB + 1: refused before any parsing (the NSM's documents are at most 12 KiB)."""
    refused(b"\x00" * (MAX_DOCUMENT_BYTES + 1), "document-size", f"document is {MAX_DOCUMENT_BYTES + 1} bytes; at most {MAX_DOCUMENT_BYTES} allowed")


def test_cose_array_of_three(pki):
    refused(cbor2.dumps(cbor2.loads(pki.document())[:3]), "not-cose-sign1", "not a COSE_Sign1 structure (an array of 4)")


@pytest.mark.parametrize(("index", "value", "words"), [
    (0, {1: -35}, "COSE_Sign1 protected header is a dict, not bytes"),
    (1, [], "COSE_Sign1 unprotected header is a list, not dict"),
    (2, "payload as text", "COSE_Sign1 payload is a str, not bytes"),
    (3, 96, "COSE_Sign1 signature is a int, not bytes"),
])
def test_cose_part_of_the_wrong_type(pki, index, value, words):
    parts = cbor2.loads(pki.document())
    parts[index] = value
    refused(cbor2.dumps(parts), "cose-part-type", words)


def test_tag_other_than_cose_sign1(pki):
    refused(cbor2.dumps(cbor2.CBORTag(17, cbor2.loads(pki.document()))), "unexpected-tag", "document: unexpected CBOR tag 17")


def test_tag_18_is_accepted(pki):
    tagged = cbor2.dumps(cbor2.CBORTag(18, cbor2.loads(pki.document())))
    verified = verify_document(tagged, expected_measurement=PCR0, anchors=pki.anchors, now_ms=DOCUMENT_TIME_MS)
    assert verified.measurement == PCR0


def test_non_empty_unprotected_header(pki):
    document = pki.raw_payload_document(cbor2.dumps(pki.raw_payload()), unprotected={4: b"kid"})
    refused(document, "unprotected-header", "unprotected header carries ['4']; Nitro sends it empty", pki.anchors)


def test_duplicate_key_in_the_protected_header(pki):
    """{1: -35, 1: -35}: the second alg could silently replace the first in a lax decoder."""
    document = pki.raw_payload_document(cbor2.dumps(pki.raw_payload()), protected=bytes.fromhex("a2013822013822"))
    refused(document, "duplicate-key", "protected header: duplicate map key 1 at byte 4", pki.anchors)


def test_protected_header_nested_beyond_one_level(pki):
    """{1: [-35]}: the header is a flat map, so a nested value is refused as too deep."""
    document = pki.raw_payload_document(cbor2.dumps(pki.raw_payload()), protected=cbor2.dumps({1: [-35]}))
    refused(document, "too-deep", "protected header: CBOR nested deeper than 1 levels", pki.anchors)


def test_extra_label_in_the_protected_header(pki):
    document = pki.raw_payload_document(cbor2.dumps(pki.raw_payload()), protected=cbor2.dumps({1: -35, 3: 0}))
    refused(document, "protected-header", "protected header must be exactly {1: alg}, got {1: -35, 3: 0}", pki.anchors)


def test_signature_of_the_wrong_length(pki):
    parts = cbor2.loads(pki.document())
    parts[3] = parts[3][:95]
    refused(cbor2.dumps(parts), "signature-length", "signature is 95 bytes; ES384 needs 96")


# --- the payload's CBOR --------------------------------------------------------------------

def _payload_with_duplicate_nonce(pki) -> bytes:
    """The payload map with a second `nonce` entry appended (map header count + 1)."""
    fields = pki.raw_payload()
    encoded = cbor2.dumps(fields)
    assert encoded[0] == 0xA0 + len(fields)  # a map of 9 entries, head in one byte
    return bytes([encoded[0] + 1]) + encoded[1:] + cbor2.dumps("nonce") + cbor2.dumps(b"\x99" * 32)


def test_duplicate_key_in_the_payload(pki):
    """A signed payload with `nonce` twice: which one a consumer sees would depend on its
    decoder, so the document is refused outright."""
    refused(pki.raw_payload_document(_payload_with_duplicate_nonce(pki)), "duplicate-key",
            f"payload: duplicate map key 'nonce' at byte {len(_payload_with_duplicate_nonce(pki)) - 40}", pki.anchors)


def test_trailing_bytes_inside_the_payload(pki):
    refused(pki.raw_payload_document(cbor2.dumps(pki.raw_payload()) + b"\xf6"), "trailing-bytes",
            "payload: 1 bytes follow the CBOR item", pki.anchors)


def test_payload_that_is_not_a_map(pki):
    refused(pki.raw_payload_document(cbor2.dumps([1, 2])), "payload-type", "payload is a list, not a map", pki.anchors)


def test_float_in_the_payload(pki):
    refused(pki.raw_payload_document(cbor2.dumps(pki.raw_payload(timestamp=1.5))), "unsupported-value",
            "payload: unsupported CBOR floating-point number at byte 58", pki.anchors)


def test_text_that_is_not_utf8(pki):
    payload = cbor2.dumps(pki.raw_payload(module_id="AAAA")).replace(b"\x64AAAA", b"\x64\xff\xfe\xfd\xfc")
    refused(pki.raw_payload_document(payload), "bad-text", "payload: text string is not UTF-8 (before byte 16)", pki.anchors)


def test_payload_nested_too_deep(pki):
    refused(pki.raw_payload_document(cbor2.dumps(pki.raw_payload(user_data=[[[[b"x"]]]]))), "too-deep",
            "payload: CBOR nested deeper than 4 levels", pki.anchors)


def test_payload_with_a_tag(pki):
    refused(pki.raw_payload_document(cbor2.dumps(pki.raw_payload(timestamp=cbor2.CBORTag(1, DOCUMENT_TIME_MS)))),
            "unexpected-tag", "payload: unexpected CBOR tag 1", pki.anchors)


def test_map_key_of_an_unhashable_type(pki):
    refused(pki.raw_payload_document(bytes.fromhex("a1") + cbor2.dumps([1]) + b"\x01"), "bad-key",
            "payload: map key of type list at byte 1 (integer, text or bytes only)", pki.anchors)


# --- each payload field --------------------------------------------------------------------

@pytest.mark.parametrize("field", ["module_id", "digest", "timestamp", "pcrs", "certificate", "cabundle"])
def test_each_required_field_missing(pki, field):
    fields = pki.raw_payload()
    del fields[field]
    refused(pki.raw_payload_document(cbor2.dumps(fields)), "missing-field", f"payload lacks {field}", pki.anchors)


@pytest.mark.parametrize(("field", "value", "words"), [
    ("module_id", b"i-test", "payload field module_id is a bytes, not str"),
    ("digest", 384, "payload field digest is a int, not str"),
    ("timestamp", "1767225600000", "payload field timestamp is a str, not int"),
    ("timestamp", True, "payload field timestamp is a bool, not int"),
    ("timestamp", None, "payload field timestamp is a null, not int"),
    ("pcrs", [PCR0], "payload field pcrs is a list, not dict"),
    ("certificate", "MIIB", "payload field certificate is a str, not bytes"),
    ("cabundle", {0: b"x"}, "payload field cabundle is a dict, not list"),
    ("public_key", "04abcd", "payload field public_key is a str, not bytes or null"),
    ("user_data", 7, "payload field user_data is a int, not bytes or null"),
    ("nonce", [b"\x22"], "payload field nonce is a list, not bytes or null"),
])
def test_each_field_of_the_wrong_type(pki, field, value, words):
    refused(pki.raw_payload_document(cbor2.dumps(pki.raw_payload(**{field: value}))), "field-type", words, pki.anchors)


def test_cabundle_entry_that_is_not_bytes(pki):
    fields = pki.raw_payload()
    fields["cabundle"] = [pki.root.der, "not DER"]
    refused(pki.raw_payload_document(cbor2.dumps(fields)), "field-type", "cabundle holds something other than non-empty byte strings", pki.anchors)


def test_unexpected_payload_field(pki):
    refused(pki.raw_payload_document(cbor2.dumps(pki.raw_payload(debug=True))), "unknown-field",
            "payload has unexpected fields [\"'debug'\"]", pki.anchors)


def test_optional_fields_may_be_absent(pki):
    document = pki.raw_payload_document(cbor2.dumps(pki.raw_payload(public_key=ABSENT, user_data=ABSENT, nonce=ABSENT)))
    verified = verify_document(document, expected_measurement=PCR0, anchors=pki.anchors, now_ms=DOCUMENT_TIME_MS)
    assert (verified.public_key, verified.enclave_address, verified.nonce) == (None, None, None)


@pytest.mark.parametrize(("field", "limit"), [("public_key", 1024), ("user_data", 512), ("nonce", 512)])
def test_optional_field_size_limits(pki, field, limit):
    """The NSM's own limits: at the limit accepted, one byte over refused."""
    at_limit = pki.raw_payload_document(cbor2.dumps(pki.raw_payload(**{field: b"\x01" * limit})))
    assert read_document(at_limit).timestamp_ms == DOCUMENT_TIME_MS
    refused(pki.raw_payload_document(cbor2.dumps(pki.raw_payload(**{field: b"\x01" * (limit + 1)}))), "field-size",
            f"payload field {field} is {limit + 1} bytes; at most {limit}", pki.anchors)


@pytest.mark.parametrize(("field", "value", "words"), [
    ("module_id", "", "module_id is empty"),
    ("timestamp", 0, "timestamp 0 is not a time from 1970 to 9999 in milliseconds"),
    # found by the fuzzer: a flipped high bit made datetime raise ValueError (year out of range)
    ("timestamp", 2**64 - 1, "timestamp 18446744073709551615 is not a time from 1970 to 9999 in milliseconds"),
    ("timestamp", 253_402_300_800_000, "timestamp 253402300800000 is not a time from 1970 to 9999 in milliseconds"),
    ("certificate", b"", "certificate is empty"),
    ("cabundle", [], "cabundle holds 0 certificates; 1 to 8 allowed"),
])
def test_empty_or_zero_field_values(pki, field, value, words):
    refused(pki.raw_payload_document(cbor2.dumps(pki.raw_payload(**{field: value}))), "field-value", words, pki.anchors)


def test_timestamp_of_one_millisecond_is_read(pki):
    document = pki.raw_payload_document(cbor2.dumps(pki.raw_payload(timestamp=1)))
    assert read_document(document).timestamp_ms == 1


def test_cabundle_of_exactly_eight_is_read(pki):
    fields = pki.raw_payload()
    fields["cabundle"] = [pki.root.der] * 8
    assert len(read_document(pki.raw_payload_document(cbor2.dumps(fields))).cabundle) == 8


def test_timestamp_at_the_last_representable_millisecond_is_read(pki):
    document = pki.raw_payload_document(cbor2.dumps(pki.raw_payload(timestamp=253_402_300_799_999)))
    assert read_document(document).timestamp_ms == 253_402_300_799_999


def test_cabundle_longer_than_eight(pki):
    fields = pki.raw_payload()
    fields["cabundle"] = [pki.root.der] * 9
    refused(pki.raw_payload_document(cbor2.dumps(fields)), "field-value", "cabundle holds 9 certificates; 1 to 8 allowed", pki.anchors)


def test_digest_other_than_sha384(pki):
    refused(pki.raw_payload_document(cbor2.dumps(pki.raw_payload(digest="SHA256"))), "digest-algorithm",
            "digest 'SHA256' is not SHA384", pki.anchors)


@pytest.mark.parametrize(("pcrs", "words"), [
    ({0: PCR0, 32: PCR0}, "PCR index 32 is not an integer from 0 to 31"),
    ({0: PCR0, -1: PCR0}, "PCR index -1 is not an integer from 0 to 31"),
    ({0: PCR0, "1": PCR0}, "PCR index '1' is not an integer from 0 to 31"),
    ({0: PCR0[:32]}, "PCR0 is 32 bytes; a SHA-384 register is 48 bytes"),
    ({0: PCR0, 1: "zero"}, "PCR1 is str; a SHA-384 register is 48 bytes"),
    ({1: PCR0}, "pcrs lacks PCR0 (the image measurement)"),
])
def test_malformed_pcrs(pki, pcrs, words):
    refused(pki.raw_payload_document(cbor2.dumps(pki.raw_payload(pcrs=pcrs))), "pcr", words, pki.anchors)


def test_pcr_index_31_is_the_last_accepted(pki):
    document = pki.raw_payload_document(cbor2.dumps(pki.raw_payload(pcrs={0: PCR0, 31: PCR0})))
    assert sorted(read_document(document).pcrs) == [0, 31]


@pytest.mark.parametrize(("public_key", "expected"), [
    ("prefixed", "derived"), ("raw", "derived"), ("prefix 05", None), ("63 bytes", None), ("empty", None)])
def test_ethereum_address_of_the_attested_key(public_key, expected):
    """0x04 || X || Y (65 bytes) or X || Y (64) name an address; anything else names none.
    The expected address is eth_keys' own, not recomputed the verifier's way."""
    from eth_keys import keys

    from enclave.attestation import ethereum_address

    key = keys.PrivateKey(b"\x07" * 32).public_key
    raw = key.to_bytes()
    given = {"prefixed": b"\x04" + raw, "raw": raw, "prefix 05": b"\x05" + raw, "63 bytes": raw[:63], "empty": b""}[public_key]
    assert ethereum_address(given) == (key.to_checksum_address() if expected else None)


@pytest.mark.parametrize("form", ["pem", "pem with leading whitespace", "der"])
def test_trusting_a_root_given_as_pem_or_der(pki, form):
    from cryptography.hazmat.primitives import serialization

    from enclave.attestation import TrustAnchors

    pem = pki.root.certificate.public_bytes(serialization.Encoding.PEM)
    given = {"pem": pem, "pem with leading whitespace": b"\n  " + pem, "der": pki.root.der}[form]
    assert TrustAnchors().with_root(given).roots_der[-1] == pki.root.der


def test_protected_header_bytes_are_the_ones_signed(pki):
    """The verifier checks the signature over the protected bytes as sent: re-encoding the
    header {1: -35} with a non-minimal integer changes the signed bytes and fails."""
    parts = cbor2.loads(pki.document())
    assert parts[0] == PROTECTED_ES384
    parts[0] = bytes.fromhex("a1") + bytes.fromhex("1801") + bytes.fromhex("3822")  # key 1 as a two-byte integer
    refused(cbor2.dumps(parts), "cose-signature", "COSE signature does not verify with the leaf certificate", pki.anchors)
