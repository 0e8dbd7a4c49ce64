"""The signed parameter update: the EIP-712 struct the enclave signs and the steward checks.

The Python mirror of `RiskSteward.ParameterUpdate`; field order, types and the domain are the
contract's, so `update_hash` here equals `RiskSteward.hashUpdate` on chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_utils import keccak

DOMAIN_NAME = "RiskSteward"
DOMAIN_VERSION = "1"
MAX_UPDATE_VALIDITY_SECONDS = 6 * 3600


class Param(IntEnum):
    """Parameter ids, as `RiskSteward.Param`; units in the comment."""

    LTV = 0  # bps
    LIQUIDATION_THRESHOLD = 1  # bps
    LIQUIDATION_BONUS = 2  # bps, 10000 + bonus
    SUPPLY_CAP = 3  # whole tokens
    BORROW_CAP = 4  # whole tokens
    RESERVE_FACTOR = 5  # bps
    OPTIMAL_USAGE_RATIO = 6  # bps
    BASE_VARIABLE_BORROW_RATE = 7  # bps per year
    VARIABLE_RATE_SLOPE1 = 8  # bps per year
    VARIABLE_RATE_SLOPE2 = 9  # bps per year


PARAMETER_UPDATE_TYPES = {
    "ParameterUpdate": [
        {"name": "enclave", "type": "address"},
        {"name": "chainId", "type": "uint256"},
        {"name": "asset", "type": "address"},
        {"name": "params", "type": "uint8[]"},
        {"name": "values", "type": "uint256[]"},
        {"name": "nonce", "type": "uint256"},
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
            deadline=int(raw["deadline"]),
            inputs_hash=bytes.fromhex(raw["inputs_hash"].removeprefix("0x")),
            measurement=bytes.fromhex(raw["measurement"].removeprefix("0x")),
        )


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
