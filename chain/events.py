"""Contract events as typed records, in chain order, for reconciliation and the dashboard."""

from __future__ import annotations

from dataclasses import dataclass, field

from eth_utils import event_abi_to_log_topic
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
    """Every watched event of the system between two blocks (inclusive), sorted by position.

    One `eth_getLogs` over all addresses, decoded here by topic: the in-process EVM scans
    every block per query, so one query instead of one per event type matters.
    """
    decoders = {}
    addresses = []
    for contract_name, event_names in _WATCHED.items():
        address = _address_of(deployment, contract_name)
        if address is None:
            continue
        instance = contract(w3, contract_name, address)
        addresses.append(instance.address)
        for event_name in event_names:
            event = getattr(instance.events, event_name)()
            topic = event_abi_to_log_topic(event.abi)
            decoders[(instance.address, topic)] = (contract_name, event_name, event)
    logs = w3.eth.get_logs({"address": addresses, "fromBlock": from_block, "toBlock": to_block})
    records: list[ChainEvent] = []
    for log in logs:
        if not log["topics"]:
            continue
        key = (Web3.to_checksum_address(log["address"]), bytes(log["topics"][0]))
        if key not in decoders:
            continue
        contract_name, event_name, event = decoders[key]
        decoded = event.process_log(log)
        records.append(
            ChainEvent(
                name=event_name,
                contract=contract_name,
                block_number=int(log["blockNumber"]),
                log_index=int(log["logIndex"]),
                transaction_hash="0x" + bytes(log["transactionHash"]).hex(),
                args={key: _plain(value) for key, value in decoded["args"].items()},
            )
        )
    return sorted(records, key=lambda record: record.position)
