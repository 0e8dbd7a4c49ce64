"""A bare Aave v3 market (no steward) per EVM backend, deployed once per session; each test runs
inside a snapshot that is reverted after it. Imported by tests/chain/conftest.py.

Fixtures: `aave_deployed` (session, params in_process / anvil) and `aave` (per test).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract

from chain.aave import AaveMarket, aave_contract, deploy_aave_market, our_contract
from chain.listings import oct_2023_listings
from chain.market import Market, resolve_market
from chain.node import dev_accounts, in_process_web3, revert_to, snapshot, start_anvil
from chain.reader import MarketReader
from chain.transact import Transactor

MAX_UINT256 = 2**256 - 1


@dataclass
class AaveSystem:
    backend: str
    w3: Web3
    market: AaveMarket  # what deploy_aave_market recorded
    resolved: Market  # the same market, derived on chain from its addresses provider
    admin: LocalAccount
    users: list[LocalAccount]

    @property
    def pool(self) -> Contract:
        return aave_contract(self.w3, "Pool", self.market.pool)

    @property
    def configurator(self) -> Contract:
        return aave_contract(self.w3, "PoolConfigurator", self.market.pool_configurator)

    @property
    def data_provider(self) -> Contract:
        return aave_contract(self.w3, "AaveProtocolDataProvider", self.market.data_provider)

    def token(self, symbol: str) -> Contract:
        return our_contract(self.w3, "TestToken", self.market.reserve(symbol).underlying)

    def feed(self, symbol: str) -> Contract:
        return our_contract(self.w3, "PushableAggregator", self.market.reserve(symbol).feed)

    def reader(self) -> MarketReader:
        return MarketReader(self.w3, self.resolved, {r.symbol: r.pair for r in self.market.reserves})

    def push_price(self, symbol: str, price_usd_e8: int) -> None:
        Transactor(self.w3, self.admin).send(self.feed(symbol).functions.pushAnswer(price_usd_e8))

    def supply(self, account: LocalAccount, symbol: str, amount_raw: int) -> Transactor:
        """Mints `amount_raw` to `account` and supplies it (collateral on by default)."""
        tx = Transactor(self.w3, account)
        token = self.token(symbol)
        tx.send(token.functions.mint(account.address, amount_raw))
        tx.send(token.functions.approve(self.market.pool, amount_raw))
        tx.send(self.pool.functions.supply(token.address, amount_raw, account.address, 0))
        return tx

    def borrow(self, account: LocalAccount, symbol: str, amount_raw: int):
        """Variable-rate borrow; returns the receipt."""
        return Transactor(self.w3, account).send(
            self.pool.functions.borrow(self.token(symbol).address, amount_raw, 2, 0, account.address)
        )

    def account_data(self, account: str) -> tuple[int, ...]:
        """getUserAccountData: collateral, debt, available (USD e8), LT, LTV (bps), HF (wad)."""
        return tuple(self.pool.functions.getUserAccountData(account).call())

    def keeper(self, symbol: str, amount_raw: int) -> Transactor:
        """The last dev account, funded with `amount_raw` of `symbol` and approved to the pool."""
        tx = Transactor(self.w3, self.users[-1])
        token = self.token(symbol)
        tx.send(token.functions.mint(tx.address, amount_raw))
        tx.send(token.functions.approve(self.market.pool, MAX_UINT256))
        return tx


def _deploy(backend: str, w3: Web3) -> AaveSystem:
    accounts = dev_accounts(w3)
    market = deploy_aave_market(w3, accounts[0], oct_2023_listings())
    resolved = resolve_market(
        w3, market.addresses_provider, multicall=market.multicall, ui_pool_data_provider=market.ui_pool_data_provider
    )
    return AaveSystem(backend, w3, market, resolved, accounts[0], accounts[1:])


@pytest.fixture(scope="session", params=["in_process", pytest.param("anvil", marks=pytest.mark.anvil)])
def aave_deployed(request, tmp_path_factory):
    if request.param == "in_process":
        yield _deploy("in_process", in_process_web3())
        return
    node = start_anvil(log_dir=tmp_path_factory.mktemp("anvil-aave"))
    try:
        yield _deploy("anvil", node.web3())
    finally:
        node.stop()


@pytest.fixture
def aave(aave_deployed: AaveSystem):
    snapshot_id = snapshot(aave_deployed.w3)
    yield aave_deployed
    revert_to(aave_deployed.w3, snapshot_id)
