"""Contract events as typed records, in chain order, for reconciliation and the dashboard."""

from __future__ import annotations

from dataclasses import dataclass, field

from web3 import Web3

from chain.deploy import contract
from chain.deployment import Deployment


@dataclass(frozen=True)
class ChainEvent:
    """One log: which contract event, where in the chain, and its arguments (bytes as hex)."""

    name: str
    contract: str
    block_number: int
    log_index: int
    transaction_hash: str
    args: dict = field(hash=False)

    @property
    def position(self) -> tuple[int, int]:
        return (self.block_number, self.log_index)


# Contract name in the deployment → the events worth recording from it.
_WATCHED = {
    "RiskSteward": (
        "UpdateScheduled", "EnclaveRegistered", "EnclaveRevokedEvent", "MeasurementApprovalSet",
        "BoundSet", "Paused", "Unpaused",
    ),
    "TimelockController": ("CallScheduled", "CallSalt", "CallExecuted", "Cancelled"),
    "DemoPool": (
        "CollateralConfigurationChanged", "SupplyCapChanged", "BorrowCapChanged", "ReserveFactorChanged",
        "RateDataUpdate", "LiquidationCall", "DeficitCreated",
    ),
}


def _address_of(deployment: Deployment, contract_name: str) -> str | None:
    return {
        "RiskSteward": deployment.steward,
        "TimelockController": deployment.timelock,
        "DemoPool": deployment.market.pool,
    }[contract_name]


def _plain(value: object) -> object:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def read_events(w3: Web3, deployment: Deployment, from_block: int, to_block: int | str = "latest") -> list[ChainEvent]:
    """Every watched event of the system between two blocks (inclusive), sorted by position."""
    records: list[ChainEvent] = []
    for contract_name, event_names in _WATCHED.items():
        address = _address_of(deployment, contract_name)
        if address is None:
            continue
        instance = contract(w3, contract_name, address)
        for event_name in event_names:
            event = getattr(instance.events, event_name)
            for log in event.get_logs(from_block=from_block, to_block=to_block):
                records.append(
                    ChainEvent(
                        name=event_name,
                        contract=contract_name,
                        block_number=int(log["blockNumber"]),
                        log_index=int(log["logIndex"]),
                        transaction_hash="0x" + bytes(log["transactionHash"]).hex(),
                        args={key: _plain(value) for key, value in log["args"].items()},
                    )
                )
    return sorted(records, key=lambda record: record.position)
