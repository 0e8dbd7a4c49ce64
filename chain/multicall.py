"""Batched reads through Multicall3 `aggregate3`: many view calls, one `eth_call`, one block.

Calls are encoded once by the caller (`encode`) and decoded here by their ABI output types, so
the readers build their call lists at construction and reuse them every read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth_abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from web3 import Web3
from web3.contract import Contract

from chain.artifacts import load_artifact
from chain.errors import ChainError, MulticallMissingError
from chain.transact import call

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


class BatchCallError(ChainError):
    def __init__(self, label: str) -> None:
        super().__init__(f"batched read failed: {label} reverted or returned malformed data")
        self.label = label


def encode(contract: Contract, function: str, *args: object, allow_failure: bool = False) -> Call:
    """A `Call` of `contract.function(*args)`; outputs decode as the ABI says."""
    abi = contract.get_function_by_name(function).abi
    types = tuple(_abi_type(item) for item in abi["outputs"])
    label = f"{function}({', '.join(str(a) for a in args)}) on {contract.address}"
    return Call(contract.address, bytes(Web3.to_bytes(hexstr=contract.encode_abi(function, list(args)))), types,
                allow_failure, label)


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
            raw = call(
                self.contract.functions.aggregate3([(c.target, True, c.data) for c in chunk]),
                block_identifier=block_identifier,
            )
            for item, (success, data) in zip(chunk, raw, strict=True):
                results.append(_decode(item, success, data))
        return results


def _decode(item: Call, success: bool, data: bytes) -> tuple | None:
    if not success or (item.output_types and not data):
        if item.allow_failure:
            return FAILED
        raise BatchCallError(item.label)
    try:
        return tuple(abi_decode(list(item.output_types), data))
    except (DecodingError, OverflowError):
        if item.allow_failure:
            return FAILED
        raise BatchCallError(item.label) from None
