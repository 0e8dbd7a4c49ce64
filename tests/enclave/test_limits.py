"""The nesting pre-scans that run before any decoder: exact depth limits, brackets inside
JSON strings (escaped quotes included) not counted, and bombs refused fast."""

from __future__ import annotations

import json
import time

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enclave.limits import NestingError, RequestLimits, check_cbor_nesting, check_json_nesting


def json_depth(value) -> int:
    """Reference depth computed on the decoded value (arrays and objects count one each)."""
    if isinstance(value, list):
        return 1 + max((json_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((json_depth(v) for v in value.values()), default=0)
    return 0


def test_json_depth_limit_is_exact():
    """[[[1]]] is 3 deep: passes at 3, refused at 2."""
    check_json_nesting(b"[[[1]]]", 3)
    with pytest.raises(NestingError, match="JSON nested deeper than 2 levels"):
        check_json_nesting(b"[[[1]]]", 2)


@pytest.mark.parametrize("body", [
    b'{"a": "[[[[[[[[[["}',            # brackets inside a string
    b'{"a": "\\"[[[[[[[[[["}',         # after an escaped quote, still inside the string
    b'{"a": "\\\\", "b": 1}',          # an escaped backslash closes nothing early
    b'["\\u005b\\u005b\\u005b"]',      # escaped brackets are characters, not structure
])
def test_brackets_inside_strings_do_not_count(body):
    assert json_depth(json.loads(body)) <= 2
    check_json_nesting(body, 2)


def test_a_bracket_after_an_escaped_backslash_counts():
    """In "\\\\" the string ends at the second quote, so the [[[ after it is structure."""
    with pytest.raises(NestingError):
        check_json_nesting(b'["\\\\", [[[1]]]]', 3)


def test_unterminated_string_is_left_to_the_decoder():
    """`["abc` and `["[[[[` pass the scan at depth 1 (after the quote everything is inside the
    unterminated string); the JSON decoder then refuses them by name."""
    for body in (b'["abc', b'["[[[['):
        assert check_json_nesting(body, 1) is None
        with pytest.raises(json.JSONDecodeError, match="Unterminated string"):
            json.loads(body)


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.integers() | st.text(alphabet='[]{}"\\ab', max_size=6),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(alphabet='[]{}"\\', max_size=3), c, max_size=3),
                    max_leaves=15),
       st.integers(1, 6))
def test_json_scan_agrees_with_the_decoded_depth(value, limit):
    body = json.dumps(value).encode()
    if json_depth(value) > limit:
        with pytest.raises(NestingError):
            check_json_nesting(body, limit)
    else:
        check_json_nesting(body, limit)


def test_200_kb_json_bomb_is_refused_in_milliseconds():
    started = time.perf_counter()
    with pytest.raises(NestingError, match="deeper than 32"):
        check_json_nesting(b"[" * 200_000, 32)
    assert time.perf_counter() - started < 0.05


def test_cbor_depth_limit_is_exact_and_trailing_bytes_refused():
    body = cbor2.dumps([[[1]]])
    check_cbor_nesting(body, 3)
    with pytest.raises(NestingError, match="CBOR nested deeper than 2 levels"):
        check_cbor_nesting(body, 2)
    with pytest.raises(NestingError, match="1 bytes follow the CBOR item"):
        check_cbor_nesting(body + b"\x00", 3)


@pytest.mark.parametrize("bomb", [b"\x81" * 200_000, b"\x9f" * 200_000, b"\xa1\x00" * 100_000, b"\xc6" * 200_000],
                         ids=["arrays", "indefinite arrays", "maps", "tags"])
def test_cbor_bombs_of_arrays_maps_and_tags_are_refused(bomb):
    with pytest.raises(NestingError, match="nested deeper than 32"):
        check_cbor_nesting(bomb, 32)


def test_limits_refuse_nonsense_values():
    with pytest.raises(ValueError, match="workers must be at least 1, got 0"):
        RequestLimits(workers=0)
    with pytest.raises(ValueError, match="header_timeout_s must be positive, got 0"):
        RequestLimits(header_timeout_s=0)


def test_default_limits():
    assert (RequestLimits().max_body_bytes, RequestLimits().max_depth) == (4 * 1024 * 1024, 32)
