"""Batched reads through Multicall3 `aggregate3`: many view calls, one `eth_call`, one block.

Calls are encoded once by the caller (`encode`) and decoded here by their ABI output types, so
the readers build their call lists at construction and reuse them every read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_utils import function_signature_to_4byte_selector
from web3 import Web3
from web3.contract import Contract

from chain.artifacts import load_artifact
from chain.errors import ChainError, MulticallMissingError
from chain.transact import revert_from_exception

AGGREGATE3_SELECTOR = function_signature_to_4byte_selector("aggregate3((address,bool,bytes)[])")

FAILED = None  # the value of a call that was allowed to fail and did


@dataclass(frozen=True)
class Call:
    """One view call: target, calldata, the ABI types it returns, and whether its failure is an
    answer (None) rather than an error."""

    target: str
    data: bytes
    output_types: tuple[str, ...]
    allow_failure: bool = False
    label: str = ""
    # A hand-written decoder for a hot, fixed layout (eth_abi's generic one costs ~40 us a word).
    decoder: Callable[[bytes], tuple] | None = None


class BatchCallError(ChainError):
    def __init__(self, label: str) -> None:
        super().__init__(f"batched read failed: {label} reverted or returned malformed data")
        self.label = label


def encode(contract: Contract, function: str, *args: object, allow_failure: bool = False) -> Call:
    """A `Call` of `contract.function(*args)`; outputs decode as the ABI says.

    Encoded with eth_abi from the function's ABI entry (web3's `encode_abi` validates the whole
    ABI on every call, ~7 ms: more than the node needs to run a thousand calls)."""
    entry = next((e for e in contract.abi if e.get("type") == "function" and e["name"] == function), None)
    if entry is None:
        raise ChainError(f"{function} is not a function of the contract at {contract.address}")
    inputs = tuple(_abi_type(item) for item in entry["inputs"])
    outputs = tuple(_abi_type(item) for item in entry["outputs"])
    label = f"{function}({', '.join(str(a) for a in args)}) on {contract.address}"
    return Call(contract.address, _selector(function, inputs) + abi_encode(list(inputs), list(args)), outputs,
                allow_failure, label)


@cache
def _selector(function: str, inputs: tuple[str, ...]) -> bytes:
    return function_signature_to_4byte_selector(f"{function}({','.join(inputs)})")


def _abi_type(item: dict) -> str:
    if item["type"].startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in item["components"])
        return f"({inner}){item['type'][5:]}"
    return item["type"]


class Multicall:
    """A Multicall3 at `address`; `max_calls` bounds one `eth_call` (node gas caps apply)."""

    def __init__(self, w3: Web3, address: str, *, max_calls: int = 1_000) -> None:
        self.w3 = w3
        self.address = Web3.to_checksum_address(address)
        if not w3.eth.get_code(self.address):
            raise MulticallMissingError(self.address)
        self.contract = w3.eth.contract(address=self.address, abi=load_artifact("Multicall3").abi)
        self.max_calls = max_calls

    def block_number_call(self) -> Call:
        return encode(self.contract, "getBlockNumber")

    def timestamp_call(self) -> Call:
        return encode(self.contract, "getCurrentBlockTimestamp")

    def read(self, calls: Sequence[Call], block_identifier: int | str = "latest") -> list[tuple | None]:
        """Decoded outputs in call order (a tuple per call; None for an allowed failure).
        Split into `max_calls` chunks, all at `block_identifier` (pass a number so every chunk
        reads the same block)."""
        results: list[tuple | None] = []
        for start in range(0, len(calls), self.max_calls):
            chunk = calls[start : start + self.max_calls]
            # Every call may fail inside the batch, so a failure is reported here by name.
            # Encoded with eth_abi directly: web3's contract layer costs more than the node's
            # execution for a few hundred calls.
            payload = AGGREGATE3_SELECTOR + abi_encode(
                ["(address,bool,bytes)[]"], [[(c.target, True, c.data) for c in chunk]]
            )
            try:
                returned = self.w3.eth.call({"to": self.address, "data": payload}, block_identifier)
            except Exception as error:  # noqa: BLE001 - reverts arrive as backend-specific types
                revert = revert_from_exception(error, "aggregate3")
                if revert is None:
                    raise
                raise revert from None
            (raw,) = abi_decode(["(bool,bytes)[]"], bytes(returned))
            for item, (success, data) in zip(chunk, raw, strict=True):
                results.append(_decode(item, success, data))
        return results


def _decode(item: Call, success: bool, data: bytes) -> tuple | None:
    if not success or (item.output_types and not data):
        if item.allow_failure:
            return FAILED
        raise BatchCallError(item.label)
    try:
        if item.decoder is not None:
            return item.decoder(bytes(data))
        return tuple(abi_decode(list(item.output_types), data))
    except (DecodingError, OverflowError, ValueError, IndexError):
        if item.allow_failure:
            return FAILED
        raise BatchCallError(item.label) from None
