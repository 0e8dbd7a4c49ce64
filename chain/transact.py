"""Sending transactions from a local signer, with reverts decoded into named errors.

Every transaction is simulated first (`eth_call`), so a revert surfaces as the contract's
custom error with its arguments, the same on anvil and on the in-process EVM, before any gas is
spent. The transaction is then signed once and its raw bytes sent.
"""

from __future__ import annotations

import ast
import threading
from dataclasses import dataclass

from eth_abi import decode as abi_decode
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import EthereumTesterProvider, Web3
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.types import TxReceipt

from chain.artifacts import Artifact, aave_error_names, custom_errors
from chain.errors import ContractRevert

GAS_HEADROOM = 1.25
# The in-process EVM estimates gas by a binary search of ~13 executions; a fixed limit under
# its block gas limit costs nothing there (only gas used is charged) and is 10x faster.
IN_PROCESS_GAS_LIMIT = 12_000_000
RECEIPT_POLL_SECONDS = 0.01


def reason_revert(reason: str, function: str = "") -> ContractRevert:
    """A string revert; Aave v3.0's numeric codes ('4') get their Errors.sol name
    (CALLER_NOT_RISK_OR_POOL_ADMIN) with the code as the argument."""
    name = aave_error_names().get(reason)
    if name is not None:
        return ContractRevert(name, (reason,), function)
    return ContractRevert("Error", (reason,), function)


def decode_revert(data: bytes | str | None, function: str = "") -> ContractRevert:
    """Turns raw revert data into a `ContractRevert` naming the custom error."""
    raw = HexBytes(data) if data else b""
    if len(raw) >= 4 and raw[:4] in custom_errors():
        signature = custom_errors()[raw[:4]]
        values = abi_decode(list(signature.input_types), raw[4:])
        return ContractRevert(signature.name, tuple(values), function)
    if len(raw) >= 4 and raw[:4] == bytes.fromhex("08c379a0"):
        return reason_revert(abi_decode(["string"], raw[4:])[0], function)
    if len(raw) >= 4 and raw[:4] == bytes.fromhex("4e487b71"):
        return ContractRevert("Panic", (abi_decode(["uint256"], raw[4:])[0],), function)
    return ContractRevert("UnknownRevert", (bytes(raw),), function)


def revert_from_exception(error: Exception, function: str = "") -> ContractRevert | None:
    """Extracts revert data from the backend's exception (anvil and eth-tester differ)."""
    if isinstance(error, ContractCustomError):
        return decode_revert(error.data if isinstance(error.data, str) else error.args[0], function)
    if isinstance(error, ContractLogicError):
        if error.data:
            return decode_revert(error.data, function)
        return reason_revert(error.message.removeprefix("execution reverted: "), function)
    if type(error).__name__ == "TransactionFailed":
        text = str(error.args[0]) if error.args else ""
        prefix = "execution reverted: "
        if text.startswith(prefix):
            payload = text[len(prefix):]
            try:
                raw = ast.literal_eval(payload)
            except (ValueError, SyntaxError):
                return reason_revert(payload, function)
            if isinstance(raw, bytes):
                return decode_revert(raw, function)
            return reason_revert(str(raw), function)
        return ContractRevert("Error", (text,), function)
    return None


def call(fn: ContractFunction, *, block_identifier: int | str = "latest", sender: str | None = None) -> object:
    """A read-only call whose revert is raised as `ContractRevert`."""
    try:
        return fn.call({"from": sender} if sender else None, block_identifier=block_identifier)
    except Exception as error:  # noqa: BLE001 - reverts arrive as backend-specific types
        revert = revert_from_exception(error, fn.fn_name)
        if revert is None:
            raise
        raise revert from None


@dataclass
class Transactor:
    """Signs and sends transactions for one account, keeping its own nonce."""

    w3: Web3
    account: LocalAccount

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    @property
    def address(self) -> str:
        return self.account.address

    def deploy(self, artifact: Artifact, *args: object, libraries: dict[str, str] | None = None) -> str:
        """Deploys `artifact` (linked to `libraries` by name when it has placeholders); returns the address."""
        bytecode = artifact.linked(libraries or {}) if artifact.link_references else artifact.bytecode
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=bytecode)
        return self.send(factory.constructor(*args))["contractAddress"]

    def send(self, fn: ContractFunction | ContractConstructor, *, gas: int | None = None,
             simulate: bool = True) -> TxReceipt:
        """Simulates (at the latest block), signs and sends `fn`; raises `ContractRevert` if it
        would revert or did. `simulate=False` skips the dry run for calls that cannot revert by
        name (a keeper's price push): a failure is still raised from the receipt."""
        name = getattr(fn, "fn_name", "constructor")
        with self._lock:
            base = {"from": self.account.address}
            try:
                if isinstance(fn, ContractFunction) and simulate:
                    fn.call(base)
                if gas is None:
                    gas = (
                        IN_PROCESS_GAS_LIMIT
                        if isinstance(self.w3.provider, EthereumTesterProvider)
                        else int(fn.estimate_gas(base) * GAS_HEADROOM) + 21_000
                    )
            except Exception as error:  # noqa: BLE001
                revert = revert_from_exception(error, name)
                if revert is None:
                    raise
                raise revert from None
            tx = fn.build_transaction(
                {**base, "gas": gas, "nonce": self.w3.eth.get_transaction_count(self.account.address, "pending")}
            )
            signed = self.account.sign_transaction(tx)
            tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120, poll_latency=RECEIPT_POLL_SECONDS)
        if receipt["status"] != 1:
            raise ContractRevert("TransactionFailed", (tx_hash.hex(),), name)
        return receipt
