"""Deploys the whole system: tokens, price feeds, oracle, DemoPool, Multicall3, timelock, steward.

Roles at the end: the timelock is the pool's configurator and the steward's governance; the
steward and the governance account are timelock proposers; the guardian is a canceller (veto)
and may pause the steward; execution is open to anyone.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from web3 import Web3

from chain.artifacts import load_artifact
from chain.deployment import AaveAddresses, AssetDeployment, Deployment
from chain.transact import Transactor

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
PRICE_DECIMALS = 8


@dataclass(frozen=True)
class RateCurve:
    """v3.2 rate parameters in bps."""

    optimal_usage_ratio_bps: int
    base_variable_borrow_rate_bps: int
    variable_rate_slope1_bps: int
    variable_rate_slope2_bps: int

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (
            self.optimal_usage_ratio_bps,
            self.base_variable_borrow_rate_bps,
            self.variable_rate_slope1_bps,
            self.variable_rate_slope2_bps,
        )


@dataclass(frozen=True)
class MarketSpec:
    """One reserve to list, in the pool's units (bps, whole tokens, USD with 8 decimals)."""

    symbol: str
    decimals: int
    price_usd_e8: int
    ltv_bps: int
    liquidation_threshold_bps: int
    liquidation_bonus_bps: int
    reserve_factor_bps: int
    supply_cap_tokens: int
    borrow_cap_tokens: int
    rates: RateCurve


# Aave v3 Ethereum, October 2023 (RISK-REFERENCE.md); prices are round figures of that month.
AAVE_V3_OCT_2023 = (
    MarketSpec("WETH", 18, 1_600 * 10**8, 8_050, 8_300, 10_500, 1_500, 1_800_000, 1_400_000, RateCurve(8_000, 0, 280, 8_000)),
    MarketSpec("WBTC", 8, 27_000 * 10**8, 7_300, 7_800, 10_500, 2_000, 43_000, 28_000, RateCurve(4_500, 0, 400, 30_000)),
    MarketSpec("USDC", 6, 1 * 10**8, 7_700, 8_000, 10_450, 1_000, 1_760_000_000, 1_580_000_000, RateCurve(9_000, 0, 350, 6_000)),
    MarketSpec("LINK", 18, 7 * 10**8, 5_300, 6_800, 10_700, 2_000, 15_000_000, 13_000_000, RateCurve(4_500, 0, 700, 30_000)),
    MarketSpec("CRV", 18, 50_000_000, 3_500, 4_100, 10_830, 3_500, 51_000_000, 7_700_000, RateCurve(7_000, 300, 1_400, 30_000)),
)


@dataclass(frozen=True)
class StewardBound:
    """`RiskSteward.Bound`: cooldown (s), max step (bps, or bps of current when relative)."""

    cooldown_seconds: int
    max_change: int
    is_relative: bool
    floor: int
    ceiling: int

    def as_tuple(self) -> tuple[int, int, bool, int, int]:
        return (self.cooldown_seconds, self.max_change, self.is_relative, self.floor, self.ceiling)


@dataclass(frozen=True)
class SystemConfig:
    markets: tuple[MarketSpec, ...] = AAVE_V3_OCT_2023
    min_delay_seconds: int = 86_400
    bounds: tuple[StewardBound, ...] = ()  # empty: the contract's Aave defaults


def deploy_contract(tx: Transactor, name: str, *args: object) -> str:
    artifact = load_artifact(name)
    factory = tx.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = tx.send(factory.constructor(*args))
    return receipt["contractAddress"]


def contract(w3: Web3, name: str, address: str):
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=load_artifact(name).abi)


def deploy_system(w3: Web3, deployer: LocalAccount, guardian: str, config: SystemConfig = SystemConfig()) -> Deployment:
    """Deploys and wires everything; `deployer` becomes the governance proposer."""
    tx = Transactor(w3, deployer)
    start_block = w3.eth.block_number
    multicall = deploy_contract(tx, "Multicall3")
    oracle_address = deploy_contract(tx, "DemoOracle")
    pool_address = deploy_contract(tx, "DemoPool", oracle_address, deployer.address, deployer.address)
    pool = contract(w3, "DemoPool", pool_address)
    oracle = contract(w3, "DemoOracle", oracle_address)

    assets: list[AssetDeployment] = []
    for spec in config.markets:
        token = deploy_contract(tx, "TestToken", f"Demo {spec.symbol}", spec.symbol, spec.decimals)
        feed = deploy_contract(tx, "PushableAggregator", PRICE_DECIMALS, f"{spec.symbol} / USD", spec.price_usd_e8)
        assets.append(AssetDeployment(symbol=spec.symbol, token=token, decimals=spec.decimals, aggregator=feed))
    tx.send(oracle.functions.setAssetSources([a.token for a in assets], [a.aggregator for a in assets]))
    for spec, asset in zip(config.markets, assets, strict=True):
        tx.send(pool.functions.initReserve(asset.token, spec.rates.as_tuple()))
        tx.send(
            pool.functions.configureReserveAsCollateral(
                asset.token, spec.ltv_bps, spec.liquidation_threshold_bps, spec.liquidation_bonus_bps
            )
        )
        tx.send(pool.functions.setReserveFactor(asset.token, spec.reserve_factor_bps))
        tx.send(pool.functions.setSupplyCap(asset.token, spec.supply_cap_tokens))
        tx.send(pool.functions.setBorrowCap(asset.token, spec.borrow_cap_tokens))

    timelock_address = deploy_contract(
        tx, "TimelockController", config.min_delay_seconds, [deployer.address], [ZERO_ADDRESS], deployer.address
    )
    timelock = contract(w3, "TimelockController", timelock_address)
    steward_address = deploy_contract(
        tx, "RiskSteward", timelock_address, pool_address, guardian, [b.as_tuple() for b in config.bounds]
    )
    proposer_role = timelock.functions.PROPOSER_ROLE().call()
    canceller_role = timelock.functions.CANCELLER_ROLE().call()
    admin_role = timelock.functions.DEFAULT_ADMIN_ROLE().call()
    tx.send(timelock.functions.grantRole(proposer_role, steward_address))
    tx.send(timelock.functions.grantRole(canceller_role, guardian))
    tx.send(timelock.functions.renounceRole(admin_role, deployer.address))
    tx.send(pool.functions.setPoolAdmin(timelock_address))

    return Deployment(
        chain_id=w3.eth.chain_id,
        market=AaveAddresses(
            pool=pool_address,
            data_provider=pool_address,
            oracle=oracle_address,
            rate_strategy=pool_address,
            multicall=multicall,
        ),
        steward=steward_address,
        timelock=timelock_address,
        governance=deployer.address,
        guardian=guardian,
        min_delay_seconds=config.min_delay_seconds,
        deployed_at_block=start_block + 1,
        assets=assets,
    )
