"""The signed parameter update: the EIP-712 struct the enclave signs and the steward checks.

The Python mirror of `RiskSteward.ParameterUpdate`; field order, types and the domain are the
contract's, so `update_hash` here equals `RiskSteward.hashUpdate` on chain.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_utils import keccak

from strategies.params import Param  # noqa: F401 - re-exported: the ids the struct carries

DOMAIN_NAME = "RiskSteward"
DOMAIN_VERSION = "1"
MAX_UPDATE_VALIDITY_SECONDS = 6 * 3600  # RiskSteward.MAX_UPDATE_VALIDITY_SECONDS
MAX_ANCHOR_AGE_BLOCKS = 256  # the EVM keeps the hashes of the last 256 blocks


class EnvelopeViolation(Exception):
    """An update the steward would refuse before looking at its changes; `name` and
    `error_args` are the contract's custom error, as `BoundViolation` is for the changes."""

    def __init__(self, name: str, *args: int) -> None:
        super().__init__(f"{name}({', '.join(str(a) for a in args)})")
        self.name = name
        self.error_args = args


PARAMETER_UPDATE_TYPES = {
    "ParameterUpdate": [
        {"name": "enclave", "type": "address"},
        {"name": "chainId", "type": "uint256"},
        {"name": "asset", "type": "address"},
        {"name": "params", "type": "uint8[]"},
        {"name": "values", "type": "uint256[]"},
        {"name": "nonce", "type": "uint256"},
        {"name": "anchorBlock", "type": "uint256"},
        {"name": "anchorBlockHash", "type": "bytes32"},
        {"name": "anchorTimestamp", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
        {"name": "inputsHash", "type": "bytes32"},
        {"name": "measurement", "type": "bytes"},
    ]
}


@dataclass(frozen=True)
class ParameterUpdate:
    enclave: str
    chain_id: int
    asset: str
    params: tuple[int, ...]
    values: tuple[int, ...]
    nonce: int
    anchor_block: int
    anchor_block_hash: bytes
    anchor_timestamp: int
    deadline: int
    inputs_hash: bytes
    measurement: bytes

    def as_tuple(self) -> tuple:
        """The ABI tuple for `RiskSteward.submit`."""
        return (
            self.enclave,
            self.chain_id,
            self.asset,
            list(self.params),
            list(self.values),
            self.nonce,
            self.anchor_block,
            self.anchor_block_hash,
            self.anchor_timestamp,
            self.deadline,
            self.inputs_hash,
            self.measurement,
        )

    def as_message(self) -> dict:
        return {
            "enclave": self.enclave,
            "chainId": self.chain_id,
            "asset": self.asset,
            "params": list(self.params),
            "values": list(self.values),
            "nonce": self.nonce,
            "anchorBlock": self.anchor_block,
            "anchorBlockHash": self.anchor_block_hash,
            "anchorTimestamp": self.anchor_timestamp,
            "deadline": self.deadline,
            "inputsHash": self.inputs_hash,
            "measurement": self.measurement,
        }

    def as_json(self) -> dict:
        """JSON-safe form (hex bytes) for storage and HTTP."""
        return {
            "enclave": self.enclave,
            "chain_id": self.chain_id,
            "asset": self.asset,
            "params": list(self.params),
            "values": list(self.values),
            "nonce": self.nonce,
            "anchor_block": self.anchor_block,
            "anchor_block_hash": "0x" + self.anchor_block_hash.hex(),
            "anchor_timestamp": self.anchor_timestamp,
            "deadline": self.deadline,
            "inputs_hash": "0x" + self.inputs_hash.hex(),
            "measurement": "0x" + self.measurement.hex(),
        }

    @classmethod
    def from_json(cls, raw: dict) -> ParameterUpdate:
        return cls(
            enclave=raw["enclave"],
            chain_id=int(raw["chain_id"]),
            asset=raw["asset"],
            params=tuple(int(p) for p in raw["params"]),
            values=tuple(int(v) for v in raw["values"]),
            nonce=int(raw["nonce"]),
            anchor_block=int(raw["anchor_block"]),
            anchor_block_hash=bytes.fromhex(raw["anchor_block_hash"].removeprefix("0x")),
            anchor_timestamp=int(raw["anchor_timestamp"]),
            deadline=int(raw["deadline"]),
            inputs_hash=bytes.fromhex(raw["inputs_hash"].removeprefix("0x")),
            measurement=bytes.fromhex(raw["measurement"].removeprefix("0x")),
        )


def check_anchor(update: ParameterUpdate, block_number: int) -> None:
    """RiskSteward.submit step 2, age part: the anchor block is past and its hash still kept,
    for a submit executing in block `block_number` (the hash itself is checked on chain)."""
    if update.anchor_block >= block_number or block_number - update.anchor_block > MAX_ANCHOR_AGE_BLOCKS:
        raise EnvelopeViolation("AnchorBlockUnavailable", update.anchor_block)


def check_timing(update: ParameterUpdate, now_seconds: int) -> None:
    """RiskSteward.submit steps 2 (time part) and 3, in the contract's order: the anchor time is
    not in the future, the deadline has not passed (it may be now), and it is at most 6 h after
    the anchor."""
    if update.anchor_timestamp > now_seconds:
        raise EnvelopeViolation("AnchorInFuture", update.anchor_timestamp)
    if now_seconds > update.deadline:
        raise EnvelopeViolation("UpdateExpired", update.deadline, now_seconds)
    latest_allowed = update.anchor_timestamp + MAX_UPDATE_VALIDITY_SECONDS
    if update.deadline > latest_allowed:
        raise EnvelopeViolation("DeadlineTooFar", update.deadline, latest_allowed)


def signable(update: ParameterUpdate, steward: str, domain_chain_id: int | None = None) -> SignableMessage:
    """The EIP-712 message; `domain_chain_id` defaults to the update's own chain id."""
    domain = {
        "name": DOMAIN_NAME,
        "version": DOMAIN_VERSION,
        "chainId": update.chain_id if domain_chain_id is None else domain_chain_id,
        "verifyingContract": steward,
    }
    return encode_typed_data(domain_data=domain, message_types=PARAMETER_UPDATE_TYPES, message_data=update.as_message())


def update_hash(update: ParameterUpdate, steward: str) -> bytes:
    """The EIP-712 digest: what the enclave signs and the timelock salt."""
    message = signable(update, steward)
    return keccak(b"\x19" + message.version + message.header + message.body)


def sign_update(update: ParameterUpdate, private_key: bytes, steward: str, domain_chain_id: int | None = None) -> bytes:
    """65-byte signature (r, s, v) over the update's EIP-712 digest."""
    return bytes(Account.sign_message(signable(update, steward, domain_chain_id), private_key).signature)


def recover_signer(update: ParameterUpdate, signature: bytes, steward: str) -> str:
    return Account.recover_message(signable(update, steward), signature=signature)
