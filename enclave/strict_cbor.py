"""CBOR read strictly and written deterministically: the one place this project parses
untrusted CBOR (attestation documents, request bodies) and re-encodes it for hashing.

`scan` walks a data item iteratively (no recursion, so no nesting can exhaust the stack)
and returns where it ends, refusing ill-formed input and nesting deeper than asked. `decode`
runs only after `scan` has passed, so its recursion is bounded by that depth; it refuses
trailing bytes, duplicate map keys, tags it was not told to expect, floats and the simple
values other than false, true and null. `encode` writes RFC 8949 core deterministic CBOR
(shortest heads, definite lengths, map keys sorted by their encoded bytes), so two
encodings of the same value encode to the same bytes."""

from __future__ import annotations

from dataclasses import dataclass

MAX_UINT64 = (1 << 64) - 1
BREAK = 0xFF
_INDEFINITE = -1


class CborError(ValueError):
    """Input that is not the CBOR expected; `code` names the rule it broke."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Tag:
    """A tagged value the caller allowed (e.g. COSE_Sign1's tag 18)."""

    number: int
    value: object


def _head(data: bytes, pos: int) -> tuple[int, int, int | None, int]:
    """(major type, additional info, argument or None if indefinite, position after the head)."""
    if pos >= len(data):
        raise CborError("truncated", f"CBOR ends early at byte {pos}")
    initial = data[pos]
    major, info = initial >> 5, initial & 0x1F
    pos += 1
    if info < 24:
        return major, info, info, pos
    if info <= 27:
        size = 1 << (info - 24)
        if pos + size > len(data):
            raise CborError("truncated", f"CBOR ends early at byte {pos}")
        return major, info, int.from_bytes(data[pos:pos + size], "big"), pos + size
    if info == 31:
        if major in (0, 1, 6):
            raise CborError("ill-formed", f"major type {major} cannot have an indefinite length (byte {pos - 1})")
        return major, info, None, pos
    raise CborError("ill-formed", f"reserved additional information {info} at byte {pos - 1}")


def scan(data: bytes, *, max_depth: int, start: int = 0) -> int:
    """End offset of the one well-formed data item at `start`, nested at most `max_depth`
    deep (arrays, maps, tags and indefinite strings each count one level)."""
    # Each open container is [kind, remaining]; kind is "array", "map", "tag" or the major
    # type of an indefinite string (2 or 3) whose chunks must share it.
    stack: list[list] = []
    pos = start
    while True:
        if pos < len(data) and data[pos] == BREAK:
            if not stack or stack[-1][1] != _INDEFINITE:
                raise CborError("ill-formed", f"unexpected break at byte {pos}")
            kind, _ = stack.pop()
            pos += 1
            if kind == "map-odd":
                raise CborError("ill-formed", f"indefinite map ends after a key without a value (byte {pos - 1})")
        else:
            major, info, argument, pos = _head(data, pos)
            if stack and isinstance(stack[-1][0], int) and (major != stack[-1][0] or argument is None):
                raise CborError("ill-formed", f"a chunk of an indefinite string must be a definite string of the same type (byte {pos - 1})")
            opened: list | None = None
            if major in (2, 3):
                if argument is None:
                    opened = [major, _INDEFINITE]
                else:
                    if argument > len(data) - pos:
                        raise CborError("truncated", f"string of {argument} bytes runs past the end (byte {pos})")
                    pos += argument
            elif major == 4:
                if argument is None or argument > 0:
                    opened = ["array", _INDEFINITE if argument is None else argument]
            elif major == 5:
                if argument is None:
                    opened = ["map", _INDEFINITE]
                elif argument > 0:
                    opened = ["map", 2 * argument]
            elif major == 6:
                opened = ["tag", 1]
            elif major == 7 and info == 24 and argument < 32:
                raise CborError("ill-formed", f"two-byte simple value {argument} below 32 (byte {pos - 2})")
            if opened is not None:
                if opened[1] != _INDEFINITE and opened[1] > len(data) - pos:
                    raise CborError("truncated", f"container of {opened[1]} items cannot fit in the rest of the input (byte {pos})")
                stack.append(opened)
                if len(stack) > max_depth:
                    raise CborError("too-deep", f"CBOR nested deeper than {max_depth} levels")
                continue
        # One item is complete: count it against the containers it closes.
        while stack:
            top = stack[-1]
            if top[1] == _INDEFINITE:
                if top[0] == "map":
                    top[0] = "map-odd"
                elif top[0] == "map-odd":
                    top[0] = "map"
                break
            top[1] -= 1
            if top[1] > 0:
                break
            stack.pop()
        if not stack:
            return pos


def decode(data: bytes, *, max_depth: int = 16, allowed_tags: frozenset[int] = frozenset()) -> object:
    """The one value `data` holds, with nothing after it (see the module docstring)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise CborError("not-bytes", f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    end = scan(data, max_depth=max_depth)
    if end != len(data):
        raise CborError("trailing-bytes", f"{len(data) - end} bytes follow the CBOR item")
    value, _ = _decode_item(data, 0, allowed_tags)
    return value


def _decode_item(data: bytes, pos: int, allowed_tags: frozenset[int]) -> tuple[object, int]:
    # Recursion depth is bounded: `scan` has already refused anything deeper than max_depth.
    major, info, argument, pos = _head(data, pos)
    if major == 0:
        return argument, pos
    if major == 1:
        return -1 - argument, pos
    if major in (2, 3):
        if argument is None:
            chunks = []
            while data[pos] != BREAK:
                _, _, length, pos = _head(data, pos)
                chunks.append(data[pos:pos + length])
                pos += length
            raw, pos = b"".join(chunks), pos + 1
        else:
            raw, pos = data[pos:pos + argument], pos + argument
        if major == 2:
            return raw, pos
        try:
            return raw.decode("utf-8"), pos
        except UnicodeDecodeError:
            raise CborError("bad-text", f"text string is not UTF-8 (before byte {pos})") from None
    if major == 4:
        items = []
        while (data[pos] != BREAK) if argument is None else (len(items) < argument):
            item, pos = _decode_item(data, pos, allowed_tags)
            items.append(item)
        return items, pos + 1 if argument is None else pos
    if major == 5:
        result: dict = {}
        count = 0
        while (data[pos] != BREAK) if argument is None else (count < argument):
            key_at = pos
            key, pos = _decode_item(data, pos, allowed_tags)
            if not isinstance(key, int | str | bytes) or isinstance(key, bool):
                raise CborError("bad-key", f"map key of type {type(key).__name__} at byte {key_at} (integer, text or bytes only)")
            if key in result:
                raise CborError("duplicate-key", f"duplicate map key {key!r} at byte {key_at}")
            result[key], pos = _decode_item(data, pos, allowed_tags)
            count += 1
        return result, pos + 1 if argument is None else pos
    if major == 6:
        if argument not in allowed_tags:
            raise CborError("unexpected-tag", f"unexpected CBOR tag {argument}")
        value, pos = _decode_item(data, pos, allowed_tags)
        return Tag(argument, value), pos
    simple = {20: False, 21: True, 22: None}
    if info in simple:
        return simple[info], pos
    kind = "floating-point number" if info in (25, 26, 27) else f"simple value {argument}"
    raise CborError("unsupported-value", f"unsupported CBOR {kind} at byte {pos - 1}")


def encode(value: object) -> bytes:
    """Deterministic CBOR (RFC 8949 4.2.1) of ints, bytes, text, lists, maps, bools, None."""
    out = bytearray()
    _encode_into(value, out)
    return bytes(out)


def _encode_head(major: int, argument: int, out: bytearray) -> None:
    if argument < 24:
        out.append(major << 5 | argument)
    elif argument <= 0xFF:
        out += bytes((major << 5 | 24, argument))
    elif argument <= 0xFFFF:
        out.append(major << 5 | 25)
        out += argument.to_bytes(2, "big")
    elif argument <= 0xFFFF_FFFF:
        out.append(major << 5 | 26)
        out += argument.to_bytes(4, "big")
    else:
        out.append(major << 5 | 27)
        out += argument.to_bytes(8, "big")


def _encode_into(value: object, out: bytearray) -> None:
    if value is None or isinstance(value, bool):
        out.append({None: 0xF6, False: 0xF4, True: 0xF5}[value])
    elif isinstance(value, int):
        if not -(1 << 64) <= value <= MAX_UINT64:
            raise CborError("unsupported-value", f"integer {value} does not fit CBOR's 64-bit range")
        _encode_head(0, value, out) if value >= 0 else _encode_head(1, -1 - value, out)
    elif isinstance(value, bytes | bytearray):
        _encode_head(2, len(value), out)
        out += value
    elif isinstance(value, str):
        raw = value.encode("utf-8")
        _encode_head(3, len(raw), out)
        out += raw
    elif isinstance(value, list | tuple):
        _encode_head(4, len(value), out)
        for item in value:
            _encode_into(item, out)
    elif isinstance(value, dict):
        pairs = sorted((encode(key), encode(item)) for key, item in value.items())
        _encode_head(5, len(pairs), out)
        for key, item in pairs:
            out += key + item
    else:
        raise CborError("unsupported-value", f"cannot encode {type(value).__name__} deterministically")
