"""Deploys Aave v3 (core 1.19.3, periphery 3.0.1) from the pinned npm artifacts, unmodified, on
any backend, and lists reserves through the PoolConfigurator as Aave governance does.

Order and linking follow ../shared/AAVE-V3-LOCAL.md: provider, ACL, the logic libraries
(FlashLoanLogic linked to BorrowLogic), Pool linked to seven libraries, PoolConfigurator linked to
ConfiguratorLogic, AaveOracle over our Chainlink-style feeds, the data providers, token
implementations, one DefaultReserveInterestRateStrategy per reserve, then `initReserves` in
batches that fit the in-process EVM's fixed 12M gas per transaction.

`deploy_aave_market` returns with the deployer as provider owner, ACL admin and POOL_ADMIN; the
system deployment hands those to governance afterwards (see `AaveRoles` for what it must move).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract

from chain.artifacts import Artifact, load_aave_artifact, load_artifact
from chain.errors import ChainError
from chain.listings import PRICE_DECIMALS, ReserveListing
from chain.transact import Transactor
from strategies.params import RAY_PER_BPS, RiskParams

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
MARKET_ID = "risk-agent demo market"
RESERVES_PER_INIT_BATCH = 3  # initReserves: ~2.3M gas per reserve (6.85M for three); 12M fixed per tx in-process
# Aave's usual liquidation protocol fee: 10% of the bonus goes to the treasury.
LIQUIDATION_PROTOCOL_FEE_BPS = 1_000

# Stable-rate borrowing stays disabled on every reserve (Aave disabled it on v3 in 2023), but
# v3.0's strategy constructor still takes the stable curve. Our choice, as aave-v3-deploy's
# rate strategies do: stable slopes equal to the variable ones, a 2% base offset, a 5% excess
# offset and a 20% optimal stable share. A rate update keeps these values (Aave's v3.0 config
# engine kept the current stable parameters when only variable ones changed).
BASE_STABLE_RATE_OFFSET_BPS = 200
STABLE_RATE_EXCESS_OFFSET_BPS = 500
OPTIMAL_STABLE_TO_TOTAL_DEBT_RATIO_BPS = 2_000

POOL_LIBRARIES = ("BorrowLogic", "BridgeLogic", "EModeLogic", "FlashLoanLogic", "LiquidationLogic", "PoolLogic",
                  "SupplyLogic")


@dataclass(frozen=True)
class MarketReserve:
    """One listed reserve: its token, Aave's per-reserve contracts and its oracle source."""

    symbol: str
    decimals: int
    underlying: str
    a_token: str
    stable_debt_token: str
    variable_debt_token: str
    rate_strategy: str
    feed: str


@dataclass(frozen=True)
class AaveReserve(MarketReserve):
    """A reserve this deployment listed: the reader's view plus the demo's DEX pair for it."""

    pair: str
    pair_quote: str


@dataclass(frozen=True)
class AaveMarket:
    """Every address of one deployed market; `admin` holds every role until the hand-over."""

    chain_id: int
    admin: str
    treasury: str
    addresses_provider: str
    acl_manager: str
    pool: str
    pool_implementation: str
    pool_configurator: str
    pool_configurator_implementation: str
    oracle: str
    data_provider: str
    ui_pool_data_provider: str
    multicall: str
    a_token_implementation: str
    stable_debt_token_implementation: str
    variable_debt_token_implementation: str
    usd_feed: str
    libraries: tuple[tuple[str, str], ...]
    reserves: tuple[AaveReserve, ...]
    deployed_at_block: int

    def reserve(self, symbol: str) -> AaveReserve:
        for reserve in self.reserves:
            if reserve.symbol == symbol:
                return reserve
        raise ChainError(f"reserve {symbol!r} is not listed (listed: {', '.join(r.symbol for r in self.reserves)})")

    @property
    def assets(self) -> dict[str, str]:
        """Symbol -> underlying token address."""
        return {r.symbol: r.underlying for r in self.reserves}


# Bound contracts per connection: web3 builds a class per ABI function for every contract
# object (2-7 ms for Pool, AToken, the steward), and the reader, the jobs and verify bind the
# same few dozen (name, address) pairs on every read. A contract object holds only its address,
# ABI and connection, so one per (connection, artifact, address) serves every caller. They are
# kept on the connection itself (each holds the connection: kept anywhere else they would keep
# it alive), so they go with it.
_BOUND_ATTRIBUTE = "_risk_agent_bound_contracts"


def _bound(w3: Web3, source: str, name: str, address: str, artifact: Callable[[str], Artifact]) -> Contract:
    checksum = Web3.to_checksum_address(address)
    contracts: dict[tuple[str, str, str], Contract] = vars(w3).setdefault(_BOUND_ATTRIBUTE, {})
    key = (source, name, checksum)
    contract = contracts.get(key)
    if contract is None:
        contract = contracts[key] = w3.eth.contract(address=checksum, abi=artifact(name).abi)
    return contract


def aave_contract(w3: Web3, name: str, address: str) -> Contract:
    """An Aave contract (by its artifact name) bound at `address`."""
    return _bound(w3, "aave", name, address, load_aave_artifact)


def our_contract(w3: Web3, name: str, address: str) -> Contract:
    """One of our contracts (chain/artifacts) bound at `address`."""
    return _bound(w3, "ours", name, address, load_artifact)


def rate_strategy_args(provider: str, params: RiskParams) -> tuple[object, ...]:
    """DefaultReserveInterestRateStrategy's ten constructor arguments (rates in ray) for the
    registry's four curve parameters (bps) and the stable choices above."""
    return (
        Web3.to_checksum_address(provider),
        params.optimal_usage_ratio_bps * RAY_PER_BPS,
        params.base_variable_borrow_rate_bps * RAY_PER_BPS,
        params.variable_rate_slope1_bps * RAY_PER_BPS,
        params.variable_rate_slope2_bps * RAY_PER_BPS,
        params.variable_rate_slope1_bps * RAY_PER_BPS,
        params.variable_rate_slope2_bps * RAY_PER_BPS,
        BASE_STABLE_RATE_OFFSET_BPS * RAY_PER_BPS,
        STABLE_RATE_EXCESS_OFFSET_BPS * RAY_PER_BPS,
        OPTIMAL_STABLE_TO_TOTAL_DEBT_RATIO_BPS * RAY_PER_BPS,
    )


def deploy_aave_market(
    w3: Web3,
    deployer: LocalAccount,
    listings: tuple[ReserveListing, ...],
    *,
    treasury: str | None = None,
    multicall: str | None = None,
) -> AaveMarket:
    """Deploys Aave v3 and lists `listings` with their parameters; the deployer keeps every role.

    `treasury` receives reserve-factor interest and liquidation protocol fees (default: the
    deployer); `multicall` reuses a Multicall3 already on chain (default: deploy ours)."""
    symbols = {listing.symbol for listing in listings}
    for listing in listings:
        if listing.pair_quote not in symbols:
            raise ChainError(f"{listing.symbol}'s pair quote {listing.pair_quote} is not among the listed reserves")
    tx = Transactor(w3, deployer)
    start_block = w3.eth.block_number + 1
    treasury = Web3.to_checksum_address(treasury or deployer.address)
    multicall = multicall or tx.deploy(load_artifact("Multicall3"))

    provider_address = tx.deploy(load_aave_artifact("PoolAddressesProvider"), MARKET_ID, deployer.address)
    provider = aave_contract(w3, "PoolAddressesProvider", provider_address)
    tx.send(provider.functions.setACLAdmin(deployer.address))
    acl_address = tx.deploy(load_aave_artifact("ACLManager"), provider_address)
    acl = aave_contract(w3, "ACLManager", acl_address)
    tx.send(provider.functions.setACLManager(acl_address))
    tx.send(acl.functions.addPoolAdmin(deployer.address))

    libraries: dict[str, str] = {}
    for name in ("BorrowLogic", "BridgeLogic", "EModeLogic", "LiquidationLogic", "PoolLogic", "SupplyLogic",
                 "ConfiguratorLogic"):
        libraries[name] = tx.deploy(load_aave_artifact(name))
    libraries["FlashLoanLogic"] = tx.deploy(load_aave_artifact("FlashLoanLogic"), libraries=libraries)

    pool_implementation = tx.deploy(load_aave_artifact("Pool"), provider_address, libraries=libraries)
    # Initialising the bare implementation locks it (nobody else can initialise it later).
    tx.send(aave_contract(w3, "Pool", pool_implementation).functions.initialize(provider_address))
    tx.send(provider.functions.setPoolImpl(pool_implementation))
    pool_address = provider.functions.getPool().call()
    configurator_implementation = tx.deploy(load_aave_artifact("PoolConfigurator"), libraries=libraries)
    tx.send(aave_contract(w3, "PoolConfigurator", configurator_implementation).functions.initialize(provider_address))
    tx.send(provider.functions.setPoolConfiguratorImpl(configurator_implementation))
    configurator_address = provider.functions.getPoolConfigurator().call()
    configurator = aave_contract(w3, "PoolConfigurator", configurator_address)

    tokens: dict[str, str] = {}
    feeds: dict[str, str] = {}
    for listing in listings:
        tokens[listing.symbol] = tx.deploy(
            load_artifact("TestToken"), f"Demo {listing.symbol}", listing.symbol, listing.decimals
        )
        feeds[listing.symbol] = tx.deploy(
            load_artifact("PushableAggregator"), PRICE_DECIMALS, f"{listing.symbol} / USD", listing.price_usd_e8
        )
    # The market's reference currency is USD: UiPoolDataProviderV3 reads its USD price here.
    usd_feed = tx.deploy(load_artifact("PushableAggregator"), PRICE_DECIMALS, "USD / USD", 10**PRICE_DECIMALS)
    oracle_address = tx.deploy(
        load_aave_artifact("AaveOracle"),
        provider_address,
        [tokens[listing.symbol] for listing in listings],
        [feeds[listing.symbol] for listing in listings],
        ZERO_ADDRESS,
        ZERO_ADDRESS,
        10**PRICE_DECIMALS,
    )
    tx.send(provider.functions.setPriceOracle(oracle_address))
    data_provider = tx.deploy(load_aave_artifact("AaveProtocolDataProvider"), provider_address)
    tx.send(provider.functions.setPoolDataProvider(data_provider))
    network_feed = feeds.get("WETH", usd_feed)
    ui_data_provider = tx.deploy(load_aave_artifact("UiPoolDataProviderV3"), network_feed, usd_feed)

    a_token_impl = tx.deploy(load_aave_artifact("AToken"), pool_address)
    stable_impl = tx.deploy(load_aave_artifact("StableDebtToken"), pool_address)
    variable_impl = tx.deploy(load_aave_artifact("VariableDebtToken"), pool_address)
    _lock_token_implementations(w3, tx, pool_address, a_token_impl, stable_impl, variable_impl)

    strategies = {
        listing.symbol: tx.deploy(
            load_aave_artifact("DefaultReserveInterestRateStrategy"), *rate_strategy_args(provider_address, listing.params)
        )
        for listing in listings
    }
    inputs = [
        (
            a_token_impl,
            stable_impl,
            variable_impl,
            listing.decimals,
            strategies[listing.symbol],
            tokens[listing.symbol],
            treasury,
            ZERO_ADDRESS,
            f"Aave Demo {listing.symbol}",
            f"aDem{listing.symbol}",
            f"Aave Demo Variable Debt {listing.symbol}",
            f"variableDebtDem{listing.symbol}",
            f"Aave Demo Stable Debt {listing.symbol}",
            f"stableDebtDem{listing.symbol}",
            b"",
        )
        for listing in listings
    ]
    for start in range(0, len(inputs), RESERVES_PER_INIT_BATCH):
        tx.send(configurator.functions.initReserves(inputs[start : start + RESERVES_PER_INIT_BATCH]))
    for listing in listings:
        configure_reserve(tx, configurator, tokens[listing.symbol], listing.params)

    pairs = {
        listing.symbol: tx.deploy(load_artifact("DemoPair"), tokens[listing.symbol], tokens[listing.pair_quote])
        for listing in listings
    }
    prices = {listing.symbol: listing.price_usd_e8 for listing in listings}
    decimals = {listing.symbol: listing.decimals for listing in listings}
    for listing in listings:
        asset_amount = listing.pair_reserve_usd * 10**PRICE_DECIMALS * 10**listing.decimals // listing.price_usd_e8
        quote_amount = (
            listing.pair_reserve_usd * 10**PRICE_DECIMALS * 10 ** decimals[listing.pair_quote]
            // prices[listing.pair_quote]
        )
        set_pair_reserves(
            w3, tx, pairs[listing.symbol],
            {tokens[listing.symbol]: asset_amount, tokens[listing.pair_quote]: quote_amount},
        )

    data = aave_contract(w3, "AaveProtocolDataProvider", data_provider)
    reserves = []
    for listing in listings:
        a_token, stable_debt, variable_debt = data.functions.getReserveTokensAddresses(tokens[listing.symbol]).call()
        reserves.append(
            AaveReserve(
                symbol=listing.symbol,
                decimals=listing.decimals,
                underlying=tokens[listing.symbol],
                a_token=a_token,
                stable_debt_token=stable_debt,
                variable_debt_token=variable_debt,
                rate_strategy=strategies[listing.symbol],
                feed=feeds[listing.symbol],
                pair=pairs[listing.symbol],
                pair_quote=listing.pair_quote,
            )
        )
    return AaveMarket(
        chain_id=w3.eth.chain_id,
        admin=deployer.address,
        treasury=treasury,
        addresses_provider=provider_address,
        acl_manager=acl_address,
        pool=pool_address,
        pool_implementation=pool_implementation,
        pool_configurator=configurator_address,
        pool_configurator_implementation=configurator_implementation,
        oracle=oracle_address,
        data_provider=data_provider,
        ui_pool_data_provider=ui_data_provider,
        multicall=Web3.to_checksum_address(multicall),
        a_token_implementation=a_token_impl,
        stable_debt_token_implementation=stable_impl,
        variable_debt_token_implementation=variable_impl,
        usd_feed=usd_feed,
        libraries=tuple(sorted(libraries.items())),
        reserves=tuple(reserves),
        deployed_at_block=start_block,
    )


def configure_reserve(tx: Transactor, configurator: Contract, asset: str, params: RiskParams) -> None:
    """Sets a freshly initialised reserve's parameters as an Aave listing payload does:
    collateral (LTV, LT, LB), reserve factor, caps, variable borrowing on, stable off (the
    default after initReserves), liquidation protocol fee."""
    functions = configurator.functions
    tx.send(functions.configureReserveAsCollateral(
        asset, params.ltv_bps, params.liquidation_threshold_bps, params.liquidation_bonus_bps
    ))
    tx.send(functions.setReserveFactor(asset, params.reserve_factor_bps))
    tx.send(functions.setSupplyCap(asset, params.supply_cap_tokens))
    tx.send(functions.setBorrowCap(asset, params.borrow_cap_tokens))
    tx.send(functions.setReserveBorrowing(asset, True))
    tx.send(functions.setLiquidationProtocolFee(asset, LIQUIDATION_PROTOCOL_FEE_BPS))


def set_pair_reserves(w3: Web3, tx: Transactor, pair_address: str, amounts: dict[str, int]) -> None:
    """Makes a DemoPair hold exactly `amounts` (token address -> raw units): mints what is
    missing into the pair (TestToken's open faucet), then `setReserves`, which returns any
    excess to the pair's owner (`tx` must be it)."""
    pair = our_contract(w3, "DemoPair", pair_address)
    token0, token1 = pair.functions.token0().call(), pair.functions.token1().call()
    by_token = {Web3.to_checksum_address(k): v for k, v in amounts.items()}
    for token in (token0, token1):
        erc20 = our_contract(w3, "TestToken", token)
        balance = erc20.functions.balanceOf(pair_address).call()
        if balance < by_token[token]:
            tx.send(erc20.functions.mint(pair_address, by_token[token] - balance))
    tx.send(pair.functions.setReserves(by_token[token0], by_token[token1]))


def _lock_token_implementations(w3, tx, pool, a_token_impl, stable_impl, variable_impl) -> None:
    """Initialises the bare token implementations, as Aave's deploy scripts do, so nobody can."""
    tx.send(aave_contract(w3, "AToken", a_token_impl).functions.initialize(
        pool, ZERO_ADDRESS, ZERO_ADDRESS, ZERO_ADDRESS, 0, "ATOKEN_IMPL", "ATOKEN_IMPL", b""
    ))
    for name, address in (("StableDebtToken", stable_impl), ("VariableDebtToken", variable_impl)):
        tx.send(aave_contract(w3, name, address).functions.initialize(
            pool, ZERO_ADDRESS, ZERO_ADDRESS, 0, f"{name.upper()}_IMPL", f"{name.upper()}_IMPL", b""
        ))


@dataclass(frozen=True)
class AaveRoles:
    """Which market roles one account holds (the hand-over must leave the deployer with none)."""

    provider_owner: bool
    provider_acl_admin: bool
    acl_admin: bool
    pool_admin: bool
    risk_admin: bool
    emergency_admin: bool
    asset_listing_admin: bool

    @property
    def any(self) -> bool:
        return any((self.provider_owner, self.provider_acl_admin, self.acl_admin, self.pool_admin, self.risk_admin, self.emergency_admin,
                    self.asset_listing_admin))


def roles_of(w3: Web3, addresses_provider: str, account: str) -> AaveRoles:
    """Reads `account`'s roles in the market of `addresses_provider`."""
    provider = aave_contract(w3, "PoolAddressesProvider", addresses_provider)
    acl = aave_contract(w3, "ACLManager", provider.functions.getACLManager().call())
    account = Web3.to_checksum_address(account)
    admin_role = acl.functions.DEFAULT_ADMIN_ROLE().call()
    return AaveRoles(
        provider_owner=provider.functions.owner().call() == account,
        provider_acl_admin=provider.functions.getACLAdmin().call() == account,
        acl_admin=acl.functions.hasRole(admin_role, account).call(),
        pool_admin=acl.functions.isPoolAdmin(account).call(),
        risk_admin=acl.functions.isRiskAdmin(account).call(),
        emergency_admin=acl.functions.isEmergencyAdmin(account).call(),
        asset_listing_admin=acl.functions.isAssetListingAdmin(account).call(),
    )
