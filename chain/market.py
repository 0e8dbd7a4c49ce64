"""Any Aave v3 market from its PoolAddressesProvider: pool, configurator, oracle, data provider,
ACL manager, every reserve's tokens, rate strategy and price feed, all derived on chain.

The only inputs are the provider's address and a Multicall3 (the canonical one by default);
the UiPoolDataProviderV3 is optional (positions read faster with it). A wrong address, an
unlisted asset or an RPC of another chain fails here with one line.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace

from web3 import Web3

from chain.aave import ZERO_ADDRESS, MarketReserve, aave_contract
from chain.deployment import CANONICAL_MULTICALL3, Deployment
from chain.errors import (
    AssetNotListedError,
    ContractRevert,
    NotAnAddressesProviderError,
    UnsupportedMarketError,
)
from chain.listings import PRICE_DECIMALS
from chain.multicall import Multicall, encode
from chain.transact import call

USD_BASE_CURRENCY_UNIT = 10**PRICE_DECIMALS


@dataclass(frozen=True)
class Market:
    """A resolved Aave v3 market (reserves in the pool's listing order)."""

    chain_id: int
    addresses_provider: str
    pool: str
    pool_configurator: str
    oracle: str
    data_provider: str
    acl_manager: str
    multicall: str
    ui_pool_data_provider: str | None
    reserves: tuple[MarketReserve, ...]

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(r.symbol for r in self.reserves)

    def reserve(self, symbol_or_address: str) -> MarketReserve:
        """By symbol (case-sensitive, as the token reports it) or by underlying address."""
        for reserve in self.reserves:
            if reserve.symbol == symbol_or_address:
                return reserve
            if Web3.is_address(symbol_or_address) and reserve.underlying == Web3.to_checksum_address(symbol_or_address):
                return reserve
        raise AssetNotListedError(symbol_or_address, self.symbols)

    def select(self, assets: tuple[str, ...] | None) -> Market:
        """The same market restricted to `assets` (symbols or addresses), in the order given."""
        if assets is None:
            return self
        return replace(self, reserves=tuple(self.reserve(asset) for asset in assets))


# Markets resolved per connection, by block hash: what a block holds never changes, and the
# reader, the position reader and verify each resolve the market of the block they read (a
# dozen calls and a batch each). Kept on the connection (as chain.aave's bound contracts), the
# most recent few only: a service resolves at a new block on every job run.
_RESOLVED_ATTRIBUTE = "_risk_agent_resolved_markets"
RESOLVED_KEPT = 8


def resolve_market(
    w3: Web3,
    addresses_provider: str,
    *,
    multicall: str = CANONICAL_MULTICALL3,
    ui_pool_data_provider: str | None = None,
    assets: tuple[str, ...] | None = None,
    block_identifier: int | str = "latest",
) -> Market:
    """Reads every address of the market behind `addresses_provider` (at `block_identifier`,
    all at that one block; once per block and connection)."""
    if not Web3.is_address(addresses_provider):
        raise NotAnAddressesProviderError(str(addresses_provider), "not an address")
    block = w3.eth.get_block(block_identifier)
    if block.get("hash") is None:  # a pending block: its state is still moving
        return _read_market(w3, addresses_provider, multicall, ui_pool_data_provider, block_identifier).select(assets)
    resolved: OrderedDict[tuple, Market] = vars(w3).setdefault(_RESOLVED_ATTRIBUTE, OrderedDict())
    key = (Web3.to_checksum_address(addresses_provider), multicall, ui_pool_data_provider, bytes(block["hash"]))
    market = resolved.get(key)
    if market is None:
        market = _read_market(w3, addresses_provider, multicall, ui_pool_data_provider, int(block["number"]))
        resolved[key] = market
        while len(resolved) > RESOLVED_KEPT:
            resolved.popitem(last=False)
    return market.select(assets)


def _read_market(w3: Web3, addresses_provider: str, multicall: str, ui_pool_data_provider: str | None,
                 block_identifier: int | str) -> Market:
    provider_address = Web3.to_checksum_address(addresses_provider)
    if not w3.eth.get_code(provider_address, block_identifier):
        raise NotAnAddressesProviderError(provider_address, "no contract code there")
    provider = aave_contract(w3, "PoolAddressesProvider", provider_address)
    core = {}
    for getter in ("getPool", "getPoolConfigurator", "getPriceOracle", "getPoolDataProvider", "getACLManager"):
        core[getter] = _provider_address(w3, provider, getter, block_identifier)
    pool = aave_contract(w3, "Pool", core["getPool"])
    # A contract answering the getters by accident would not be its pool's provider.
    if _checked_call(pool.functions.ADDRESSES_PROVIDER(), provider_address, block_identifier) != provider_address:
        raise NotAnAddressesProviderError(provider_address, "its Pool does not name it as its provider")

    oracle = aave_contract(w3, "AaveOracle", core["getPriceOracle"])
    base_currency = _checked_call(oracle.functions.BASE_CURRENCY(), provider_address, block_identifier)
    unit = _checked_call(oracle.functions.BASE_CURRENCY_UNIT(), provider_address, block_identifier)
    if base_currency != ZERO_ADDRESS or unit != USD_BASE_CURRENCY_UNIT:
        raise UnsupportedMarketError(
            f"the market's oracle prices in {base_currency} with unit {unit}; only USD with 8 decimals is supported"
        )

    batch = Multicall(w3, multicall)
    data = aave_contract(w3, "AaveProtocolDataProvider", core["getPoolDataProvider"])
    listed = _checked_call(data.functions.getAllReservesTokens(), provider_address, block_identifier)
    calls = []
    for _, token in listed:
        calls += [
            encode(data, "getReserveTokensAddresses", token),
            encode(data, "getReserveConfigurationData", token),
            encode(data, "getInterestRateStrategyAddress", token),
            encode(oracle, "getSourceOfAsset", token),
        ]
    results = batch.read(calls, block_identifier)
    reserves = []
    for index, (symbol, token) in enumerate(listed):
        tokens, configuration, strategy, feed = results[4 * index : 4 * index + 4]
        reserves.append(
            MarketReserve(
                symbol=symbol,
                decimals=int(configuration[0]),
                underlying=Web3.to_checksum_address(token),
                a_token=Web3.to_checksum_address(tokens[0]),
                stable_debt_token=Web3.to_checksum_address(tokens[1]),
                variable_debt_token=Web3.to_checksum_address(tokens[2]),
                rate_strategy=Web3.to_checksum_address(strategy[0]),
                feed=Web3.to_checksum_address(feed[0]),
            )
        )
    return Market(
        chain_id=int(w3.eth.chain_id),
        addresses_provider=provider_address,
        pool=core["getPool"],
        pool_configurator=core["getPoolConfigurator"],
        oracle=core["getPriceOracle"],
        data_provider=core["getPoolDataProvider"],
        acl_manager=core["getACLManager"],
        multicall=batch.address,
        ui_pool_data_provider=Web3.to_checksum_address(ui_pool_data_provider) if ui_pool_data_provider else None,
        reserves=tuple(reserves),
    )


def market_from_deployment(
    w3: Web3, deployment: Deployment, assets: tuple[str, ...] | None = None, block_identifier: int | str = "latest"
) -> Market:
    """The market a deployment file names, after checking the RPC serves its chain."""
    deployment.check_chain(w3)
    return resolve_market(
        w3,
        deployment.addresses_provider,
        multicall=deployment.multicall,
        ui_pool_data_provider=deployment.ui_pool_data_provider,
        assets=assets,
        block_identifier=block_identifier,
    )


def _provider_address(w3: Web3, provider, getter: str, block_identifier: int | str) -> str:
    address = _checked_call(getattr(provider.functions, getter)(), provider.address, block_identifier)
    if address == ZERO_ADDRESS:
        raise NotAnAddressesProviderError(provider.address, f"{getter}() names no contract")
    if not w3.eth.get_code(address, block_identifier):
        raise NotAnAddressesProviderError(provider.address, f"{getter}() names {address}, which has no code")
    return Web3.to_checksum_address(address)


def _checked_call(fn, provider_address: str, block_identifier: int | str):
    """A call whose failure means the address is not what it claims to be."""
    try:
        return call(fn, block_identifier=block_identifier)
    except ContractRevert:
        raise NotAnAddressesProviderError(provider_address, f"{fn.fn_name}() reverted") from None
    except Exception as error:  # noqa: BLE001 - a non-Aave contract answers with anything
        if type(error).__name__ in {"BadFunctionCallOutput", "InsufficientDataBytes", "DecodingError"}:
            raise NotAnAddressesProviderError(provider_address, f"{fn.fn_name}() returned no valid answer") from None
        raise
