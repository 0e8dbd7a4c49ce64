"""One consistent read of an Aave v3 market at one block: every reserve's parameters (through
the registry's readers), supply, debt and rates from the data provider, AaveOracle's price and
the feed's latest round, and the reserve's DEX pair, in one Multicall3 `aggregate3`.

A read names its block (number, hash, timestamp) so anyone can re-read the same values at that
block later; `read(block_identifier=n)` does exactly that.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache

from web3 import Web3

from chain.aave import aave_contract, our_contract
from chain.artifacts import load_aave_artifact
from chain.deployment import Deployment
from chain.dex import depth_usd
from chain.errors import AssetNotListedError, ChainError, UnsupportedMarketError
from chain.listings import PRICE_DECIMALS
from chain.market import Market, MarketReserve, market_from_deployment
from chain.multicall import Call, Multicall, encode
from strategies.params import REGISTRY, RiskParams

RAY = 10**27


@dataclass(frozen=True)
class FeedRound:
    """The price feed's latest round (Chainlink AggregatorV3 `latestRoundData`)."""

    feed: str
    round_id: int
    answer: int
    updated_at: int

    def age_seconds(self, block_timestamp: int) -> int:
        """How old the price is at the read's block: staleness comes from the feed's updatedAt."""
        return block_timestamp - self.updated_at


@dataclass(frozen=True)
class PairReserves:
    """A Uniswap-v2-style pair's reserves (raw units) for one reserve's asset."""

    pair: str
    quote_token: str
    asset_reserve_raw: int
    quote_reserve_raw: int
    updated_at: int


@dataclass(frozen=True)
class ReserveState:
    """One reserve at the read's block, in the pool's units."""

    symbol: str
    asset: str
    decimals: int
    params: RiskParams
    is_active: bool
    is_frozen: bool
    borrowing_enabled: bool
    total_supplied_raw: int
    total_borrowed_raw: int
    liquidity_rate_ray: int
    variable_borrow_rate_ray: int
    rate_strategy: str
    price_usd_e8: int  # AaveOracle.getAssetPrice; 0 when the oracle reverts
    feed_round: FeedRound | None  # None when the source has no latestRoundData
    pair: PairReserves | None

    @property
    def price_usd(self) -> float:
        return self.price_usd_e8 / 10**PRICE_DECIMALS

    @property
    def supplied_tokens(self) -> float:
        return self.total_supplied_raw / 10**self.decimals

    @property
    def borrowed_tokens(self) -> float:
        return self.total_borrowed_raw / 10**self.decimals

    @property
    def utilization(self) -> float:
        return self.total_borrowed_raw / self.total_supplied_raw if self.total_supplied_raw else 0.0

    @property
    def pair_asset_reserve_usd(self) -> float | None:
        if self.pair is None:
            return None
        return self.pair.asset_reserve_raw / 10**self.decimals * self.price_usd

    def depth_usd(self, slippage: float) -> float | None:
        """USD of this asset sellable into its pair within `slippage` (None without a pair)."""
        reserve_usd = self.pair_asset_reserve_usd
        return None if reserve_usd is None else depth_usd(reserve_usd, slippage)


@dataclass(frozen=True)
class MarketSnapshot:
    chain_id: int
    block_number: int
    block_hash: str  # 0x-prefixed
    block_timestamp: int
    reserves: tuple[ReserveState, ...]

    def reserve(self, symbol: str) -> ReserveState:
        for reserve in self.reserves:
            if reserve.symbol == symbol:
                return reserve
        raise AssetNotListedError(symbol, tuple(r.symbol for r in self.reserves))


@dataclass(frozen=True)
class _CallPlan:
    """Which functions a read calls per reserve, in slice order."""

    data_provider: tuple[str, ...]  # take the asset
    strategy: tuple[str, ...]  # getters of the reserve's rate strategy

    @property
    def names(self) -> tuple[str, ...]:
        return (*self.data_provider, *self.strategy, "getSourceOfAsset", "getAssetPrice", "latestRoundData",
                "getReserves")


@cache
def _call_plan() -> _CallPlan:
    """The registry's reader functions (each distinct one called once per reserve): those of the
    data provider take the asset, the rest are rate-strategy getters; plus what every read
    needs (flags and decimals, totals and rates, where the curve lives). Built on first use so
    importing this module needs no Aave artifact."""
    provider_functions = {
        item["name"] for item in load_aave_artifact("AaveProtocolDataProvider").abi if item["type"] == "function"
    }
    registry = tuple(dict.fromkeys(spec.reader[0] for spec in REGISTRY))
    data = tuple(f for f in registry if f in provider_functions)
    extra = tuple(
        f for f in ("getReserveConfigurationData", "getReserveData", "getInterestRateStrategyAddress") if f not in data
    )
    return _CallPlan(data_provider=(*data, *extra), strategy=tuple(f for f in registry if f not in provider_functions))


class MarketReader:
    """Snapshots of a market's reserves, each one `aggregate3` at one block.

    The rate-strategy and feed addresses of each reserve are read in the same batch; when one
    changed since the reader last saw it (a rate update deploys a new strategy), the batch is
    rebuilt and re-read at the same block."""

    def __init__(self, w3: Web3, market: Market, dex_pairs: dict[str, str] | None = None) -> None:
        self.w3 = w3
        self.market = market
        self.multicall = Multicall(w3, market.multicall)
        self._data = aave_contract(w3, "AaveProtocolDataProvider", market.data_provider)
        self._oracle = aave_contract(w3, "AaveOracle", market.oracle)
        self._pool = aave_contract(w3, "Pool", market.pool)
        self._reserves = {r.symbol: r for r in market.reserves}
        self._pairs: dict[str, tuple[str, str, bool]] = {}  # symbol -> (pair, quote token, asset is token0)
        for symbol, pair_address in (dex_pairs or {}).items():
            reserve = market.reserve(symbol)
            pair = our_contract(w3, "DemoPair", pair_address)
            token0, token1 = pair.functions.token0().call(), pair.functions.token1().call()
            if reserve.underlying not in (token0, token1):
                raise ChainError(f"pair {pair_address} named for {symbol} does not hold {reserve.underlying}")
            asset_first = token0 == reserve.underlying
            self._pairs[symbol] = (pair.address, token1 if asset_first else token0, asset_first)
        self._calls: list[Call] = []
        self._per_reserve = 0
        self._build_calls()

    @classmethod
    def from_deployment(cls, w3: Web3, deployment: Deployment, assets: tuple[str, ...] | None = None) -> MarketReader:
        """The reader of the market a deployment file names (chain checked, addresses derived),
        with its DEX pairs for the reserves read."""
        market = market_from_deployment(w3, deployment, assets)
        pairs = {symbol: pair for symbol, pair in deployment.dex_pairs.items() if symbol in market.symbols}
        return cls(w3, market, pairs)

    @property
    def chain_id(self) -> int:
        return self.market.chain_id

    def pair_quote_symbol(self, symbol: str) -> str | None:
        """The listed reserve a reserve's DEX pair is quoted in (None: no pair, or an unlisted quote)."""
        pair = self._pairs.get(symbol)
        if pair is None:
            return None
        quote = next((r for r in self.market.reserves if r.underlying == pair[1]), None)
        return quote.symbol if quote is not None else None

    def _build_calls(self) -> None:
        calls = [self.multicall.block_number_call(), self.multicall.timestamp_call()]
        for reserve in self.market.reserves:
            calls += self._reserve_calls(reserve)
        self._calls = calls
        self._per_reserve = (len(calls) - 2) // len(self.market.reserves) if self.market.reserves else 0

    def _reserve_calls(self, reserve: MarketReserve) -> list[Call]:
        strategy = aave_contract(self.w3, "DefaultReserveInterestRateStrategy", reserve.rate_strategy)
        feed = our_contract(self.w3, "PushableAggregator", reserve.feed)
        plan = _call_plan()
        calls = [encode(self._data, f, reserve.underlying) for f in plan.data_provider]
        # May fail: a v3.2+ market's shared DefaultReserveInterestRateStrategyV2 has no such
        # getters; that is reported by name below rather than as a failed batch.
        calls += [encode(strategy, f, allow_failure=True) for f in plan.strategy]
        calls += [
            encode(self._oracle, "getSourceOfAsset", reserve.underlying),
            encode(self._oracle, "getAssetPrice", reserve.underlying, allow_failure=True),
            encode(feed, "latestRoundData", allow_failure=True),
        ]
        if reserve.symbol in self._pairs:
            pair = our_contract(self.w3, "DemoPair", self._pairs[reserve.symbol][0])
            calls.append(encode(pair, "getReserves"))
        else:  # keep every reserve's slice the same length
            calls.append(self.multicall.block_number_call())
        return calls

    def read(self, block_identifier: int | str = "latest") -> MarketSnapshot:
        """Every reserve at one block (`latest`, or a past block number to re-read it)."""
        block = self.w3.eth.get_block(block_identifier)
        number = int(block["number"])
        for _ in range(2):
            results = self.multicall.read(self._calls, number)
            if int(results[0][0]) != number or int(results[1][0]) != int(block["timestamp"]):
                raise ChainError(f"the node answered for another block than {number}")
            moved = self._moved_sources(results)
            if not moved:
                break
            self.market = replace(self.market, reserves=tuple(moved.get(r.symbol, r) for r in self.market.reserves))
            self._reserves = {r.symbol: r for r in self.market.reserves}
            self._build_calls()
        else:
            raise ChainError(f"reserve sources kept changing while reading block {number}")
        reserves = tuple(
            self._reserve_state(reserve, self._slice(results, index))
            for index, reserve in enumerate(self.market.reserves)
        )
        return MarketSnapshot(
            chain_id=self.chain_id,
            block_number=number,
            block_hash="0x" + bytes(block["hash"]).hex(),
            block_timestamp=int(block["timestamp"]),
            reserves=reserves,
        )

    def _slice(self, results: list, index: int) -> dict[str, tuple | None]:
        names = _call_plan().names
        start = 2 + index * self._per_reserve
        return dict(zip(names, results[start : start + self._per_reserve], strict=True))

    def _moved_sources(self, results: list) -> dict[str, MarketReserve]:
        moved = {}
        for index, reserve in enumerate(self.market.reserves):
            values = self._slice(results, index)
            strategy = Web3.to_checksum_address(values["getInterestRateStrategyAddress"][0])
            feed = Web3.to_checksum_address(values["getSourceOfAsset"][0])
            if strategy != reserve.rate_strategy or feed != reserve.feed:
                moved[reserve.symbol] = replace(reserve, rate_strategy=strategy, feed=feed)
        return moved

    def _reserve_state(self, reserve: MarketReserve, values: dict[str, tuple | None]) -> ReserveState:
        for function in _call_plan().strategy:
            if values[function] is None:
                raise UnsupportedMarketError(
                    f"reserve {reserve.symbol}'s rate strategy {reserve.rate_strategy} does not answer {function}(): "
                    "only Aave v3.0 DefaultReserveInterestRateStrategy contracts are supported"
                )
        params = RiskParams(**{
            spec.field: int(values[spec.reader[0]][spec.reader[1]]) // spec.reader[2] for spec in REGISTRY
        })
        configuration = values["getReserveConfigurationData"]
        data = values["getReserveData"]
        round_data = values["latestRoundData"]
        price = values["getAssetPrice"]
        pair = None
        if reserve.symbol in self._pairs:
            pair_address, quote, asset_first = self._pairs[reserve.symbol]
            reserve0, reserve1, updated_at = values["getReserves"]
            pair = PairReserves(
                pair=pair_address,
                quote_token=quote,
                asset_reserve_raw=int(reserve0 if asset_first else reserve1),
                quote_reserve_raw=int(reserve1 if asset_first else reserve0),
                updated_at=int(updated_at),
            )
        return ReserveState(
            symbol=reserve.symbol,
            asset=reserve.underlying,
            decimals=int(configuration[0]),
            params=params,
            is_active=bool(configuration[8]),
            is_frozen=bool(configuration[9]),
            borrowing_enabled=bool(configuration[6]),
            total_supplied_raw=int(data[2]),
            total_borrowed_raw=int(data[3]) + int(data[4]),
            liquidity_rate_ray=int(data[5]),
            variable_borrow_rate_ray=int(data[6]),
            rate_strategy=reserve.rate_strategy,
            price_usd_e8=0 if price is None else int(price[0]),
            feed_round=None if round_data is None else FeedRound(
                feed=reserve.feed, round_id=int(round_data[0]), answer=int(round_data[1]), updated_at=int(round_data[3])
            ),
            pair=pair,
        )
