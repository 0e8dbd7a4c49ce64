"""One deployed system (Aave v3 market, timelock, steward, registrar, factory) per EVM backend
(in-process and a real anvil), session-scoped; every test runs inside a snapshot reverted after
it, so tests are independent and each backend deploys once.

The enclave key is registered the way production does it: the operator proposes it through the
EnclaveRegistrar, the timelock delay passes, anyone executes; its measurement is approved in
the steward's constructor.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3
from web3.contract import Contract

from chain.aave import aave_contract, our_contract
from chain.deploy import SystemConfig, SystemDeployment, deploy_system
from chain.errors import ContractRevert
from chain.listings import ReserveListing, oct_2023_listings
from chain.multicall import encode
from chain.node import (
    advance_time,
    dev_accounts,
    in_process_web3,
    is_in_process,
    latest_timestamp,
    revert_to,
    snapshot,
    start_anvil,
)
from chain.steward import RegistrarClient, StewardClient, SubmitResult
from chain.transact import Transactor, call
from chain.update import ParameterUpdate, sign_update
from strategies.params import AAVE_V3_OCT_2023, RAY_PER_BPS, Param, RiskParams
from tests.chain.aave_fixtures import aave, aave_deployed  # noqa: F401 - the bare-market fixtures of test_pool*.py

MIN_DELAY_SECONDS = 60
# A tight reserve: LT x LB is 99.7%, so +50 bps of bonus crosses 100%, and LTV sits 20 bps
# under LT, so a -25 bps threshold step crosses it.
TIGHT = ReserveListing(
    "wstETH", 18, 1_800 * 10**8,
    RiskParams(9_430, 9_450, 10_550, 100_000, 50_000, 1_500, 4_500, 0, 450, 8_000),
    pair_quote="WETH",
)
LISTINGS = (*oct_2023_listings(("WETH", "USDC", "CRV")), TIGHT)
MEASUREMENT = bytes.fromhex("ab" * 48)
ENCLAVE_KEY = b"\x07" * 32
DEPLOY_SECONDS: dict[str, float] = {}


@dataclass
class System:
    """The deployed system and the people around it, with helpers to build and relay updates."""

    backend: str
    w3: Web3
    deployment: SystemDeployment
    deployer: LocalAccount
    governance: LocalAccount
    guardian: LocalAccount
    operator: LocalAccount
    relayer: LocalAccount
    users: list[LocalAccount]
    enclave: LocalAccount
    relay: StewardClient
    governance_client: StewardClient
    guardian_client: StewardClient
    published: bytes = b""  # inputs hash published at deployment, for updates refused before step 7
    inputs_counter: list[int] = field(default_factory=lambda: [0])

    # --- contracts

    @property
    def steward(self) -> Contract:
        return our_contract(self.w3, "RiskSteward", self.deployment.steward)

    @property
    def timelock(self) -> Contract:
        return our_contract(self.w3, "TimelockController", self.deployment.timelock)

    @property
    def registrar(self) -> Contract:
        return our_contract(self.w3, "EnclaveRegistrar", self.deployment.registrar)

    @property
    def configurator(self) -> Contract:
        return aave_contract(self.w3, "PoolConfigurator", self.deployment.market.pool_configurator)

    @property
    def data_provider(self) -> Contract:
        return aave_contract(self.w3, "AaveProtocolDataProvider", self.deployment.market.data_provider)

    @property
    def acl(self) -> Contract:
        return aave_contract(self.w3, "ACLManager", self.deployment.market.acl_manager)

    def asset(self, symbol: str) -> str:
        return self.deployment.asset(symbol)

    def send(self, account: LocalAccount, fn):
        return Transactor(self.w3, account).send(fn)

    # --- reading Aave itself (not through the steward)

    def aave_params(self, symbol: str) -> dict[Param, int]:
        """The reserve's ten parameters read from Aave's data provider and its rate strategy
        (two Multicall3 round trips), independently of the steward's own reading."""
        asset = self.asset(symbol)
        data = self.data_provider
        (config, (borrow_cap, supply_cap), (strategy_address,)) = self.relay.multicall.read([
            encode(data, "getReserveConfigurationData", asset),
            encode(data, "getReserveCaps", asset),
            encode(data, "getInterestRateStrategyAddress", asset),
        ])
        strategy = aave_contract(self.w3, "DefaultReserveInterestRateStrategy", strategy_address)
        rates = self.relay.multicall.read([
            encode(strategy, getter) for getter in (
                "OPTIMAL_USAGE_RATIO", "getBaseVariableBorrowRate", "getVariableRateSlope1", "getVariableRateSlope2"
            )
        ])
        optimal, base, slope1, slope2 = (value // RAY_PER_BPS for (value,) in rates)
        return {
            Param.LTV: config[1], Param.LIQUIDATION_THRESHOLD: config[2], Param.LIQUIDATION_BONUS: config[3],
            Param.SUPPLY_CAP: supply_cap, Param.BORROW_CAP: borrow_cap, Param.RESERVE_FACTOR: config[4],
            Param.OPTIMAL_USAGE_RATIO: optimal, Param.BASE_VARIABLE_BORROW_RATE: base,
            Param.VARIABLE_RATE_SLOPE1: slope1, Param.VARIABLE_RATE_SLOPE2: slope2,
        }

    def rate_strategy(self, symbol: str) -> str:
        return self.data_provider.functions.getInterestRateStrategyAddress(self.asset(symbol)).call()

    # --- updates

    def publish(self, label: str | None = None) -> bytes:
        """Publishes fresh canonical-input bytes (unique per call) and returns their hash."""
        self.inputs_counter[0] += 1
        inputs = f"inputs {label or ''} #{self.inputs_counter[0]} on {self.backend}".encode()
        return self.relay.publish_inputs(inputs).inputs_hash

    def anchor(self) -> tuple[int, bytes, int]:
        """(number, hash, timestamp) of the block before the latest, so a submit simulated at the
        latest block already sees it as past. After a time jump that block is old: one empty
        block is mined first so the anchor carries the current time."""
        latest = self.w3.eth.get_block("latest")
        previous = self.w3.eth.get_block(latest["number"] - 1)
        if previous["timestamp"] + 600 < latest["timestamp"]:
            mine_block(self.w3)
            previous = latest
        return int(previous["number"]), bytes(previous["hash"]), int(previous["timestamp"])

    def update(
        self, symbol: str, changes: dict[Param, int], *, fresh_inputs: bool = False, **overrides
    ) -> ParameterUpdate:
        """A valid update of `symbol` (next nonce, recent anchor, published inputs) unless
        overridden field by field; `fresh_inputs` publishes new input bytes for it (a block)."""
        if "inputs_hash" not in overrides:
            overrides["inputs_hash"] = self.publish(symbol) if fresh_inputs else self.published
        number, block_hash, timestamp = self.anchor()
        fields = {
            "enclave": self.enclave.address,
            "chain_id": self.w3.eth.chain_id,
            "asset": self.asset(symbol),
            "params": tuple(int(p) for p in changes),
            "values": tuple(changes.values()),
            "nonce": self.relay.nonce(self.enclave.address),
            "anchor_block": number,
            "anchor_block_hash": block_hash,
            "anchor_timestamp": timestamp,
            "deadline": timestamp + 3_600,
            "measurement": MEASUREMENT,
        }
        fields.update(overrides)
        return ParameterUpdate(**fields)

    def sign(self, update: ParameterUpdate, key: bytes | None = None, domain_chain_id: int | None = None) -> bytes:
        return sign_update(update, key or self.enclave.key, self.deployment.steward, domain_chain_id)

    def submit(self, update: ParameterUpdate, signature: bytes | None = None) -> SubmitResult:
        return self.relay.submit(update, signature or self.sign(update))

    def propose(self, symbol: str, changes: dict[Param, int], **overrides) -> SubmitResult:
        update = self.update(symbol, changes, **overrides)
        return self.submit(update)

    def execute(self, result: SubmitResult):
        return self.relay.execute(result.operation)

    def governance_do(self, *payloads: bytes, salt: bytes, targets: list[str] | None = None) -> None:
        """A governance action: schedule through the timelock, wait the delay, execute."""
        batch = self.governance_client.schedule_governance(list(payloads), salt, targets)
        advance_time(self.w3, MIN_DELAY_SECONDS)
        self.governance_client.execute(batch)

    def steward_call(self, function: str, *args: object) -> bytes:
        return self.governance_client.encode_steward_call(function, *args)

    def state_fingerprint(self, symbol: str = "WETH") -> tuple:
        """Everything a refused update must leave unchanged, read in one Multicall3 call: Aave's
        configuration data, caps and rate strategy of the reserve (a strategy is immutable, so
        its address pins the curve), and the steward's param states, bounds, nonce counter and
        pause flag."""
        asset, steward, data = self.asset(symbol), self.steward, self.data_provider
        return tuple(self.relay.multicall.read([
            encode(data, "getReserveConfigurationData", asset),
            encode(data, "getReserveCaps", asset),
            encode(data, "getInterestRateStrategyAddress", asset),
            encode(steward, "getBounds"),
            encode(steward, "nonces", self.enclave.address),
            encode(steward, "paused"),
            encode(steward, "executionWindowSeconds"),
            *(encode(steward, "paramState", asset, int(p)) for p in Param),
        ]))


def mine_block(w3: Web3) -> None:
    """One empty block (in-process: one second later; anvil: now)."""
    if is_in_process(w3):
        w3.provider.ethereum_tester.mine_blocks(1)
    else:
        w3.provider.make_request("evm_mine", [])


def earliest_second(system: System) -> int:
    """The earliest second a new block can have: the in-process EVM never mines before the wall
    clock (its pending block), anvil after the latest block."""
    if is_in_process(system.w3):
        return int(system.w3.eth.get_block("pending")["timestamp"])
    return latest_timestamp(system.w3) + 1


def mine_at(w3: Web3, timestamp: int) -> None:
    """One empty block at exactly `timestamp` (unless the latest block is already there), on
    either backend, so an eth_call at "latest" then runs at that second."""
    if latest_timestamp(w3) == timestamp:
        return
    if is_in_process(w3):
        advance_time(w3, timestamp - latest_timestamp(w3))
    else:
        w3.provider.make_request("evm_mine", [timestamp])
    if latest_timestamp(w3) != timestamp:
        pytest.fail(f"could not mine at {timestamp}: latest block is at {latest_timestamp(w3)}")


def mine_blocks(w3: Web3, count: int) -> None:
    """`count` empty blocks (to age an anchor past the 256 blockhashes the EVM keeps)."""
    if is_in_process(w3):
        w3.provider.ethereum_tester.mine_blocks(count)
    else:
        w3.provider.make_request("anvil_mine", [hex(count)])


def expect_revert(action, name: str, *args: object) -> ContractRevert:
    """Runs `action`, which must revert with the custom error `name` (and `args`, when given)."""
    with pytest.raises(ContractRevert) as raised:
        action()
    assert raised.value.name == name, str(raised.value)
    if args:
        assert tuple(_plain(a) for a in raised.value.args_decoded) == tuple(_plain(a) for a in args), str(raised.value)
    return raised.value


def _plain(value: object) -> object:
    """Addresses compare case-insensitively; everything else as is."""
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return value.lower()
    return value


def call_submit(system: System, update: ParameterUpdate, signature: bytes | None = None) -> bytes:
    """The steward's verdict on `update` at the latest block's exact timestamp (an eth_call);
    returns the operation id it would return (zero for the fast path)."""
    fn = system.steward.functions.submit(update.as_tuple(), signature or system.sign(update))
    return bytes(call(fn, sender=system.relayer.address))


def _deploy(backend: str, w3: Web3) -> System:
    accounts = dev_accounts(w3)
    deployer, governance, guardian, operator, relayer = accounts[:5]
    started = time.perf_counter()
    deployment = deploy_system(
        w3, deployer, governance=governance.address, guardian=guardian.address, operator=operator.address,
        config=SystemConfig(
            listings=LISTINGS, min_delay_seconds=MIN_DELAY_SECONDS, initial_measurements=(MEASUREMENT,)
        ),
    )
    DEPLOY_SECONDS[backend] = time.perf_counter() - started
    enclave = Account.from_key(ENCLAVE_KEY)
    system = System(
        backend=backend,
        w3=w3,
        deployment=deployment,
        deployer=deployer,
        governance=governance,
        guardian=guardian,
        operator=operator,
        relayer=relayer,
        users=accounts[5:],
        enclave=enclave,
        relay=StewardClient.for_system(w3, deployment, relayer),
        governance_client=StewardClient.for_system(w3, deployment, governance),
        guardian_client=StewardClient.for_system(w3, deployment, guardian),
    )
    batch, _ = RegistrarClient(w3, deployment.registrar, operator).schedule_registration(
        enclave.address, MEASUREMENT, keccak(b"attestation document"), 0
    )
    advance_time(w3, MIN_DELAY_SECONDS)
    Transactor(w3, relayer).send(system.timelock.functions.executeBatch(*batch.execute_args()))
    system.published = system.relay.publish_inputs(b"canonical inputs published at deployment").inputs_hash
    return system


@pytest.fixture(scope="session", params=["in_process", pytest.param("anvil", marks=pytest.mark.anvil)])
def deployed(request, tmp_path_factory):
    if request.param == "in_process":
        yield _deploy("in_process", in_process_web3())
        return
    node = start_anvil(log_dir=tmp_path_factory.mktemp("anvil"))
    try:
        yield _deploy("anvil", node.web3())
    finally:
        node.stop()


@pytest.fixture
def system(deployed: System):
    snapshot_id = snapshot(deployed.w3)
    yield deployed
    revert_to(deployed.w3, snapshot_id)


WETH = AAVE_V3_OCT_2023["WETH"]
USDC = AAVE_V3_OCT_2023["USDC"]
CRV = AAVE_V3_OCT_2023["CRV"]
