"""Roles after deploy_system, on both backends: the deployer holds nothing; every role is held by
exactly whom the plan names; no account changes a reserve except through an executed timelock
operation or the steward's bounded fast path; the registrar can schedule one thing only."""

from __future__ import annotations

import pytest
from eth_utils import keccak
from web3 import Web3

from chain.aave import aave_contract, our_contract, roles_of
from chain.deploy import DeploymentRefused, SystemConfig, deploy_system
from chain.node import advance_time, dev_accounts, start_anvil
from chain.steward import OperationState, RegistrarClient
from strategies.params import DEFAULT_BOUNDS, NON_ZERO_PARAMS, TIGHTENS_DOWNWARD, Param
from tests.chain.conftest import LISTINGS, MEASUREMENT, MIN_DELAY_SECONDS, System, expect_revert

ZERO = "0x0000000000000000000000000000000000000000"


def role_holders(system: System, address: str, abi_owner) -> dict[bytes, set[str]]:
    """Who holds each role of an AccessControl contract now, replayed from its RoleGranted /
    RoleRevoked events since deployment (neither contract enumerates its members)."""
    granted, revoked = abi_owner.events.RoleGranted(), abi_owner.events.RoleRevoked()
    logs = system.w3.eth.get_logs({"address": address, "fromBlock": system.deployment.deployed_at_block})
    holders: dict[bytes, set[str]] = {}
    for log in logs:
        for event, add in ((granted, True), (revoked, False)):
            if bytes(log["topics"][0]) == bytes(Web3.keccak(text=_signature(event.abi))):
                args = event.process_log(log)["args"]
                members = holders.setdefault(bytes(args["role"]), set())
                (members.add if add else members.discard)(args["account"])
    return holders


def _signature(abi: dict) -> str:
    return f"{abi['name']}({','.join(i['type'] for i in abi['inputs'])})"


def test_every_role_is_held_by_exactly_whom_the_plan_names(system: System):
    d = system.deployment
    timelock = system.timelock
    tl = timelock.functions
    expected_timelock = {
        tl.DEFAULT_ADMIN_ROLE().call(): {d.timelock},  # self-administered: governance only
        tl.PROPOSER_ROLE().call(): {d.steward, d.governance, d.registrar},
        tl.CANCELLER_ROLE().call(): {d.guardian, d.steward},
        tl.EXECUTOR_ROLE().call(): {ZERO},  # open execution
    }
    assert role_holders(system, d.timelock, timelock) == expected_timelock
    acl = system.acl.functions
    expected_acl = {
        acl.DEFAULT_ADMIN_ROLE().call(): {d.timelock},
        acl.POOL_ADMIN_ROLE().call(): {d.timelock},
        acl.RISK_ADMIN_ROLE().call(): {d.steward},
    }
    holders = role_holders(system, d.market.acl_manager, system.acl)
    assert {role: members for role, members in holders.items() if members} == expected_acl
    provider = aave_contract(system.w3, "PoolAddressesProvider", d.market.addresses_provider).functions
    assert provider.owner().call() == d.timelock
    assert provider.getACLAdmin().call() == d.timelock


def test_the_deployer_ends_with_no_role_anywhere(system: System):
    d, deployer = system.deployment, system.deployer.address
    tl = system.timelock.functions
    for role in ("DEFAULT_ADMIN_ROLE", "PROPOSER_ROLE", "CANCELLER_ROLE", "EXECUTOR_ROLE"):
        assert not tl.hasRole(getattr(tl, role)().call(), deployer).call(), role
    acl = system.acl.functions
    for role in ("DEFAULT_ADMIN_ROLE", "POOL_ADMIN_ROLE", "RISK_ADMIN_ROLE", "EMERGENCY_ADMIN_ROLE",
                 "ASSET_LISTING_ADMIN_ROLE", "FLASH_BORROWER_ROLE", "BRIDGE_ROLE"):
        assert not acl.hasRole(getattr(acl, role)().call(), deployer).call(), role
    assert not roles_of(system.w3, d.market.addresses_provider, deployer).any
    assert system.registrar.functions.operator().call() != deployer
    assert system.steward.functions.guardian().call() != deployer
    for reserve in d.market.reserves:  # the demo's feeds and pairs went to the price keeper
        for name, address in (("PushableAggregator", reserve.feed), ("DemoPair", reserve.pair)):
            assert our_contract(system.w3, name, address).functions.owner().call() == d.governance


def test_no_account_changes_a_reserve_outside_the_timelock_and_the_fast_path(system: System):
    """Deployer, operator, relayer, guardian and the governance account itself (as an EOA) are
    each refused by Aave's configurator (risk-admin and pool-admin entry points), by the ACL and
    the provider, and by the steward's applyUpdate. Governance through an executed timelock
    operation succeeds (the positive control)."""
    asset = system.asset("WETH")
    configurator = system.configurator.functions
    for account in (system.deployer, system.operator, system.relayer, system.guardian, system.governance):
        expect_revert(lambda a=account: system.send(a, configurator.setSupplyCap(asset, 1)),
                      "CALLER_NOT_RISK_OR_POOL_ADMIN", "4")
        collateral = configurator.configureReserveAsCollateral(asset, 9_000, 9_100, 10_500)
        expect_revert(lambda a=account: system.send(a, collateral), "CALLER_NOT_RISK_OR_POOL_ADMIN", "4")
        expect_revert(lambda a=account: system.send(a, configurator.setReserveActive(asset, False)),
                      "CALLER_NOT_POOL_ADMIN", "1")
        error = expect_revert(lambda a=account: system.send(a, system.acl.functions.addRiskAdmin(a.address)), "Error")
        assert "AccessControl: account" in error.args_decoded[0]
        apply_update = system.steward.functions.applyUpdate(asset, [3], [1], b"\x00" * 32)
        expect_revert(lambda a=account: system.send(a, apply_update), "OnlyTimelock", account.address)
    provider = aave_contract(system.w3, "PoolAddressesProvider", system.deployment.market.addresses_provider)
    upgrade = provider.functions.setPoolConfiguratorImpl(asset)
    error = expect_revert(lambda: system.send(system.deployer, upgrade), "Error")
    assert error.args_decoded == ("Ownable: caller is not the owner",)
    assert system.aave_params("WETH")[Param.SUPPLY_CAP] == 1_800_000
    payload = system.configurator.encode_abi("setSupplyCap", [asset, 1])
    system.governance_do(bytes.fromhex(payload[2:]), salt=b"\x0b" * 32, targets=[system.configurator.address])
    assert system.aave_params("WETH")[Param.SUPPLY_CAP] == 1


def test_stored_bounds_and_masks_equal_the_registry(system: System):
    """The steward's bounds are strategies.params.DEFAULT_BOUNDS, its Param order the
    registry's, and its non-zero / tightening masks the registry's flags."""
    stored = system.steward.functions.getBounds().call()
    for param in Param:
        b = DEFAULT_BOUNDS[param]
        assert tuple(stored[param]) == (b.cooldown_seconds, b.max_change, b.is_relative, b.floor, b.ceiling), param.name
    functions = system.steward.functions
    assert functions.NON_ZERO_PARAMS_MASK().call() == sum(1 << p for p in NON_ZERO_PARAMS)
    assert functions.TIGHTENING_PARAMS_MASK().call() == sum(1 << p for p in TIGHTENS_DOWNWARD)
    assert functions.PARAM_COUNT().call() == len(Param)
    assert functions.executionWindowSeconds().call() == 86_400


def test_registrar_schedules_only_registrations_that_wait_and_can_be_vetoed(system: System):
    """The operator proposes a key; it cannot execute before the delay; the guardian can cancel
    it; proposed again and left alone, anyone executes it after the delay."""
    newcomer = system.users[0].address
    registrar = RegistrarClient(system.w3, system.deployment.registrar, system.operator)
    batch, _ = registrar.schedule_registration(newcomer, MEASUREMENT, keccak(b"doc 2"), 0)
    expect_revert(lambda: system.relay.execute(batch), "TimelockUnexpectedOperationState")
    system.guardian_client.cancel_in_timelock(batch.operation_id)
    advance_time(system.w3, MIN_DELAY_SECONDS)
    expect_revert(lambda: system.relay.execute(batch), "TimelockUnexpectedOperationState")
    assert system.steward.functions.enclaves(newcomer).call()[2] == 0  # registeredAt: never
    batch, _ = registrar.schedule_registration(newcomer, MEASUREMENT, keccak(b"doc 2"), 0)
    # Proposing the same registration again while it waits returns the same operation.
    again, _ = registrar.schedule_registration(newcomer, MEASUREMENT, keccak(b"doc 2"), 0)
    assert again.operation_id == batch.operation_id
    assert system.relay.operation_state(batch.operation_id) is OperationState.WAITING
    advance_time(system.w3, MIN_DELAY_SECONDS)
    system.relay.execute(batch)
    measurement_hash, digest, registered_at, *_ = system.steward.functions.enclaves(newcomer).call()
    assert (measurement_hash, digest) == (keccak(MEASUREMENT), keccak(b"doc 2")) and registered_at > 0


def test_registrar_has_no_other_way_into_the_timelock(system: System):
    """Its ABI has one scheduling entry point; only the operator may use it; only governance
    changes the operator; the operator itself is no timelock proposer."""
    functions = {e["name"] for e in system.registrar.abi if e["type"] == "function"}
    assert functions == {"scheduleRegistration", "setOperator", "operator", "steward", "timelock"}
    registrar = system.registrar.functions
    schedule = registrar.scheduleRegistration(system.relayer.address, MEASUREMENT, b"\x00" * 32, 0, b"")
    expect_revert(lambda: system.send(system.relayer, schedule), "OnlyOperator", system.relayer.address)
    expect_revert(lambda: system.send(system.operator, registrar.setOperator(system.relayer.address)),
                  "OnlyGovernance", system.operator.address)
    payload = system.steward_call("setGuardian", system.operator.address)
    expect_revert(lambda: system.send(system.operator, system.timelock.functions.schedule(
        system.deployment.steward, 0, payload, b"\x00" * 32, b"\x00" * 32, MIN_DELAY_SECONDS)),
        "AccessControlUnauthorizedAccount", system.operator.address, system.timelock.functions.PROPOSER_ROLE().call())


@pytest.mark.anvil
def test_deploy_refuses_an_unguarded_configuration():
    """Off the local dev chain (an anvil with chain id 1, as a mainnet fork has) a guardian must
    be named; governance and guardian are never the deployer. Refused before any transaction."""
    with start_anvil(chain_id=1) as node:
        w3 = node.web3()
        deployer, governance = dev_accounts(w3)[:2]
        config = SystemConfig(listings=LISTINGS[:1])
        with pytest.raises(DeploymentRefused, match="not the local dev chain: name a guardian"):
            deploy_system(w3, deployer, governance=governance.address, config=config)
        with pytest.raises(DeploymentRefused, match="the governance must not be the deployer"):
            deploy_system(w3, deployer, governance=deployer.address, guardian=governance.address, config=config)
        with pytest.raises(DeploymentRefused, match="the guardian must not be the deployer"):
            deploy_system(w3, deployer, governance=governance.address, guardian=deployer.address, config=config)
        assert w3.eth.get_transaction_count(deployer.address) == 0
