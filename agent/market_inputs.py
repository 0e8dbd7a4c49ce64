"""A decision's inputs read at one block (the anchor): what the decide job, shadow mode and
`verify` share, so all three hand the enclave's decision path the same thing.

At the anchor block: every governed reserve (parameters, supply, debt, the feed's latest
round, its DEX pair), the steward's bounds, parameter states and the enclave's nonce counter,
and the borrower positions. Before it: each feed's rounds (from the agent's store, or read
straight from the feed in shadow mode and verify) and anything backfilled from a file, named by
the file's SHA-256. `assemble` is pure; the readers around it do the I/O."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlmodel import Session
from web3 import Web3

from agent.store import PricePointRow
from chain.aave import MarketReserve, aave_contract
from chain.feeds import rounds_since
from chain.listings import PRICE_DECIMALS
from chain.multicall import Call, Multicall, encode
from chain.positions import PositionReader, PositionsSnapshot
from chain.reader import MarketReader, MarketSnapshot, ReserveState
from chain.steward import StewardClient, StewardState
from strategies.bounds import Bounds
from strategies.config import StrategyConfig
from strategies.inputs import HOUR_S, Anchor, AssetInputs, DecisionInputs, Observations, PairReserves, PositionBook

ZERO_ADDRESS = "0x" + "00" * 20
UTILIZATION_HOURS = 24

# (symbol, the reserve at the anchor, since_s) -> chronological price segments up to the anchor.
PriceHistory = Callable[[str, ReserveState, int, int], tuple[Observations, ...]]
UtilizationHistory = Callable[[str, int, int], Observations | None]


def feed_source(feed: str) -> str:
    return f"feed:{Web3.to_checksum_address(feed)}"


def pair_reserves(reserve: ReserveState, snapshot: MarketSnapshot, fallback_depth_usd: float | None) -> PairReserves:
    """The reserve's DEX pair in token units, the quote named by its reserve symbol; without a
    pair, the operator's stated depth (named "config" in the inputs)."""
    pair = reserve.pair
    if pair is None:
        return PairReserves("config", fallback_depth_usd=float(fallback_depth_usd or 0.0))
    quote = next((r for r in snapshot.reserves if r.asset == pair.quote_token), None)
    quote_symbol, quote_decimals = (quote.symbol, quote.decimals) if quote is not None else (pair.quote_token, 18)
    return PairReserves(f"pair:{pair.pair}", pair.asset_reserve_raw / 10**reserve.decimals,
                        pair.quote_reserve_raw / 10**quote_decimals, quote_symbol)


def position_book(positions: PositionsSnapshot | None, symbols: Iterable[str], pool: str) -> PositionBook:
    if positions is None or not positions.positions:
        return PositionBook("none" if positions is None else f"aave:{pool}")
    symbols = sorted(symbols)
    rows = positions.positions
    collateral = {s: np.array([p.collateral_tokens.get(s, 0.0) for p in rows]) for s in symbols}
    return PositionBook(f"aave:{pool}", tuple(p.account for p in rows), collateral,
                        np.array([p.debt_usd for p in rows]))


def assemble(
    snapshot: MarketSnapshot,
    assets: list[str],
    *,
    steward: str,
    enclave_nonce: int,
    steward_states: dict[str, StewardState] | None,
    positions: PositionsSnapshot | None,
    prices: dict[str, tuple[Observations, ...]],
    utilization: dict[str, Observations | None],
    fallback_depth_usd: dict[str, float],
    pool: str,
) -> DecisionInputs:
    """Pure: the readings at the anchor block, as canonical `DecisionInputs`."""
    asset_inputs = []
    for symbol in assets:
        reserve = snapshot.reserve(symbol)
        state = steward_states.get(symbol) if steward_states else None
        asset_inputs.append(AssetInputs(
            symbol=symbol,
            address=reserve.asset,
            decimals=reserve.decimals,
            params=reserve.params,
            supplied_tokens=reserve.supplied_tokens,
            borrowed_tokens=reserve.borrowed_tokens,
            prices=prices.get(symbol, ()),
            pair=pair_reserves(reserve, snapshot, fallback_depth_usd.get(symbol)),
            bounds=state.bounds if state is not None else Bounds(),
            utilization=utilization.get(symbol),
        ))
    anchor = Anchor(snapshot.block_number, bytes.fromhex(snapshot.block_hash.removeprefix("0x")), snapshot.block_timestamp)
    return DecisionInputs(chain_id=snapshot.chain_id, steward=steward, enclave_nonce=enclave_nonce, anchor=anchor,
                          assets=tuple(asset_inputs), positions=position_book(positions, assets, pool))


# ------------------------------------------------------------------ price and utilization history


def store_prices(engine) -> PriceHistory:
    """Backfilled points before the first feed round, then the feed's rounds, from the store
    (one indexed query per asset; rows as tuples, not objects)."""

    def history(symbol: str, reserve: ReserveState, since_s: int, until_s: int) -> tuple[Observations, ...]:
        columns = (PricePointRow.timestamp_s, PricePointRow.price_usd, PricePointRow.source, PricePointRow.round_id)
        query = (select(*columns).where(PricePointRow.asset_symbol == symbol, PricePointRow.timestamp_s > since_s,
                                        PricePointRow.timestamp_s <= until_s)
                 .order_by(PricePointRow.timestamp_s, PricePointRow.id))
        with Session(engine) as session:
            rows = session.execute(query).all()
        feed = [r for r in rows if r[3] is not None]
        first_round_s = feed[0][0] if feed else None
        backfill = [r for r in rows if r[3] is None and (first_round_s is None or r[0] < first_round_s)]
        segments = []
        if backfill:
            by_source: dict[str, list] = {}
            for row in backfill:
                by_source.setdefault(row[2], []).append(row)
            source, points = max(by_source.items(), key=lambda item: len(item[1]))  # one file per asset
            segments.append(Observations(source, np.array([p[0] for p in points]), np.array([p[1] for p in points])))
        if feed:
            segments.append(Observations(feed[0][2], np.array([r[0] for r in feed]), np.array([r[1] for r in feed]),
                                         tuple(int(r[3]) for r in feed)))
        return tuple(segments)

    return history


def chain_prices(w3: Web3, multicall: Multicall, block: int) -> PriceHistory:
    """The feed's own rounds, read from the chain at `block` (shadow mode, verify)."""

    def history(symbol: str, reserve: ReserveState, since_s: int, until_s: int) -> tuple[Observations, ...]:
        if reserve.feed_round is None:
            return ()
        rounds = rounds_since(w3, multicall, reserve.feed_round.feed, reserve.feed_round.round_id, since_s, block)
        kept = [r for r in rounds.rounds if r.updated_at <= until_s]
        scale = 10**rounds.decimals
        return (Observations(feed_source(rounds.feed), np.array([r.updated_at for r in kept], dtype=np.int64),
                             np.array([r.answer / scale for r in kept]), tuple(r.round_id for r in kept)),)

    return history


def no_utilization(symbol: str, since_s: int, until_s: int) -> Observations | None:
    return None


def block_at_or_before(w3: Web3, timestamp_s: int, high: int, cache: dict[int, int]) -> int | None:
    """The last block whose time is at or before `timestamp_s` (binary search below `high`)."""
    def time_of(number: int) -> int:
        if number not in cache:
            cache[number] = int(w3.eth.get_block(number)["timestamp"])
        return cache[number]

    if time_of(0) > timestamp_s:
        return None
    low = 0
    while low < high:
        middle = (low + high + 1) // 2
        if time_of(middle) <= timestamp_s:
            low = middle
        else:
            high = middle - 1
    return low


def reserve_totals_calls(w3: Web3, reserves: Iterable[MarketReserve]) -> list[Call]:
    """Each reserve's aToken, stable debt and variable debt `totalSupply()`, three calls per
    reserve in that order: the very calls AaveProtocolDataProvider.getReserveData makes for
    its totalAToken, totalStableDebt and totalVariableDebt (v3.0.1), without the rest of the
    reserve's data it also reads (about a third cheaper on the in-process EVM)."""
    return [encode(aave_contract(w3, name, getattr(reserve, field)), "totalSupply")
            for reserve in reserves
            for name, field in (("AToken", "a_token"), ("StableDebtToken", "stable_debt_token"),
                                ("VariableDebtToken", "variable_debt_token"))]


def chain_utilization(w3: Web3, reader: MarketReader, anchor_block: int, anchor_time_s: int,
                      hours: int = UTILIZATION_HOURS) -> UtilizationHistory:
    """Each reserve's utilization at the last block of each of the `hours` hours before the
    anchor (and at the anchor itself), read from the chain: the decide job, shadow mode and
    verify read exactly the same blocks, so their inputs agree."""
    cache: dict[int, int] = {anchor_block: anchor_time_s}
    blocks: list[int] = []
    for k in range(hours, 0, -1):
        number = block_at_or_before(w3, anchor_time_s - k * HOUR_S, anchor_block, cache)
        if number is not None and (not blocks or number > blocks[-1]):
            blocks.append(number)
    blocks.append(anchor_block)
    calls = reserve_totals_calls(w3, reader.market.reserves)
    series: dict[str, list[tuple[int, int, float]]] = {}
    for number in blocks:
        totals = reader.multicall.read(calls, number)
        for i, reserve in enumerate(reader.market.reserves):
            (supplied,), (stable,), (variable,) = totals[3 * i : 3 * i + 3]
            borrowed = int(stable) + int(variable)
            series.setdefault(reserve.symbol, []).append((number, cache[number], borrowed / int(supplied) if supplied else 0.0))

    def history(symbol: str, since_s: int, until_s: int) -> Observations | None:
        points = [p for p in series.get(symbol, []) if since_s < p[1] <= until_s]
        if not points:
            return None
        return Observations("reserve:utilization", np.array([p[1] for p in points], dtype=np.int64),
                            np.array([p[2] for p in points]), tuple(p[0] for p in points))

    return history


# ------------------------------------------------------------------ the reader


@dataclass
class AnchorReader:
    """Reads everything a decision needs at one block and assembles the inputs."""

    w3: Web3
    reader: MarketReader
    assets: list[str]
    config: StrategyConfig
    prices: PriceHistory
    utilization: UtilizationHistory | None = None  # None: read from the chain (chain_utilization)
    steward: StewardClient | None = None
    positions: PositionReader | None = None
    accounts: Callable[[], Iterable[str]] = lambda: ()
    fallback_depth_usd: dict[str, float] | None = None

    def read(self, enclave: str | None, block_identifier: int | str = "latest",
             snapshot: MarketSnapshot | None = None) -> DecisionInputs:
        """Everything at one block; pass the `snapshot` already read at it to save a read."""
        snapshot = snapshot if snapshot is not None else self.reader.read(block_identifier)
        block = snapshot.block_number
        states, nonce = None, 0
        if self.steward is not None:
            states = {s: self.steward.state(snapshot.reserve(s).asset, enclave or ZERO_ADDRESS, block) for s in self.assets}
            nonce = next(iter(states.values())).nonce if states else 0
        positions = self.positions.read(list(self.accounts()), block) if self.positions is not None else None
        as_of = snapshot.block_timestamp
        since = as_of - (self.config.window.history_hours + self.config.window.max_carry_hours + 1) * HOUR_S
        prices = {s: self.prices(s, snapshot.reserve(s), since, as_of) for s in self.assets}
        history = self.utilization or chain_utilization(self.w3, self.reader, block, as_of)
        utilization = {s: history(s, as_of - (UTILIZATION_HOURS + 1) * HOUR_S, as_of) for s in self.assets}
        return assemble(
            snapshot, self.assets, steward=self.steward.steward.address if self.steward else ZERO_ADDRESS,
            enclave_nonce=nonce, steward_states=states, positions=positions, prices=prices, utilization=utilization,
            fallback_depth_usd=self.fallback_depth_usd or {}, pool=self.reader.market.pool,
        )


def price_usd(reserve: ReserveState) -> float:
    """The feed's latest answer in USD (AaveOracle's unit is 1e8 USD)."""
    return reserve.feed_round.answer / 10**PRICE_DECIMALS if reserve.feed_round else reserve.price_usd
