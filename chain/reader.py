"""Reads every reserve's configuration, caps, state, rate curve and oracle price in one
Multicall3 round trip, from DemoPool or any Aave v3 deployment whose addresses are given.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_abi import decode as abi_decode
from web3 import Web3

from chain.artifacts import load_artifact
from chain.deployment import AaveAddresses
from chain.errors import ChainError
from chain.transact import call

RAY = 10**27


@dataclass(frozen=True)
class ReserveState:
    """One reserve as the pool reports it, in the pool's own units."""

    asset: str
    symbol: str
    decimals: int
    ltv_bps: int
    liquidation_threshold_bps: int
    liquidation_bonus_bps: int
    reserve_factor_bps: int
    is_active: bool
    supply_cap_tokens: int
    borrow_cap_tokens: int
    total_supplied_raw: int
    total_borrowed_raw: int
    liquidity_rate_ray: int
    variable_borrow_rate_ray: int
    optimal_usage_ratio_bps: int
    base_variable_borrow_rate_bps: int
    variable_rate_slope1_bps: int
    variable_rate_slope2_bps: int
    price_usd_e8: int

    @property
    def utilization(self) -> float:
        return self.total_borrowed_raw / self.total_supplied_raw if self.total_supplied_raw else 0.0

    @property
    def supplied_tokens(self) -> float:
        return self.total_supplied_raw / 10**self.decimals

    @property
    def borrowed_tokens(self) -> float:
        return self.total_borrowed_raw / 10**self.decimals


@dataclass(frozen=True)
class MarketSnapshot:
    chain_id: int
    block_number: int
    block_timestamp: int
    reserves: tuple[ReserveState, ...]

    def reserve(self, symbol: str) -> ReserveState:
        for reserve in self.reserves:
            if reserve.symbol == symbol:
                return reserve
        raise KeyError(symbol)


class ReserveReadError(ChainError):
    def __init__(self, asset: str, field_name: str) -> None:
        super().__init__(f"reading {field_name} of reserve {asset} failed (is it listed on this pool?)")


# (contract role, function, output types): the per-reserve calls, in this order.
_RESERVE_CALLS = (
    ("data_provider", "getReserveConfigurationData", ["uint256"] * 5 + ["bool"] * 5),
    ("data_provider", "getReserveCaps", ["uint256", "uint256"]),
    ("data_provider", "getReserveData", ["uint256"] * 11 + ["uint40"]),
    ("rate_strategy", "getInterestRateDataBps", ["(uint16,uint32,uint32,uint32)"]),
    ("oracle", "getAssetPrice", ["uint256"]),
)


class MarketReader:
    """Snapshots of a set of reserves, each taken in a single `aggregate3` call."""

    def __init__(self, w3: Web3, addresses: AaveAddresses, assets: dict[str, str] | None = None) -> None:
        self.w3 = w3
        self.addresses = addresses
        pool_abi = load_artifact("DemoPool").abi
        self._contracts = {
            "data_provider": w3.eth.contract(address=Web3.to_checksum_address(addresses.data_provider), abi=pool_abi),
            "rate_strategy": w3.eth.contract(address=Web3.to_checksum_address(addresses.rate_strategy), abi=pool_abi),
            "oracle": w3.eth.contract(
                address=Web3.to_checksum_address(addresses.oracle), abi=load_artifact("DemoOracle").abi
            ),
        }
        self.multicall = w3.eth.contract(
            address=Web3.to_checksum_address(addresses.multicall), abi=load_artifact("Multicall3").abi
        )
        self.assets = assets if assets is not None else self._list_reserves()
        self._chain_id = w3.eth.chain_id
        self._aggregate = self.multicall.functions.aggregate3(self._calls())  # encoded once

    def _list_reserves(self) -> dict[str, str]:
        """Symbol → token address, as the data provider lists them (read once)."""
        tokens = call(self._contracts["data_provider"].functions.getAllReservesTokens())
        return {symbol: Web3.to_checksum_address(address) for symbol, address in tokens}

    def _calls(self) -> list[tuple[str, bool, bytes]]:
        calls = [
            (self.multicall.address, False, self.multicall.encode_abi("getBlockNumber", [])),
            (self.multicall.address, False, self.multicall.encode_abi("getCurrentBlockTimestamp", [])),
        ]
        for address in self.assets.values():
            for role, function, _ in _RESERVE_CALLS:
                target = self._contracts[role]
                # A failing price feed must not hide the other reserves: the price may fail.
                calls.append((target.address, role == "oracle", target.encode_abi(function, [address])))
        return calls

    def read(self, block_identifier: int | str = "latest") -> MarketSnapshot:
        results = call(self._aggregate, block_identifier=block_identifier)
        block_number = abi_decode(["uint256"], results[0][1])[0]
        block_timestamp = abi_decode(["uint256"], results[1][1])[0]
        per_reserve = len(_RESERVE_CALLS)
        reserves = []
        for index, (symbol, address) in enumerate(self.assets.items()):
            chunk = results[2 + index * per_reserve : 2 + (index + 1) * per_reserve]
            decoded = []
            for (success, data), (_, function, types) in zip(chunk, _RESERVE_CALLS, strict=True):
                if function == "getAssetPrice" and (not success or not data):
                    decoded.append((0,))
                    continue
                if not success:
                    raise ReserveReadError(address, function)
                decoded.append(abi_decode(types, data))
            reserves.append(_reserve_state(symbol, address, *decoded))
        return MarketSnapshot(self._chain_id, block_number, block_timestamp, tuple(reserves))

    def read_field_by_field(self) -> MarketSnapshot:
        """The same snapshot with one `eth_call` per field: the baseline the benchmark compares."""
        block_number = self.w3.eth.block_number
        block_timestamp = self.w3.eth.get_block(block_number)["timestamp"]
        reserves = []
        for symbol, address in self.assets.items():
            decoded = []
            for role, function, _ in _RESERVE_CALLS:
                value = call(getattr(self._contracts[role].functions, function)(address), block_identifier=block_number)
                decoded.append(value if isinstance(value, (list, tuple)) and function != "getInterestRateDataBps" else (value,))
            reserves.append(_reserve_state(symbol, address, *decoded))
        return MarketSnapshot(self._chain_id, block_number, block_timestamp, tuple(reserves))


def _reserve_state(symbol: str, address: str, configuration, caps, data, rates, price) -> ReserveState:
    decimals, ltv, threshold, bonus, reserve_factor, _, _, _, is_active, _ = configuration
    borrow_cap, supply_cap = caps
    optimal, base, slope1, slope2 = rates[0]
    return ReserveState(
        asset=address,
        symbol=symbol,
        decimals=int(decimals),
        ltv_bps=int(ltv),
        liquidation_threshold_bps=int(threshold),
        liquidation_bonus_bps=int(bonus),
        reserve_factor_bps=int(reserve_factor),
        is_active=bool(is_active),
        supply_cap_tokens=int(supply_cap),
        borrow_cap_tokens=int(borrow_cap),
        total_supplied_raw=int(data[2]),
        total_borrowed_raw=int(data[3]) + int(data[4]),
        liquidity_rate_ray=int(data[5]),
        variable_borrow_rate_ray=int(data[6]),
        optimal_usage_ratio_bps=int(optimal),
        base_variable_borrow_rate_bps=int(base),
        variable_rate_slope1_bps=int(slope1),
        variable_rate_slope2_bps=int(slope2),
        price_usd_e8=int(price[0]),
    )
