"""What the enclave API accepts before any decoder sees a byte: body size, nesting depth,
time to send a request, concurrent requests.

The nesting checks are iterative scans. They run before `json.loads` or a CBOR decoder
because both recurse, and a dependency (py_ecc) raises Python's recursion limit to
100 000, so a 200 KB body of `[` used to overflow the C stack and kill the process
(and with it the enclave's only copy of its key)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from enclave.strict_cbor import CborError, scan

DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_DEPTH = 32
DEFAULT_MAX_HEADER_BYTES = 16 * 1024
DEFAULT_HEADER_TIMEOUT_S = 10.0
DEFAULT_BODY_TIMEOUT_S = 30.0
DEFAULT_WORKERS = 4

_OUTSIDE_STRING = re.compile(rb'[\[\]{}"]')
_INSIDE_STRING = re.compile(rb'["\\]')


class NestingError(ValueError):
    """A body nested deeper than allowed, or not even well-formed at the level scanned."""


@dataclass(frozen=True)
class RequestLimits:
    """Per-request limits; every one is a command-line option of the enclave server."""

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_depth: int = DEFAULT_MAX_DEPTH
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    header_timeout_s: float = DEFAULT_HEADER_TIMEOUT_S
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S
    workers: int = DEFAULT_WORKERS

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_depth", "max_header_bytes", "workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("header_timeout_s", "body_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")


def check_json_nesting(body: bytes, max_depth: int) -> None:
    """Refuses JSON whose arrays and objects nest deeper than `max_depth` (brackets inside
    strings do not count); leaves every other syntax error to the decoder."""
    depth = 0
    pos = 0
    while True:
        match = _OUTSIDE_STRING.search(body, pos)
        if match is None:
            return
        char = body[match.start()]
        pos = match.end()
        if char == ord('"'):
            while True:
                inside = _INSIDE_STRING.search(body, pos)
                if inside is None:
                    return  # unterminated string: the decoder will say so
                pos = inside.end()
                if body[inside.start()] == ord('"'):
                    break
                pos += 1  # the escaped character, whatever it is
        elif char in (ord("["), ord("{")):
            depth += 1
            if depth > max_depth:
                raise NestingError(f"JSON nested deeper than {max_depth} levels")
        else:
            depth -= 1


def check_cbor_nesting(body: bytes, max_depth: int) -> None:
    """Refuses CBOR nested deeper than `max_depth`, ill-formed, or with bytes after the item."""
    try:
        end = scan(body, max_depth=max_depth)
    except CborError as error:
        raise NestingError(str(error)) from None
    if end != len(body):
        raise NestingError(f"{len(body) - end} bytes follow the CBOR item")
