"""The agent's view of the steward and its timelock: publish inputs, relay signed updates, execute
scheduled ones, veto, and read the steward's state in one Multicall3 round trip.

Every action is safe to retry: the timelock operation id is computed off chain exactly as
`TimelockController.hashOperation` does for the steward's single call
`steward.applyUpdate(asset, params, values, updateHash)` (value 0, no predecessor, salt =
updateHash), and its state is read before anything is sent. A tightening-only update is applied
at once (the fast path) and has no operation; its `UpdateApplied` event (indexed by update hash)
is the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils import event_abi_to_log_topic, keccak
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from chain.aave import our_contract
from chain.errors import ChainError
from chain.multicall import Multicall, encode
from chain.transact import Transactor, call
from chain.update import ParameterUpdate, update_hash
from strategies.bounds import Bounds, ParamState
from strategies.params import Bound, Param

ZERO_BYTES32 = b"\x00" * 32


class OperationState(IntEnum):
    """OpenZeppelin TimelockController.OperationState."""

    UNSET = 0
    WAITING = 1
    READY = 2
    DONE = 3


class SubmitPath(StrEnum):
    APPLIED = "applied"  # tightening-only: written through the PoolConfigurator at once
    SCHEDULED = "scheduled"  # waits the timelock delay, then `applyUpdate` by the timelock


@dataclass(frozen=True)
class ScheduledUpdate:
    """The steward's timelock operation for one update: everything `execute` and `veto` need."""

    asset: str
    params: tuple[int, ...]
    values: tuple[int, ...]
    update_hash: bytes
    steward: str
    payload: bytes

    @property
    def operation_id(self) -> bytes:
        return hash_operation(self.steward, 0, self.payload, ZERO_BYTES32, self.update_hash)

    def execute_args(self) -> tuple:
        return (self.steward, 0, self.payload, ZERO_BYTES32, self.update_hash)


@dataclass(frozen=True)
class SubmitResult:
    """What a relay did. `operation` is None on the fast path; `already` means nothing was sent
    because the update was already scheduled or applied. `block_number`: the block of the
    submit transaction, or of the earlier fast-path application (None if neither is known)."""

    update_hash: bytes
    path: SubmitPath
    operation: ScheduledUpdate | None
    ready_at: int | None
    already: bool
    transaction_hash: str | None
    gas_used: int | None
    block_number: int | None = None

    @property
    def operation_id(self) -> bytes | None:
        return None if self.operation is None else self.operation.operation_id


@dataclass(frozen=True)
class PublishResult:
    inputs_hash: bytes
    already: bool
    transaction_hash: str | None
    gas_used: int | None


@dataclass(frozen=True)
class StewardState:
    """One asset's steward state, read in one block: the bounds the mirror needs, the enclave's
    next nonce and whether the steward is paused."""

    block_number: int
    block_timestamp: int
    bounds: Bounds
    nonce: int
    paused: bool


def hash_operation(target: str, value: int, payload: bytes, predecessor: bytes, salt: bytes) -> bytes:
    """TimelockController.hashOperation, off chain."""
    return keccak(
        abi_encode(
            ["address", "uint256", "bytes", "bytes32", "bytes32"],
            [Web3.to_checksum_address(target), value, payload, predecessor, salt],
        )
    )


def hash_operation_batch(
    targets: list[str], values: list[int], payloads: list[bytes], predecessor: bytes, salt: bytes
) -> bytes:
    """TimelockController.hashOperationBatch, off chain."""
    return keccak(
        abi_encode(
            ["address[]", "uint256[]", "bytes[]", "bytes32", "bytes32"],
            [[Web3.to_checksum_address(t) for t in targets], values, payloads, predecessor, salt],
        )
    )


class StewardClient:
    """Steward, timelock and Multicall3 of one deployment; `account` (optional for reads) pays
    gas for what it sends. Only the timelock address is read from the steward itself."""

    def __init__(
        self,
        w3: Web3,
        steward: str,
        multicall: str,
        account: LocalAccount | None = None,
        *,
        from_block: int = 0,
    ) -> None:
        self.w3 = w3
        self.steward: Contract = our_contract(w3, "RiskSteward", steward)
        self.timelock: Contract = our_contract(w3, "TimelockController", call(self.steward.functions.timelock()))
        self.multicall = Multicall(w3, multicall)
        self.transactor = Transactor(w3, account) if account is not None else None
        self.from_block = from_block

    @classmethod
    def for_system(cls, w3: Web3, system, account: LocalAccount | None = None) -> StewardClient:
        """A client for a `chain.deploy.SystemDeployment`."""
        return cls(w3, system.steward, system.multicall, account, from_block=system.deployed_at_block)

    def _send(self, fn) -> TxReceipt:
        if self.transactor is None:
            raise ChainError("this steward client has no account to send transactions from")
        return self.transactor.send(fn)

    # ------------------------------------------------------------------ off-chain ids

    def update_hash(self, update: ParameterUpdate) -> bytes:
        return update_hash(update, self.steward.address)

    def scheduled_update(
        self, asset: str, params: tuple[int, ...], values: tuple[int, ...], digest: bytes
    ) -> ScheduledUpdate:
        """The timelock operation the steward schedules for an update (payload = applyUpdate call)."""
        asset = Web3.to_checksum_address(asset)
        payload = self.encode_steward_call("applyUpdate", asset, list(params), list(values), digest)
        return ScheduledUpdate(asset, tuple(params), tuple(values), digest, self.steward.address, payload)

    def operation_for(self, update: ParameterUpdate) -> ScheduledUpdate:
        return self.scheduled_update(update.asset, update.params, update.values, self.update_hash(update))

    # ------------------------------------------------------------------ relaying

    def publish_inputs(self, inputs: bytes) -> PublishResult:
        """Publishes canonical decision inputs (anyone may); a second publication sends nothing."""
        inputs_hash = keccak(inputs)
        if call(self.steward.functions.inputsPublishedAtBlock(inputs_hash)) != 0:
            return PublishResult(inputs_hash, True, None, None)
        receipt = self._send(self.steward.functions.publishInputs(inputs))
        return PublishResult(inputs_hash, False, _hex(receipt["transactionHash"]), receipt["gasUsed"])

    def landed(self, update: ParameterUpdate) -> SubmitResult | None:
        """The update as the chain holds it, sending nothing: scheduled (the operation in any
        state but unset) or applied on the fast path; None when it never landed."""
        operation = self.operation_for(update)
        digest = operation.update_hash
        if self.operation_state(operation.operation_id) is not OperationState.UNSET:
            return SubmitResult(digest, SubmitPath.SCHEDULED, operation, self.operation_eta(operation.operation_id),
                                True, None, None)
        # Only a spent nonce can mean "already applied"; the log search is the slow part.
        if self.nonce(update.enclave) > update.nonce and (applied := self.applied_in_block(digest)) is not None:
            return SubmitResult(digest, SubmitPath.APPLIED, None, None, True, None, None, applied)
        return None

    def submit(self, update: ParameterUpdate, signature: bytes) -> SubmitResult:
        """Relays a signed update. An update that already landed (`landed`) is answered from the
        chain without sending anything."""
        found = self.landed(update)
        if found is not None:
            return found
        operation = self.operation_for(update)
        receipt = self._send(self.steward.functions.submit(update.as_tuple(), signature))
        return self._submit_result(operation.update_hash, operation, receipt)

    def _submit_result(self, digest: bytes, operation: ScheduledUpdate, receipt: TxReceipt) -> SubmitResult:
        transaction_hash, gas, block = _hex(receipt["transactionHash"]), receipt["gasUsed"], int(receipt["blockNumber"])
        scheduled = self.steward.events.UpdateScheduled().process_receipt(receipt, errors=DISCARD)
        if scheduled:
            return SubmitResult(digest, SubmitPath.SCHEDULED, operation, int(scheduled[0]["args"]["readyAt"]), False,
                                transaction_hash, gas, block)
        if self.steward.events.UpdateApplied().process_receipt(receipt, errors=DISCARD):
            return SubmitResult(digest, SubmitPath.APPLIED, None, None, False, transaction_hash, gas, block)
        # The contract answered an idempotent relay (scheduled in the meantime by someone else).
        return SubmitResult(digest, SubmitPath.SCHEDULED, operation, self.operation_eta(operation.operation_id), True,
                            transaction_hash, gas, block)

    def applied_in_block(self, digest: bytes) -> int | None:
        """Block in which the update was applied on the fast path, or None."""
        log = self._first_log_of(self.steward.events.UpdateApplied(), digest)
        return int(log["blockNumber"]) if log else None

    def executed_in(self, digest: bytes) -> tuple[int, str] | None:
        """(block, transaction hash) in which the timelock executed the (slow-path) update,
        whoever sent it, or None."""
        log = self._first_log_of(self.steward.events.UpdateExecuted(), digest)
        return (int(log["blockNumber"]), _hex(log["transactionHash"])) if log else None

    def _first_log_of(self, event, digest: bytes):
        """The first of the steward's `event` logs for this update hash (its first topic)."""
        logs = self.w3.eth.get_logs({
            "address": self.steward.address,
            "fromBlock": self.from_block,
            "toBlock": "latest",
            "topics": [event_abi_to_log_topic(event.abi), digest],
        })
        return logs[0] if logs else None

    # ------------------------------------------------------------------ timelock

    def operation_state(self, operation_id: bytes) -> OperationState:
        return OperationState(call(self.timelock.functions.getOperationState(operation_id)))

    def operation_eta(self, operation_id: bytes) -> int:
        """Timestamp (s) from which the operation may execute; 1 once done, 0 if unknown."""
        return int(call(self.timelock.functions.getTimestamp(operation_id)))

    def execute(self, operation: ScheduledUpdate | GovernanceBatch) -> TxReceipt:
        """Executes a ready operation (anyone may); a steward update reverts by name when the
        steward refuses it at execution."""
        function = "execute" if isinstance(operation, ScheduledUpdate) else "executeBatch"
        return self._send(getattr(self.timelock.functions, function)(*operation.execute_args()))

    def veto(self, operation: ScheduledUpdate) -> TxReceipt:
        """The guardian's veto through the steward: cancels and frees the params."""
        return self._send(self.steward.functions.veto(
            operation.asset, list(operation.params), list(operation.values), operation.update_hash
        ))

    def cancel_in_timelock(self, operation_id: bytes) -> TxReceipt:
        """Cancels directly in the timelock (the account needs CANCELLER_ROLE): the params stay
        blocked until the execution window ends; prefer `veto`."""
        return self._send(self.timelock.functions.cancel(operation_id))

    def scheduled_from_receipt(self, receipt: TxReceipt) -> ScheduledUpdate:
        """The steward update a submit transaction scheduled, decoded from the timelock's
        CallScheduled event (no log scan)."""
        for event in self.timelock.events.CallScheduled().process_receipt(receipt, errors=DISCARD):
            operation = self.decode_payload(bytes(event["args"]["data"]))
            if operation is not None:
                return operation
        raise ChainError(f"transaction {_hex(receipt['transactionHash'])} scheduled no steward update")

    def decode_payload(self, payload: bytes) -> ScheduledUpdate | None:
        """A timelock payload, if it is the steward's applyUpdate call."""
        selector = bytes(Web3.to_bytes(hexstr=self.steward.encode_abi(
            "applyUpdate", [self.steward.address, [], [], ZERO_BYTES32]
        )))[:4]
        if payload[:4] != selector:
            return None
        asset, params, values, digest = abi_decode(["address", "uint8[]", "uint256[]", "bytes32"], payload[4:])
        return ScheduledUpdate(Web3.to_checksum_address(asset), tuple(params), tuple(values), bytes(digest),
                               self.steward.address, payload)

    # ------------------------------------------------------------------ governance

    def schedule_governance(
        self, payloads: list[bytes], salt: bytes, targets: list[str] | None = None
    ) -> GovernanceBatch:
        """Schedules a governance batch (the account must be a timelock proposer); scheduling
        the same batch again sends nothing; `execute(batch)` runs it after the delay."""
        targets = targets or [self.steward.address] * len(payloads)
        batch = GovernanceBatch(tuple(Web3.to_checksum_address(t) for t in targets), tuple(payloads), salt)
        if self.operation_state(batch.operation_id) is OperationState.UNSET:
            delay = call(self.timelock.functions.getMinDelay())
            self._send(self.timelock.functions.scheduleBatch(*batch.schedule_args(), delay))
        return batch

    def encode_steward_call(self, function: str, *args: object) -> bytes:
        return bytes(Web3.to_bytes(hexstr=self.steward.encode_abi(function, list(args))))

    def pause(self) -> TxReceipt:
        return self._send(self.steward.functions.pause())

    # ------------------------------------------------------------------ reads

    def nonce(self, enclave: str) -> int:
        return int(call(self.steward.functions.nonces(Web3.to_checksum_address(enclave))))

    def state(self, asset: str, enclave: str, block_identifier: int | str = "latest") -> StewardState:
        """Bounds, every parameter's state, the window, the enclave's next nonce and the pause
        flag of one asset, in one Multicall3 call (one block)."""
        asset = Web3.to_checksum_address(asset)
        steward = self.steward
        calls = [
            self.multicall.block_number_call(),
            self.multicall.timestamp_call(),
            encode(steward, "getBounds"),
            encode(steward, "executionWindowSeconds"),
            encode(steward, "nonces", Web3.to_checksum_address(enclave)),
            encode(steward, "paused"),
            *(encode(steward, "paramState", asset, int(p)) for p in Param),
        ]
        outputs = self.multicall.read(calls, block_identifier)
        block, timestamp, (bounds,), (window,), (nonce,), (paused,), *states = outputs
        limits = {Param(i): Bound(*b) for i, b in enumerate(bounds)}
        # paramState is (lastExecutedAt, pendingReadyAt, pendingTag); the tag only matters on chain.
        read_states = {p: ParamState(last_executed_at=int(s[0][0]), pending_ready_at=int(s[0][1]))
                       for p, s in zip(Param, states, strict=True)}
        param_states = {p: state for p, state in read_states.items() if state != ParamState()}
        return StewardState(int(block[0]), int(timestamp[0]), Bounds(limits, param_states, int(window)), int(nonce),
                            bool(paused))

    def current_values(self, asset: str) -> dict[Param, int]:
        """Every parameter in force as the steward reads it (rates floored to bps)."""
        values = call(self.steward.functions.currentValues(Web3.to_checksum_address(asset)))
        return {Param(i): int(v) for i, v in enumerate(values)}


@dataclass(frozen=True)
class GovernanceBatch:
    """A batch governance schedules in the timelock (predecessor 0)."""

    targets: tuple[str, ...]
    payloads: tuple[bytes, ...]
    salt: bytes

    @property
    def operation_id(self) -> bytes:
        return hash_operation_batch(list(self.targets), [0] * len(self.targets), list(self.payloads), ZERO_BYTES32,
                                    self.salt)

    def schedule_args(self) -> tuple:
        return (list(self.targets), [0] * len(self.targets), list(self.payloads), ZERO_BYTES32, self.salt)

    def execute_args(self) -> tuple:
        return self.schedule_args()


class RegistrarClient:
    """The operator's side of the EnclaveRegistrar: propose an attested key's registration."""

    def __init__(self, w3: Web3, registrar: str, account: LocalAccount) -> None:
        self.w3 = w3
        self.registrar = our_contract(w3, "EnclaveRegistrar", registrar)
        self.transactor = Transactor(w3, account)

    def schedule_registration(self, enclave: str, measurement: bytes, attestation_digest: bytes,
                              expires_at_s: int = 0, document: bytes = b"") -> tuple[GovernanceBatch, TxReceipt]:
        """Schedules steward.registerEnclave(...) in the timelock, publishing the attestation
        `document` in the call's calldata; returns the batch (executable by anyone after the
        delay) and the receipt."""
        steward = call(self.registrar.functions.steward())
        payload = bytes(Web3.to_bytes(hexstr=our_contract(self.w3, "RiskSteward", steward).encode_abi(
            "registerEnclave", [Web3.to_checksum_address(enclave), measurement, attestation_digest, expires_at_s]
        )))
        batch = GovernanceBatch((Web3.to_checksum_address(steward),), (payload,), keccak(payload))
        receipt = self.transactor.send(self.registrar.functions.scheduleRegistration(
            Web3.to_checksum_address(enclave), measurement, attestation_digest, expires_at_s, document
        ))
        return batch, receipt


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()
