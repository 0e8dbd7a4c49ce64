"""One deployed system per EVM backend (in-process and a real anvil), each test inside a
snapshot that is reverted after it, so tests are independent and the suite runs once per backend."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from chain.deploy import AAVE_V3_OCT_2023, MarketSpec, RateCurve, SystemConfig, contract, deploy_system
from chain.deployment import Deployment
from chain.node import advance_time, dev_accounts, in_process_web3, latest_timestamp, revert_to, snapshot, start_anvil
from chain.reader import MarketReader
from chain.steward import StewardClient
from chain.transact import Transactor
from chain.update import ParameterUpdate, sign_update

MIN_DELAY_SECONDS = 60
# A tight E-mode-like reserve: LT x LB is 99.7%, so a +50 bps bonus crosses 100%, and LTV
# sits 20 bps under LT, so a -25 bps threshold step crosses it.
TIGHT_MARKET = MarketSpec("wstETH", 18, 1_800 * 10**8, 9_430, 9_450, 10_550, 1_500, 100_000, 50_000, RateCurve(4_500, 0, 450, 8_000))
TEST_MARKETS = (*AAVE_V3_OCT_2023, TIGHT_MARKET)


@dataclass
class System:
    backend: str
    w3: Web3
    deployment: Deployment
    governance: LocalAccount
    guardian: LocalAccount
    relayer: LocalAccount
    users: list[LocalAccount]
    enclave: LocalAccount
    measurement: bytes
    relay: StewardClient
    governance_client: StewardClient
    guardian_client: StewardClient
    reader: MarketReader

    @property
    def steward(self):
        return contract(self.w3, "RiskSteward", self.deployment.steward)

    @property
    def pool(self):
        return contract(self.w3, "DemoPool", self.deployment.market.pool)

    def token(self, symbol: str):
        return contract(self.w3, "TestToken", self.deployment.asset(symbol).token)

    def feed(self, symbol: str):
        return contract(self.w3, "PushableAggregator", self.deployment.asset(symbol).aggregator)

    def update(self, symbol: str, changes: dict[int, int], *, nonce: int = 1, **overrides) -> ParameterUpdate:
        fields = {
            "enclave": self.enclave.address,
            "chain_id": self.w3.eth.chain_id,
            "asset": self.deployment.asset(symbol).token,
            "params": tuple(changes),
            "values": tuple(changes.values()),
            "nonce": nonce,
            "deadline": latest_timestamp(self.w3) + 3_600,
            "inputs_hash": b"\x42" * 32,
            "measurement": self.measurement,
        }
        fields.update(overrides)
        return ParameterUpdate(**fields)

    def sign(self, update: ParameterUpdate, key: bytes | None = None, domain_chain_id: int | None = None) -> bytes:
        return sign_update(update, key or self.enclave.key, self.deployment.steward, domain_chain_id)

    def governance_do(self, *payloads: bytes, salt: bytes) -> None:
        """A governance action: schedule through the timelock, wait the delay, execute."""
        operation_id = self.governance_client.schedule_governance(list(payloads), salt)
        advance_time(self.w3, MIN_DELAY_SECONDS + 1)
        operation = next(o for o in self.governance_client.scheduled_operations() if o.operation_id == operation_id)
        self.governance_client.execute(operation)

    def push_price(self, symbol: str, price_usd_e8: int) -> None:
        Transactor(self.w3, self.governance).send(self.feed(symbol).functions.pushAnswer(price_usd_e8))


def _deploy(backend: str, w3: Web3) -> System:
    accounts = dev_accounts(w3)
    governance, guardian, relayer = accounts[0], accounts[1], accounts[2]
    deployment = deploy_system(
        w3, governance, guardian.address, SystemConfig(markets=TEST_MARKETS, min_delay_seconds=MIN_DELAY_SECONDS)
    )
    enclave = Account.from_key(b"\x07" * 32)
    measurement = bytes.fromhex("ab" * 48)
    governance_client = StewardClient(w3, deployment, governance)
    system = System(
        backend=backend,
        w3=w3,
        deployment=deployment,
        governance=governance,
        guardian=guardian,
        relayer=relayer,
        users=accounts[3:],
        enclave=enclave,
        measurement=measurement,
        relay=StewardClient(w3, deployment, relayer),
        governance_client=governance_client,
        guardian_client=StewardClient(w3, deployment, guardian),
        reader=MarketReader(w3, deployment.market),
    )
    system.governance_do(
        governance_client.encode_steward_call("setMeasurementApproval", measurement, True),
        governance_client.encode_steward_call("registerEnclave", enclave.address, measurement, b"\xdd" * 32, 0),
        salt=b"\x01" * 32,
    )
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

