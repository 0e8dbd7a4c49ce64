"""Contract events as typed records, in chain order, for reconciliation and the dashboard.

Watched: the steward (inputs published, updates applied / scheduled / executed / vetoed,
governance changes), the timelock (scheduled, executed, cancelled), the registrar, the rate
strategy factory, and Aave's PoolConfigurator (every parameter change, whoever made it, so a
change that bypassed the steward shows up too).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eth_utils import event_abi_to_log_topic
from web3 import Web3

from chain.aave import aave_contract, our_contract


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


# Contract name → the events worth recording from it.
WATCHED: dict[str, tuple[str, ...]] = {
    "RiskSteward": (
        "InputsPublished", "UpdateApplied", "UpdateScheduled", "UpdateExecuted", "UpdateVetoed", "PendingSuperseded",
        "EnclaveRegistered",
        "EnclaveRevokedEvent", "MeasurementApprovalSet", "BoundSet", "ExecutionWindowSet", "GuardianSet", "Paused",
        "Unpaused",
    ),
    "TimelockController": ("CallScheduled", "CallSalt", "CallExecuted", "Cancelled"),
    "EnclaveRegistrar": ("RegistrationScheduled", "OperatorSet"),
    "RateStrategyFactory": ("StrategyCreated",),
    "PoolConfigurator": (
        "CollateralConfigurationChanged", "SupplyCapChanged", "BorrowCapChanged", "ReserveFactorChanged",
        "ReserveInterestRateStrategyChanged",
    ),
}


@dataclass(frozen=True)
class WatchedAddresses:
    """Where the watched contracts live; None skips one (e.g. a market without our registrar)."""

    steward: str
    timelock: str
    registrar: str | None = None
    rate_strategy_factory: str | None = None
    pool_configurator: str | None = None

    @classmethod
    def of(cls, system, w3: Web3 | None = None) -> WatchedAddresses:
        """From a `chain.deploy.SystemDeployment` or a `chain.deployment.Deployment` (whose
        PoolConfigurator is read from its addresses provider, when `w3` is given)."""
        market = getattr(system, "market", None)
        configurator = getattr(market, "pool_configurator", None)
        provider = getattr(system, "addresses_provider", None)
        if configurator is None and provider is not None and w3 is not None:
            configurator = aave_contract(w3, "PoolAddressesProvider", provider).functions.getPoolConfigurator().call()
        return cls(
            steward=system.steward,
            timelock=system.timelock,
            registrar=getattr(system, "registrar", None),
            rate_strategy_factory=getattr(system, "rate_strategy_factory", None),
            pool_configurator=configurator,
        )

    def by_contract(self) -> dict[str, str | None]:
        return {
            "RiskSteward": self.steward,
            "TimelockController": self.timelock,
            "EnclaveRegistrar": self.registrar,
            "RateStrategyFactory": self.rate_strategy_factory,
            "PoolConfigurator": self.pool_configurator,
        }


def _plain(value: object) -> object:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def read_events(w3: Web3, system, from_block: int, to_block: int | str = "latest") -> list[ChainEvent]:
    """Every watched event between two blocks (inclusive), sorted by position. `system` is a
    `WatchedAddresses`, a `SystemDeployment` or a deployment file's `Deployment`.

    One `eth_getLogs` over all addresses, decoded here by topic: the in-process EVM scans
    every block per query, so one query instead of one per event type matters.
    """
    addresses = system if isinstance(system, WatchedAddresses) else WatchedAddresses.of(system, w3)
    decoders = {}
    for contract_name, event_names in WATCHED.items():
        address = addresses.by_contract()[contract_name]
        if address is None:
            continue
        if contract_name == "PoolConfigurator":
            instance = aave_contract(w3, contract_name, address)
        else:
            instance = our_contract(w3, contract_name, address)
        for event_name in event_names:
            event = getattr(instance.events, event_name)()
            decoders[(instance.address, event_abi_to_log_topic(event.abi))] = (contract_name, event_name, event)
    logs = w3.eth.get_logs({
        "address": sorted({address for address, _ in decoders}),
        "fromBlock": from_block,
        "toBlock": to_block,
    })
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
