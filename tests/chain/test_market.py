"""Pointing the agent at a market by its PoolAddressesProvider alone: every address derived on
chain equals what was deployed, and each bad input fails with its own named error, one line."""

from __future__ import annotations

import pytest
from web3 import Web3

from chain.aave import aave_contract
from chain.artifacts import load_aave_artifact
from chain.deployment import Deployment
from chain.errors import (
    AssetNotListedError,
    DeploymentFileError,
    MulticallMissingError,
    NotAnAddressesProviderError,
    WrongChainError,
)
from chain.market import market_from_deployment, resolve_market
from chain.positions import PositionReader
from chain.reader import MarketReader
from chain.transact import Transactor
from tests.chain.aave_fixtures import AaveSystem


def one_line(error: Exception) -> str:
    text = str(error)
    assert "\n" not in text and text
    return text


def test_every_address_is_derived_from_the_provider(aave: AaveSystem):
    deployed, resolved = aave.market, aave.resolved
    assert (resolved.pool, resolved.pool_configurator, resolved.oracle, resolved.data_provider, resolved.acl_manager) == (
        deployed.pool, deployed.pool_configurator, deployed.oracle, deployed.data_provider, deployed.acl_manager
    )
    assert resolved.symbols == ("WETH", "WBTC", "USDC", "LINK", "CRV")
    for reserve in resolved.reserves:
        listed = deployed.reserve(reserve.symbol)
        assert (reserve.underlying, reserve.a_token, reserve.stable_debt_token, reserve.variable_debt_token) == (
            listed.underlying, listed.a_token, listed.stable_debt_token, listed.variable_debt_token
        )
        assert (reserve.rate_strategy, reserve.feed, reserve.decimals) == (listed.rate_strategy, listed.feed, listed.decimals)
    assert resolved.chain_id == aave.w3.eth.chain_id


def test_a_deployment_file_with_just_the_provider(aave: AaveSystem, tmp_path):
    """A hand-written file: chain id, provider, multicall. The market and a subset of assets
    (by symbol or token address, in the order asked) come from the chain."""
    path = tmp_path / "deployment.json"
    Deployment(chain_id=aave.w3.eth.chain_id, addresses_provider=aave.market.addresses_provider.lower(),
               multicall=aave.market.multicall).write(path)
    deployment = Deployment.read(path)
    assert deployment.addresses_provider == aave.market.addresses_provider  # checksummed on load
    market = market_from_deployment(aave.w3, deployment, assets=("CRV", aave.market.reserve("WETH").underlying))
    assert market.symbols == ("CRV", "WETH")
    assert market.pool == aave.market.pool and market.ui_pool_data_provider is None


def test_an_account_without_code_is_not_a_provider(aave: AaveSystem):
    with pytest.raises(NotAnAddressesProviderError) as raised:
        resolve_market(aave.w3, aave.users[0].address, multicall=aave.market.multicall)
    assert "no contract code" in one_line(raised.value)


def test_another_contract_is_not_a_provider(aave: AaveSystem):
    """A token has no getPool(): the call reverts and says so."""
    with pytest.raises(NotAnAddressesProviderError) as raised:
        resolve_market(aave.w3, aave.token("USDC").address, multicall=aave.market.multicall)
    assert "getPool() reverted" in one_line(raised.value)


def test_a_provider_whose_pool_is_someone_elses_is_refused(aave: AaveSystem):
    """A second PoolAddressesProvider whose entries point at the first market's contracts: its
    Pool names the first provider, so this one is refused."""
    admin = Transactor(aave.w3, aave.admin)
    impostor_address = admin.deploy(load_aave_artifact("PoolAddressesProvider"), "impostor", aave.admin.address)
    impostor = aave_contract(aave.w3, "PoolAddressesProvider", impostor_address)
    for key, address in (("POOL", aave.market.pool), ("POOL_CONFIGURATOR", aave.market.pool_configurator),
                         ("PRICE_ORACLE", aave.market.oracle), ("ACL_MANAGER", aave.market.acl_manager),
                         ("DATA_PROVIDER", aave.market.data_provider)):
        admin.send(impostor.functions.setAddress(key.encode().ljust(32, b"\0"), address))
    with pytest.raises(NotAnAddressesProviderError) as raised:
        resolve_market(aave.w3, impostor_address, multicall=aave.market.multicall)
    assert "does not name it as its provider" in one_line(raised.value)


def test_a_malformed_address_is_not_a_provider(aave: AaveSystem):
    with pytest.raises(NotAnAddressesProviderError) as raised:
        resolve_market(aave.w3, "0x1234", multicall=aave.market.multicall)
    assert "not an address" in one_line(raised.value)


def test_an_unlisted_asset_is_named(aave: AaveSystem):
    with pytest.raises(AssetNotListedError) as raised:
        resolve_market(aave.w3, aave.market.addresses_provider, multicall=aave.market.multicall, assets=("WETH", "DOGE"))
    assert one_line(raised.value) == "asset 'DOGE' is not listed on this market (listed: WETH, WBTC, USDC, LINK, CRV)"
    unlisted_token = aave.market.multicall  # an address that is no reserve
    with pytest.raises(AssetNotListedError):
        aave.resolved.reserve(unlisted_token)


def test_an_rpc_of_another_chain_is_refused(aave: AaveSystem):
    deployment = Deployment(chain_id=1, addresses_provider=aave.market.addresses_provider, multicall=aave.market.multicall)
    with pytest.raises(WrongChainError) as raised:
        market_from_deployment(aave.w3, deployment)
    assert one_line(raised.value) == f"the RPC serves chain {aave.w3.eth.chain_id}, but the deployment is for chain 1"


def test_no_multicall_there(aave: AaveSystem):
    """The canonical Multicall3 is not on a fresh local chain: name the missing contract."""
    with pytest.raises(MulticallMissingError) as raised:
        resolve_market(aave.w3, aave.market.addresses_provider)
    assert "0xcA11bde05977b3631167028862bE2a173976CA11" in one_line(raised.value)


def test_malformed_deployment_file(tmp_path):
    path = tmp_path / "deployment.json"
    path.write_text('{"chain_id": 1, "addresses_provider": "0xnot-an-address"}')
    with pytest.raises(DeploymentFileError) as raised:
        Deployment.read(path)
    assert "addresses_provider" in one_line(raised.value)
    with pytest.raises(DeploymentFileError) as raised:
        Deployment.read(tmp_path / "missing.json")
    assert "not found" in one_line(raised.value)
    assert Web3.is_checksum_address(Deployment(chain_id=1, addresses_provider="0x" + "ab" * 20).addresses_provider)


def test_readers_from_a_deployment_file(aave: AaveSystem):
    """Reader and position reader straight from a file naming the provider and the WETH pair."""
    deployment = Deployment(chain_id=aave.w3.eth.chain_id, addresses_provider=aave.market.addresses_provider,
                            multicall=aave.market.multicall, dex_pairs={"WETH": aave.market.reserve("WETH").pair})
    snapshot = MarketReader.from_deployment(aave.w3, deployment, assets=("WETH", "USDC")).read()
    assert [r.symbol for r in snapshot.reserves] == ["WETH", "USDC"]
    assert snapshot.reserve("WETH").pair is not None and snapshot.reserve("USDC").pair is None
    assert PositionReader.from_deployment(aave.w3, deployment).read([aave.users[0].address]).positions == ()


def test_a_market_is_resolved_once_per_block_and_again_after_a_change(aave: AaveSystem):
    """What a block holds never changes, so the same block gives the same Market object; a new
    block is read again, and a rate strategy moved in it is seen there and not at the block
    before (read at that block's number)."""
    w3, market = aave.w3, aave.market
    before_block = w3.eth.block_number
    first = resolve_market(w3, market.addresses_provider, multicall=market.multicall)
    assert resolve_market(w3, market.addresses_provider, multicall=market.multicall) is first
    assert resolve_market(w3, market.addresses_provider, multicall=market.multicall, assets=("USDC",)).reserves == (
        first.reserve("USDC"),)
    usdc_strategy = first.reserve("USDC").rate_strategy
    Transactor(w3, aave.admin).send(aave.configurator.functions.setReserveInterestRateStrategyAddress(
        market.reserve("WETH").underlying, usdc_strategy))
    moved = resolve_market(w3, market.addresses_provider, multicall=market.multicall)
    assert moved is not first and moved.reserve("WETH").rate_strategy == usdc_strategy
    assert first.reserve("WETH").rate_strategy == market.reserve("WETH").rate_strategy != usdc_strategy
    assert resolve_market(w3, market.addresses_provider, multicall=market.multicall, block_identifier=before_block) is first
