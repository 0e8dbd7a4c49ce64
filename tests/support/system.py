"""A deployed system for agent and integration tests: Aave v3 with the steward, roles as in
production (deployer, governance, guardian and operator are four different accounts)."""

from __future__ import annotations

from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from web3 import Web3

from chain.deploy import SystemConfig, SystemDeployment, deploy_system
from chain.node import dev_accounts
from chain.steward import RegistrarClient, StewardClient


@dataclass
class Roles:
    deployer: LocalAccount
    governance: LocalAccount
    guardian: LocalAccount
    operator: LocalAccount
    others: list[LocalAccount]


def roles(w3: Web3) -> Roles:
    accounts = dev_accounts(w3)
    return Roles(accounts[0], accounts[1], accounts[2], accounts[3], accounts[4:])


def deploy(w3: Web3, *, min_delay_seconds: int = 60, measurements: tuple[bytes, ...] = (), **config) -> tuple[SystemDeployment, Roles]:
    who = roles(w3)
    system = deploy_system(w3, who.deployer, governance=who.governance.address, guardian=who.guardian.address,
                           operator=who.operator.address,
                           config=SystemConfig(min_delay_seconds=min_delay_seconds, initial_measurements=measurements, **config))
    return system, who


def relay_for(w3: Web3, system: SystemDeployment, account: LocalAccount) -> StewardClient:
    return StewardClient.for_system(w3, system, account)


def registrar_for(w3: Web3, system: SystemDeployment, operator: LocalAccount) -> RegistrarClient:
    return RegistrarClient(w3, system.registrar, operator)
