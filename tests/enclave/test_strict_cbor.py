"""The strict CBOR reader and deterministic writer, against byte strings written out by hand
from RFC 8949 (appendix A examples and section 4.2.1's ordering rule)."""

from __future__ import annotations

import time

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enclave.strict_cbor import CborError, Tag, decode, encode, scan


def refused(data: bytes, code: str, words: str, **kwargs) -> None:
    with pytest.raises(CborError) as raised:
        decode(data, **kwargs)
    assert (raised.value.code, words in str(raised.value)) == (code, True), str(raised.value)


@pytest.mark.parametrize(("hex_bytes", "value"), [
    ("00", 0), ("17", 23), ("1818", 24), ("1903e8", 1000), ("1bffffffffffffffff", 2**64 - 1),
    ("20", -1), ("3863", -100), ("3bffffffffffffffff", -(2**64)),
    ("40", b""), ("4401020304", b"\x01\x02\x03\x04"), ("60", ""), ("6449455446", "IETF"),
    ("f4", False), ("f5", True), ("f6", None),
    ("80", []), ("83010203", [1, 2, 3]), ("a0", {}), ("a201020304", {1: 2, 3: 4}),
    ("5f42010243030405ff", b"\x01\x02\x03\x04\x05"),  # indefinite byte string, two chunks
    ("7f657374726561646d696e67ff", "streaming"),
    ("9f018202039f0405ffff", [1, [2, 3], [4, 5]]),
    ("bf61610161629f0203ffff", {"a": 1, "b": [2, 3]}),
])
def test_rfc_8949_examples_decode(hex_bytes, value):
    assert decode(bytes.fromhex(hex_bytes)) == value


def test_allowed_tag_is_kept_and_others_refused():
    assert decode(bytes.fromhex("d24101"), allowed_tags=frozenset({18})) == Tag(18, b"\x01")
    refused(bytes.fromhex("c11a514b67b0"), "unexpected-tag", "unexpected CBOR tag 1")


@pytest.mark.parametrize(("hex_bytes", "code", "words"), [
    ("0000", "trailing-bytes", "1 bytes follow the CBOR item"),
    ("a2010201", "truncated", "container of 4 items cannot fit"),  # {1: 2, 1: <missing>}
    ("1a0001", "truncated", "CBOR ends early at byte 1"),  # a 4-byte integer with 2 bytes
    ("a201020103", "duplicate-key", "duplicate map key 1 at byte 3"),
    ("bf6161016161 02ff".replace(" ", ""), "duplicate-key", "duplicate map key 'a'"),
    ("a1f401", "bad-key", "map key of type bool"),
    ("f93c00", "unsupported-value", "unsupported CBOR floating-point number"),
    ("f7", "unsupported-value", "unsupported CBOR simple value 23"),
    ("f820", "unsupported-value", "unsupported CBOR simple value 32"),
    ("f818", "ill-formed", "two-byte simple value 24 below 32"),
    ("1c", "ill-formed", "reserved additional information 28"),
    ("1f", "ill-formed", "major type 0 cannot have an indefinite length"),
    ("ff", "ill-formed", "unexpected break at byte 0"),
    ("5f6161ff", "ill-formed", "a chunk of an indefinite string must be a definite string of the same type"),
    ("5f5f4100ffff", "ill-formed", "a chunk of an indefinite string must be a definite string of the same type"),
    ("bf01ff", "ill-formed", "indefinite map ends after a key without a value"),
    ("62c328", "bad-text", "text string is not UTF-8"),
    ("5a00010000", "truncated", "string of 65536 bytes runs past the end"),
    ("9b00000000ffffffff", "truncated", "container of 4294967295 items cannot fit"),
    ("", "truncated", "CBOR ends early at byte 0"),
])
def test_ill_formed_or_unwanted_input_is_refused_with_its_code(hex_bytes, code, words):
    refused(bytes.fromhex(hex_bytes), code, words)


def test_depth_limit_is_exact():
    """[[[1]]] is three levels: accepted at max_depth 3, refused at 2."""
    assert decode(bytes.fromhex("81818101"), max_depth=3) == [[[1]]]
    refused(bytes.fromhex("81818101"), "too-deep", "nested deeper than 2 levels", max_depth=2)


def test_tags_and_indefinite_strings_count_as_levels():
    assert scan(bytes.fromhex("d24101"), max_depth=1) == 3
    with pytest.raises(CborError, match="deeper than 0"):
        scan(bytes.fromhex("d24101"), max_depth=0)
    with pytest.raises(CborError, match="deeper than 1"):
        scan(bytes.fromhex("815f4100ff"), max_depth=1)


def test_a_200_kb_nesting_bomb_is_refused_quickly_without_recursion():
    """200 000 one-element arrays: the scan stops at level 33 and never recurses."""
    bomb = b"\x81" * 200_000 + b"\x00"
    started = time.perf_counter()
    with pytest.raises(CborError, match="deeper than 32") as raised:
        scan(bomb, max_depth=32)
    assert raised.value.code == "too-deep"
    assert time.perf_counter() - started < 0.1


def test_a_deep_but_allowed_structure_is_scanned_to_its_end():
    """100 000 nested arrays with a limit above that: the iterative scan reaches the end."""
    deep = b"\x81" * 100_000 + b"\x00"
    assert scan(deep, max_depth=100_000) == len(deep)


def test_scan_returns_the_end_of_the_first_item():
    assert scan(bytes.fromhex("83010203ffff"), max_depth=4) == 4


@pytest.mark.parametrize(("value", "hex_bytes"), [
    (0, "00"), (23, "17"), (24, "1818"), (255, "18ff"), (256, "190100"), (65535, "19ffff"), (65536, "1a00010000"),
    (2**32, "1b0000000100000000"), (-1, "20"), (-25, "3818"), (b"\x01", "4101"), ("a", "6161"), (None, "f6"),
    ([1, [2]], "82018102"),
    # RFC 8949 4.2.1: keys sorted by their encoded bytes: 10 (0a) < 100 (1864) < -1 (20) < "z" (617a) < "aa" (626161)
    ({"aa": 1, "z": 2, -1: 3, 100: 4, 10: 5}, "a50a051864042003617a0262616101"),
])
def test_deterministic_encoding(value, hex_bytes):
    assert encode(value).hex() == hex_bytes


def test_encoding_refuses_what_has_no_deterministic_form():
    with pytest.raises(CborError, match="cannot encode float"):
        encode(1.5)
    with pytest.raises(CborError, match="does not fit CBOR's 64-bit range"):
        encode(2**64)


cbor_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64 - 1) | st.binary(max_size=20) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.integers(-5, 5) | st.text(max_size=3) | st.binary(max_size=3), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(cbor_values)
def test_decode_inverts_encode_and_agrees_with_cbor2(value):
    encoded = encode(value)
    assert decode(encoded, max_depth=64) == value
    assert cbor2.loads(encoded) == value


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_arbitrary_bytes_raise_only_cbor_error(data):
    try:
        decode(data, max_depth=8, allowed_tags=frozenset({18}))
    except CborError as error:
        assert error.code in {"truncated", "ill-formed", "trailing-bytes", "duplicate-key", "bad-key", "bad-text",
                              "unexpected-tag", "unsupported-value", "too-deep"}
