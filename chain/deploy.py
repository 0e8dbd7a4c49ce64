"""Deploys the whole system on an Aave v3 market and hands every role to governance.

Order: the Aave market (`chain.aave.deploy_aave_market`, which also deploys Multicall3), the
OpenZeppelin timelock (the deployer its temporary admin), the rate-strategy factory (Aave's
own DefaultReserveInterestRateStrategy creation code), the steward (bounds from
`strategies.params.DEFAULT_BOUNDS`), the enclave registrar, then the hand-over.

Roles at the end (checked by tests/chain/test_steward_roles.py):
- timelock: proposers = steward, governance, registrar; cancellers = guardian and the steward
  (for `veto`); executor = anyone; admin = the timelock itself;
- Aave: ACL admin (DEFAULT_ADMIN_ROLE and the provider's ACL admin) and POOL_ADMIN = timelock,
  RISK_ADMIN = steward, PoolAddressesProvider owner = timelock;
- the demo's price feeds and DEX pairs belong to `price_keeper` (default: governance);
- the deployer holds nothing anywhere.
Off the local dev chain a guardian must be named; governance and guardian are never the deployer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract

from chain.aave import AaveMarket, aave_contract, deploy_aave_market, our_contract
from chain.artifacts import load_aave_artifact, load_artifact
from chain.deployment import Deployment
from chain.errors import ChainError
from chain.listings import ReserveListing, oct_2023_listings
from chain.node import ANVIL_CHAIN_ID, is_in_process
from chain.transact import Transactor
from strategies.bounds import DEFAULT_EXECUTION_WINDOW_S
from strategies.params import DEFAULT_BOUNDS, Bound, Param

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


class DeploymentRefused(ChainError):
    """deploy_system refuses a configuration that would leave the system unguarded."""


@dataclass(frozen=True)
class SystemConfig:
    """What to deploy: the reserves, the timelock delay (1 day in production, seconds in the
    demo), the steward's execution window and bounds, and measurements approved from the start."""

    listings: tuple[ReserveListing, ...] = field(default_factory=oct_2023_listings)
    min_delay_seconds: int = 86_400
    execution_window_seconds: int = DEFAULT_EXECUTION_WINDOW_S
    bounds: dict[Param, Bound] = field(default_factory=lambda: dict(DEFAULT_BOUNDS))
    initial_measurements: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class SystemDeployment:
    """Every address of one deployed system; `market` is the Aave market underneath."""

    chain_id: int
    market: AaveMarket
    timelock: str
    steward: str
    registrar: str
    rate_strategy_factory: str
    governance: str
    guardian: str
    operator: str
    min_delay_seconds: int
    execution_window_seconds: int
    deployed_at_block: int

    @property
    def multicall(self) -> str:
        return self.market.multicall

    def asset(self, symbol: str) -> str:
        """The underlying token of a listed reserve."""
        return self.market.reserve(symbol).underlying

    def to_deployment(self) -> Deployment:
        """The deployment file's content: the market by its addresses provider, our contracts,
        the roles and delays; everything else is derived on chain."""
        return Deployment(
            chain_id=self.chain_id,
            addresses_provider=self.market.addresses_provider,
            multicall=self.market.multicall,
            ui_pool_data_provider=self.market.ui_pool_data_provider,
            steward=self.steward,
            timelock=self.timelock,
            registrar=self.registrar,
            rate_strategy_factory=self.rate_strategy_factory,
            governance=self.governance,
            guardian=self.guardian,
            operator=self.operator,
            min_delay_seconds=self.min_delay_seconds,
            execution_window_seconds=self.execution_window_seconds,
            deployed_at_block=self.deployed_at_block,
            dex_pairs={reserve.symbol: reserve.pair for reserve in self.market.reserves},
        )


def is_local_dev_chain(w3: Web3) -> bool:
    """The in-process EVM or a fresh anvil (chain id 31337); a fork keeps its real chain id."""
    return is_in_process(w3) or w3.eth.chain_id == ANVIL_CHAIN_ID


def bound_tuples(bounds: dict[Param, Bound]) -> list[tuple[int, int, bool, int, int]]:
    """`RiskSteward.Bound[10]` in `Param` order."""
    missing = [p.name for p in Param if p not in bounds]
    if missing:
        raise DeploymentRefused(f"bounds missing for {', '.join(missing)}")
    return [
        (b.cooldown_seconds, b.max_change, b.is_relative, b.floor, b.ceiling)
        for b in (bounds[p] for p in Param)
    ]


def contract(w3: Web3, name: str, address: str) -> Contract:
    """One of our contracts bound at `address` (kept for callers of the old module)."""
    return our_contract(w3, name, address)


def deploy_system(
    w3: Web3,
    deployer: LocalAccount,
    *,
    governance: str,
    guardian: str | None = None,
    operator: str | None = None,
    price_keeper: str | None = None,
    config: SystemConfig | None = None,
) -> SystemDeployment:
    """Deploys market, timelock, factory, steward and registrar, then hands every role over.

    `governance` proposes in the timelock (a DAO executor or multisig); `guardian` vetoes and
    pauses (required off the local dev chain; there it defaults to governance); `operator` may
    propose enclave registrations through the registrar (default: governance)."""
    config = config or SystemConfig()
    governance = Web3.to_checksum_address(governance)
    if guardian is None:
        if not is_local_dev_chain(w3):
            raise DeploymentRefused(
                f"chain {w3.eth.chain_id} is not the local dev chain: name a guardian (--guardian ADDRESS)"
            )
        guardian = governance
    guardian = Web3.to_checksum_address(guardian)
    operator = Web3.to_checksum_address(operator or governance)
    price_keeper = Web3.to_checksum_address(price_keeper or governance)
    for role, address in (("governance", governance), ("guardian", guardian)):
        if address == deployer.address:
            raise DeploymentRefused(f"the {role} must not be the deployer ({address}): the deployer keeps no role")

    tx = Transactor(w3, deployer)
    start_block = w3.eth.block_number + 1
    market = deploy_aave_market(w3, deployer, config.listings)
    timelock_address = tx.deploy(
        load_artifact("TimelockController"), config.min_delay_seconds, [], [ZERO_ADDRESS], deployer.address
    )
    factory_address = tx.deploy(
        load_artifact("RateStrategyFactory"),
        market.addresses_provider,
        bytes.fromhex(load_aave_artifact("DefaultReserveInterestRateStrategy").bytecode.removeprefix("0x")),
    )
    steward_address = tx.deploy(
        load_artifact("RiskSteward"),
        timelock_address,
        market.addresses_provider,
        factory_address,
        guardian,
        bound_tuples(config.bounds),
        config.execution_window_seconds,
        list(config.initial_measurements),
    )
    registrar_address = tx.deploy(load_artifact("EnclaveRegistrar"), timelock_address, steward_address, operator)

    timelock = our_contract(w3, "TimelockController", timelock_address)
    proposer, canceller, admin = (
        timelock.functions.PROPOSER_ROLE().call(),
        timelock.functions.CANCELLER_ROLE().call(),
        timelock.functions.DEFAULT_ADMIN_ROLE().call(),
    )
    for account in (steward_address, governance, registrar_address):
        tx.send(timelock.functions.grantRole(proposer, account))
    for account in (guardian, steward_address):
        tx.send(timelock.functions.grantRole(canceller, account))
    tx.send(timelock.functions.renounceRole(admin, deployer.address))

    _hand_over_market(w3, tx, market, timelock_address, steward_address)
    for reserve in market.reserves:
        tx.send(our_contract(w3, "PushableAggregator", reserve.feed).functions.transferOwnership(price_keeper))
        tx.send(our_contract(w3, "DemoPair", reserve.pair).functions.transferOwnership(price_keeper))
    tx.send(our_contract(w3, "PushableAggregator", market.usd_feed).functions.transferOwnership(price_keeper))

    return SystemDeployment(
        chain_id=w3.eth.chain_id,
        market=market,
        timelock=timelock_address,
        steward=steward_address,
        registrar=registrar_address,
        rate_strategy_factory=factory_address,
        governance=governance,
        guardian=guardian,
        operator=operator,
        min_delay_seconds=config.min_delay_seconds,
        execution_window_seconds=config.execution_window_seconds,
        deployed_at_block=start_block,
    )


def _hand_over_market(w3: Web3, tx: Transactor, market: AaveMarket, timelock: str, steward: str) -> None:
    """Governance (the timelock) takes the ACL admin, POOL_ADMIN and the provider; the steward
    takes RISK_ADMIN; the deployer gives up its roles last (the ACL admin role at the very end,
    since it is what lets it revoke the others)."""
    deployer = tx.address
    acl = aave_contract(w3, "ACLManager", market.acl_manager)
    provider = aave_contract(w3, "PoolAddressesProvider", market.addresses_provider)
    admin_role = acl.functions.DEFAULT_ADMIN_ROLE().call()
    tx.send(acl.functions.addPoolAdmin(timelock))
    tx.send(acl.functions.grantRole(admin_role, timelock))
    tx.send(acl.functions.addRiskAdmin(steward))
    tx.send(provider.functions.setACLAdmin(timelock))
    tx.send(provider.functions.transferOwnership(timelock))
    tx.send(acl.functions.removePoolAdmin(deployer))
    tx.send(acl.functions.renounceRole(admin_role, deployer))
