"""Relaying signed updates to the steward, executing ready timelock operations, and the
guardian's veto. Each action is safe to retry: the operation id is computed off chain as the
timelock does and its state read before anything is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3
from web3.logs import DISCARD

from chain.deploy import contract
from chain.deployment import Deployment
from chain.errors import ChainError
from chain.events import read_events
from chain.transact import Transactor, call
from chain.update import ParameterUpdate, update_hash

ZERO_BYTES32 = b"\x00" * 32


class OperationState(IntEnum):
    """OpenZeppelin TimelockController.OperationState."""

    UNSET = 0
    WAITING = 1
    READY = 2
    DONE = 3


@dataclass(frozen=True)
class TimelockOperation:
    """A scheduled batch, rebuilt from `CallScheduled` and `CallSalt` events."""

    operation_id: bytes
    targets: tuple[str, ...]
    values: tuple[int, ...]
    payloads: tuple[bytes, ...]
    predecessor: bytes
    salt: bytes
    scheduled_block: int

    def as_args(self) -> tuple:
        return (list(self.targets), list(self.values), list(self.payloads), self.predecessor, self.salt)


@dataclass(frozen=True)
class SubmitResult:
    update_hash: bytes
    operation_id: bytes
    already_scheduled: bool
    transaction_hash: str | None
    gas_used: int | None


def hash_operation_batch(
    targets: list[str], values: list[int], payloads: list[bytes], predecessor: bytes, salt: bytes
) -> bytes:
    """TimelockController.hashOperationBatch, off chain."""
    return keccak(
        abi_encode(
            ["address[]", "uint256[]", "bytes[]", "bytes32", "bytes32"],
            [targets, values, payloads, predecessor, salt],
        )
    )


class StewardClient:
    """The agent's view of steward and timelock; `account` pays gas for what it sends."""

    def __init__(self, w3: Web3, deployment: Deployment, account: LocalAccount) -> None:
        if deployment.steward is None or deployment.timelock is None:
            raise ChainError("the deployment file has no steward or timelock address")
        self.w3 = w3
        self.deployment = deployment
        self.transactor = Transactor(w3, account)
        self.steward = contract(w3, "RiskSteward", deployment.steward)
        self.timelock = contract(w3, "TimelockController", deployment.timelock)

    # --- relaying

    def submit(self, update: ParameterUpdate, signature: bytes) -> SubmitResult:
        """Relays a signed update; a second relay of the same update sends nothing."""
        digest = update_hash(update, self.steward.address)
        existing = bytes(call(self.steward.functions.operationOf(digest)))
        if existing != ZERO_BYTES32:
            return SubmitResult(digest, existing, True, None, None)
        receipt = self.transactor.send(self.steward.functions.submit(update.as_tuple(), signature))
        operation_id = bytes(call(self.steward.functions.operationOf(digest)))
        return SubmitResult(digest, operation_id, False, "0x" + bytes(receipt["transactionHash"]).hex(), receipt["gasUsed"])

    # --- timelock

    def operation_state(self, operation_id: bytes) -> OperationState:
        return OperationState(call(self.timelock.functions.getOperationState(operation_id)))

    def operation_eta(self, operation_id: bytes) -> int:
        """Timestamp (s) from which the operation may execute; 1 once done, 0 if unknown."""
        return int(call(self.timelock.functions.getTimestamp(operation_id)))

    def scheduled_operations(self, from_block: int | None = None) -> list[TimelockOperation]:
        """Every batch scheduled in the timelock since `from_block` (default: deployment)."""
        start = self.deployment.deployed_at_block if from_block is None else from_block
        calls: dict[bytes, list] = {}
        salts: dict[bytes, bytes] = {}
        first_block: dict[bytes, int] = {}
        for event in read_events(self.w3, self.deployment, start):
            if event.name == "CallScheduled":
                operation_id = bytes.fromhex(event.args["id"][2:])
                calls.setdefault(operation_id, []).append(event.args)
                first_block.setdefault(operation_id, event.block_number)
            elif event.name == "CallSalt":
                salts[bytes.fromhex(event.args["id"][2:])] = bytes.fromhex(event.args["salt"][2:])
        operations = []
        for operation_id, entries in calls.items():
            entries.sort(key=lambda args: args["index"])
            operations.append(
                TimelockOperation(
                    operation_id=operation_id,
                    targets=tuple(Web3.to_checksum_address(a["target"]) for a in entries),
                    values=tuple(int(a["value"]) for a in entries),
                    payloads=tuple(bytes.fromhex(a["data"][2:]) for a in entries),
                    predecessor=bytes.fromhex(entries[0]["predecessor"][2:]),
                    salt=salts.get(operation_id, ZERO_BYTES32),
                    scheduled_block=first_block[operation_id],
                )
            )
        return operations

    def operation_from_transaction(self, transaction_hash: str) -> TimelockOperation:
        """The batch a submit (or schedule) transaction put in the timelock, from its receipt:
        no log scan, which on the in-process EVM grows with the chain."""
        receipt = self.w3.eth.get_transaction_receipt(transaction_hash)
        scheduled = self.timelock.events.CallScheduled().process_receipt(receipt, errors=DISCARD)
        salts = self.timelock.events.CallSalt().process_receipt(receipt, errors=DISCARD)
        if not scheduled:
            raise ChainError(f"transaction {transaction_hash} scheduled nothing in the timelock")
        entries = sorted((e["args"] for e in scheduled), key=lambda args: args["index"])
        return TimelockOperation(
            operation_id=bytes(entries[0]["id"]),
            targets=tuple(Web3.to_checksum_address(a["target"]) for a in entries),
            values=tuple(int(a["value"]) for a in entries),
            payloads=tuple(bytes(a["data"]) for a in entries),
            predecessor=bytes(entries[0]["predecessor"]),
            salt=bytes(salts[0]["args"]["salt"]) if salts else ZERO_BYTES32,
            scheduled_block=int(receipt["blockNumber"]),
        )

    def execute(self, operation: TimelockOperation) -> str:
        """Executes one ready operation; returns the transaction hash."""
        receipt = self.transactor.send(self.timelock.functions.executeBatch(*operation.as_args()))
        return "0x" + bytes(receipt["transactionHash"]).hex()

    def execute_ready(self) -> list[bytes]:
        """Executes every operation whose delay has passed; returns their ids."""
        executed = []
        for operation in self.scheduled_operations():
            if self.operation_state(operation.operation_id) is OperationState.READY:
                self.execute(operation)
                executed.append(operation.operation_id)
        return executed

    def cancel(self, operation_id: bytes) -> str:
        """The guardian's veto: cancels a pending operation (the account needs CANCELLER_ROLE)."""
        receipt = self.transactor.send(self.timelock.functions.cancel(operation_id))
        return "0x" + bytes(receipt["transactionHash"]).hex()

    # --- governance (the timelock is the steward's owner)

    def schedule_governance(self, payloads: list[bytes], salt: bytes, target: str | None = None) -> bytes:
        """Schedules steward calls as governance (the account must be a timelock proposer).
        Returns the operation id; scheduling the same batch again is a no-op."""
        targets = [target or self.steward.address] * len(payloads)
        values = [0] * len(payloads)
        operation_id = hash_operation_batch(targets, values, payloads, ZERO_BYTES32, salt)
        if self.operation_state(operation_id) is OperationState.UNSET:
            delay = call(self.timelock.functions.getMinDelay())
            self.transactor.send(self.timelock.functions.scheduleBatch(targets, values, payloads, ZERO_BYTES32, salt, delay))
        return operation_id

    def encode_steward_call(self, function: str, *args: object) -> bytes:
        return bytes.fromhex(self.steward.encode_abi(function, list(args))[2:])
