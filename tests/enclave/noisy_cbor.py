"""A deliberately non-canonical CBOR writer for tests: the same values, encoded with
whatever legal variations a chooser picks (indefinite lengths, non-minimal heads, key
order), so a digest can be shown not to depend on the encoding."""

from __future__ import annotations

from collections.abc import Callable

Chooser = Callable[[int], int]  # returns a choice in range(n)


def _head(major: int, argument: int, choose: Chooser) -> bytes:
    widths = [w for w in (0, 1, 2, 4, 8) if (w == 0 and argument < 24) or (w and argument < 1 << (8 * w))]
    width = widths[choose(len(widths))]
    if width == 0:
        return bytes([major << 5 | argument])
    return bytes([major << 5 | {1: 24, 2: 25, 4: 26, 8: 27}[width]]) + argument.to_bytes(width, "big")


def noisy(value: object, choose: Chooser) -> bytes:
    if value is None or isinstance(value, bool):
        return {None: b"\xf6", False: b"\xf4", True: b"\xf5"}[value]
    if isinstance(value, int):
        return _head(0, value, choose) if value >= 0 else _head(1, -1 - value, choose)
    if isinstance(value, bytes | str):
        major, raw = (2, value) if isinstance(value, bytes) else (3, value.encode())
        if raw and choose(2):  # indefinite: split into chunks
            cut = 1 + choose(len(raw))
            chunks = [raw[:cut], raw[cut:]] if cut < len(raw) else [raw]
            return bytes([major << 5 | 31]) + b"".join(_head(major, len(c), choose) + c for c in chunks) + b"\xff"
        return _head(major, len(raw), choose) + raw
    if isinstance(value, list | tuple):
        body = b"".join(noisy(item, choose) for item in value)
        return (b"\x9f" + body + b"\xff") if choose(2) else _head(4, len(value), choose) + body
    if isinstance(value, dict):
        items = list(value.items())
        order = []
        while items:
            order.append(items.pop(choose(len(items))))
        body = b"".join(noisy(k, choose) + noisy(v, choose) for k, v in order)
        return (b"\xbf" + body + b"\xff") if choose(2) else _head(5, len(value), choose) + body
    raise TypeError(type(value))


def first_choice(n: int) -> int:
    return 0


def last_choice(n: int) -> int:
    return n - 1
