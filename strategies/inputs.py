"""A decision's inputs, their one canonical encoding, and the one builder of strategy inputs.

`DecisionInputs` is what the chain held at the anchor block (reserve parameters and state, each
feed's rounds with their `updatedAt`, DEX pair reserves, the steward's bounds and the enclave's
nonce counter, borrower positions), plus earlier observations the operator backfilled, each
series naming its source. Its canonical bytes (deterministic CBOR, RFC 8949 section 4.2, with
numeric arrays as RFC 8746 typed arrays) are what the enclave hashes (`inputs_hash`, signed
in every update), what the agent publishes on chain, and what `verify` re-reads.

`build_history` is the only place strategy inputs are made: it puts every price series on an
hourly grid (the last observation at or before each UTC hour mark, and at the anchor's time
itself, carried at most `max_carry_hours`; older hours are gaps, reported), so the same market
sampled every minute, every 15 minutes or every hour gives the same history. The service, `verify`,
shadow mode and the backtest engine all call it. Pure: no chain, no clock, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cbor2
import numpy as np
from eth_utils import keccak

from strategies.bounds import Bound, Bounds, ParamState
from strategies.config import StrategyConfig
from strategies.params import REGISTRY, Param, RiskParams

HOUR_S = 3_600
TAG_SINT64_BE = 75  # RFC 8746 typed arrays
TAG_FLOAT64_BE = 82
INPUTS_VERSION = 1


class InputsError(ValueError):
    """Inputs that cannot be a decision's inputs (named field, one line)."""


# ------------------------------------------------------------------ the raw inputs


@dataclass(frozen=True)
class Anchor:
    """The block the inputs were read at: the steward checks `blockhash(block_number)`."""

    block_number: int
    block_hash: bytes
    timestamp_s: int


@dataclass(frozen=True, eq=False)
class Observations:
    """One source's observations at their native cadence: when each became true (a feed
    round's `updatedAt`, a block's time, a file's timestamp) and its value. `keys` re-read
    each observation on chain: feed round ids, or block numbers of `eth_call` reads; empty
    for files and simulations (then `source` names the file's SHA-256 or the simulation)."""

    source: str
    timestamps_s: np.ndarray
    values: np.ndarray
    keys: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "timestamps_s", np.ascontiguousarray(self.timestamps_s, dtype=np.int64))
        object.__setattr__(self, "values", np.ascontiguousarray(self.values, dtype=np.float64))

    def __len__(self) -> int:
        return len(self.timestamps_s)

    @classmethod
    def empty(cls, source: str) -> Observations:
        return cls(source, np.zeros(0, dtype=np.int64), np.zeros(0))


@dataclass(frozen=True)
class PairReserves:
    """A constant-product DEX pair of the asset against `quote_symbol`, at the anchor block:
    the depth a liquidator sells into, and a second price for the manipulation check.
    `source` "config" means no pair: `fallback_depth_usd` is the operator's stated depth."""

    source: str
    asset_reserve_tokens: float = 0.0
    quote_reserve_tokens: float = 0.0
    quote_symbol: str = ""
    fallback_depth_usd: float = 0.0


@dataclass(frozen=True, eq=False)
class AssetInputs:
    """One reserve at the anchor block, and its history. `prices` are chronological segments
    of observations, each naming its source (e.g. a backfill file, then the feed's rounds);
    a segment starts after the previous one ends."""

    symbol: str
    address: str
    decimals: int
    params: RiskParams
    supplied_tokens: float
    borrowed_tokens: float
    prices: tuple[Observations, ...]
    pair: PairReserves
    bounds: Bounds
    utilization: Observations | None = None

    def __post_init__(self) -> None:
        if isinstance(self.prices, Observations):
            object.__setattr__(self, "prices", (self.prices,))

    def price_observations(self) -> tuple[np.ndarray, np.ndarray]:
        """All price observations, oldest first (segments concatenated)."""
        if len(self.prices) == 1:
            return self.prices[0].timestamps_s, self.prices[0].values
        return (np.concatenate([o.timestamps_s for o in self.prices]) if self.prices else np.zeros(0, dtype=np.int64),
                np.concatenate([o.values for o in self.prices]) if self.prices else np.zeros(0))


@dataclass(frozen=True, eq=False)
class PositionBook:
    """Borrower accounts: collateral tokens per asset (one array per symbol, aligned with
    `accounts`) and total debt in USD."""

    source: str
    accounts: tuple[str, ...] = ()
    collateral_tokens: dict[str, np.ndarray] = field(default_factory=dict)
    debt_usd: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        object.__setattr__(self, "debt_usd", np.ascontiguousarray(self.debt_usd, dtype=np.float64))
        object.__setattr__(self, "collateral_tokens",
                           {s: np.ascontiguousarray(v, dtype=np.float64) for s, v in sorted(self.collateral_tokens.items())})


@dataclass(frozen=True, eq=False)
class DecisionInputs:
    chain_id: int
    steward: str
    enclave_nonce: int
    anchor: Anchor
    assets: tuple[AssetInputs, ...]
    positions: PositionBook = field(default_factory=lambda: PositionBook("none"))

    @property
    def as_of_s(self) -> int:
        return self.anchor.timestamp_s

    def asset(self, symbol: str) -> AssetInputs:
        for asset in self.assets:
            if asset.symbol == symbol:
                return asset
        raise KeyError(symbol)

    def canonical_bytes(self) -> bytes:
        return encode_inputs(self)

    @property
    def inputs_hash(self) -> bytes:
        return keccak(self.canonical_bytes())


# ------------------------------------------------------------------ canonical encoding


def _big_endian_bytes(values: np.ndarray, native: type, big_endian: str) -> bytearray:
    """The values' big-endian bytes, written once into the buffer cbor2 encodes (as a byte
    string, like `bytes`): `np.asarray(values, dtype=big_endian).tobytes()` made a swapped
    copy and then a second copy, 14 MB of fresh memory per decision whose page faults cost
    more than the encoding."""
    values = np.asarray(values, dtype=native)
    out = bytearray(values.size * 8)
    np.frombuffer(out, dtype=big_endian).reshape(values.shape)[...] = values
    return out


def _int_array(values: np.ndarray) -> cbor2.CBORTag:
    return cbor2.CBORTag(TAG_SINT64_BE, _big_endian_bytes(values, np.int64, ">i8"))


def _float_array(values: np.ndarray) -> cbor2.CBORTag:
    return cbor2.CBORTag(TAG_FLOAT64_BE, _big_endian_bytes(values, np.float64, ">f8"))


def _sequence(values: tuple | list) -> tuple | list:
    """A CBOR array as it is (cbor2 encodes a tuple and a list alike), without copying a
    round-id tuple of a year of hours into a list first."""
    return values if isinstance(values, (tuple, list)) else list(values)


def _observations(obs: Observations) -> dict:
    return {"source": obs.source, "t": _int_array(obs.timestamps_s), "v": _float_array(obs.values),
            "keys": _sequence(obs.keys)}


_PARAM_NAMES = {p: p.name for p in Param}  # an enum member's `name` is a property lookup each time
_NO_STATE = ParamState()


def _bounds(bounds: Bounds) -> dict:
    return {
        "limits": {_PARAM_NAMES[p]: [b.cooldown_seconds, b.max_change, b.is_relative, b.floor, b.ceiling]
                   for p, b in sorted(bounds.limits.items())},
        "state": {_PARAM_NAMES[p]: [s.last_executed_at, s.pending_ready_at] for p, s in sorted(bounds.state.items())
                  if s != _NO_STATE},
        "execution_window_s": bounds.execution_window_s,
    }


def to_canonical_value(inputs: DecisionInputs) -> dict:
    return {
        "version": INPUTS_VERSION,
        "chain_id": inputs.chain_id,
        "steward": inputs.steward,
        "enclave_nonce": inputs.enclave_nonce,
        "anchor": {"block": inputs.anchor.block_number, "hash": inputs.anchor.block_hash,
                   "timestamp": inputs.anchor.timestamp_s},
        "assets": [
            {
                "symbol": a.symbol, "address": a.address, "decimals": a.decimals,
                "params": [getattr(a.params, spec.field) for spec in REGISTRY],
                "supplied_tokens": float(a.supplied_tokens), "borrowed_tokens": float(a.borrowed_tokens),
                "prices": [_observations(o) for o in a.prices],
                "utilization": _observations(a.utilization) if a.utilization is not None else None,
                "pair": {"source": a.pair.source, "asset_reserve": float(a.pair.asset_reserve_tokens),
                         "quote_reserve": float(a.pair.quote_reserve_tokens), "quote": a.pair.quote_symbol,
                         "fallback_depth_usd": float(a.pair.fallback_depth_usd)},
                "bounds": _bounds(a.bounds),
            }
            for a in inputs.assets
        ],
        "positions": {
            "source": inputs.positions.source,
            "accounts": _sequence(inputs.positions.accounts),
            "collateral": {s: _float_array(v) for s, v in inputs.positions.collateral_tokens.items()},
            "debt_usd": _float_array(inputs.positions.debt_usd),
        },
    }


def encode_inputs(inputs: DecisionInputs) -> bytes:
    """Deterministic CBOR: map keys sorted, shortest forms, typed arrays big-endian."""
    return cbor2.dumps(to_canonical_value(inputs), canonical=True)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InputsError(message)


def _get(mapping: object, key: str, kind: type | tuple[type, ...], where: str):
    _require(isinstance(mapping, dict), f"{where} is not a map")
    _require(key in mapping, f"{where}.{key} is missing")
    value = mapping[key]
    if kind is int:
        _require(isinstance(value, int) and not isinstance(value, bool), f"{where}.{key} must be an integer")
    elif kind is float:
        _require(isinstance(value, (int, float)) and not isinstance(value, bool), f"{where}.{key} must be a number")
        value = float(value)
    else:
        _require(isinstance(value, kind), f"{where}.{key} has the wrong type")
    return value


def _typed_array(value: object, tag: int, dtype: str, where: str) -> np.ndarray:
    _require(isinstance(value, cbor2.CBORTag) and value.tag == tag and isinstance(value.value, bytes),
             f"{where} must be a typed array (CBOR tag {tag})")
    _require(len(value.value) % 8 == 0, f"{where} has a partial element")
    return np.frombuffer(value.value, dtype=dtype).astype(dtype[1:] if dtype[0] == ">" else dtype)


def _decode_observations(raw: object, where: str) -> Observations:
    times = _typed_array(_get(raw, "t", cbor2.CBORTag, where), TAG_SINT64_BE, ">i8", f"{where}.t")
    values = _typed_array(_get(raw, "v", cbor2.CBORTag, where), TAG_FLOAT64_BE, ">f8", f"{where}.v")
    keys = _get(raw, "keys", list, where)
    _require(len(times) == len(values), f"{where}: {len(times)} timestamps but {len(values)} values")
    _require(not keys or len(keys) == len(times), f"{where}: {len(keys)} keys for {len(times)} observations")
    _require(all(isinstance(k, int) and not isinstance(k, bool) for k in keys), f"{where}.keys must be integers")
    _require(bool(np.all(np.diff(times) >= 0)), f"{where}: timestamps are not in ascending order")
    return Observations(_get(raw, "source", str, where), times, values, tuple(keys))


def _decode_bounds(raw: object, where: str) -> Bounds:
    limits_raw = _get(raw, "limits", dict, where)
    limits = {}
    for name, entry in limits_raw.items():
        _require(name in Param.__members__, f"{where}.limits: unknown parameter {name!r}")
        _require(isinstance(entry, list) and len(entry) == 5, f"{where}.limits.{name} must be 5 values")
        cooldown, max_change, relative, floor, ceiling = entry
        _require(all(isinstance(v, int) and not isinstance(v, bool) for v in (cooldown, max_change, floor, ceiling))
                 and isinstance(relative, bool), f"{where}.limits.{name} has the wrong types")
        limits[Param[name]] = Bound(cooldown, max_change, relative, floor, ceiling)
    _require(set(limits) == set(Param), f"{where}.limits must name every parameter")
    state = {}
    for name, entry in _get(raw, "state", dict, where).items():
        _require(name in Param.__members__, f"{where}.state: unknown parameter {name!r}")
        _require(isinstance(entry, list) and len(entry) == 2 and all(isinstance(v, int) and not isinstance(v, bool)
                                                                     for v in entry), f"{where}.state.{name} must be 2 integers")
        state[Param[name]] = ParamState(*entry)
    return Bounds(limits, state, _get(raw, "execution_window_s", int, where))


def decode_inputs(data: bytes) -> DecisionInputs:
    """Parses canonical bytes; anything else (another encoding of the same values included)
    is an `InputsError`, so one decision has exactly one inputs hash."""
    try:
        raw = cbor2.loads(data)
    except Exception as error:  # noqa: BLE001 - any decoding failure is the same verdict
        raise InputsError(f"inputs are not CBOR ({type(error).__name__})") from None
    _require(_get(raw, "version", int, "inputs") == INPUTS_VERSION, f"inputs version must be {INPUTS_VERSION}")
    anchor_raw = _get(raw, "anchor", dict, "inputs")
    block_hash = _get(anchor_raw, "hash", bytes, "inputs.anchor")
    _require(len(block_hash) == 32, "inputs.anchor.hash must be 32 bytes")
    anchor = Anchor(_get(anchor_raw, "block", int, "inputs.anchor"), block_hash, _get(anchor_raw, "timestamp", int, "inputs.anchor"))
    assets = []
    for index, entry in enumerate(_get(raw, "assets", list, "inputs")):
        where = f"inputs.assets[{index}]"
        params = _get(entry, "params", list, where)
        _require(len(params) == len(REGISTRY) and all(isinstance(v, int) and not isinstance(v, bool) for v in params),
                 f"{where}.params must be {len(REGISTRY)} integers")
        pair_raw = _get(entry, "pair", dict, where)
        utilization_raw = entry.get("utilization") if isinstance(entry, dict) else None
        assets.append(AssetInputs(
            symbol=_get(entry, "symbol", str, where),
            address=_get(entry, "address", str, where),
            decimals=_get(entry, "decimals", int, where),
            params=RiskParams(*params),
            supplied_tokens=_get(entry, "supplied_tokens", float, where),
            borrowed_tokens=_get(entry, "borrowed_tokens", float, where),
            prices=tuple(_decode_observations(o, f"{where}.prices[{i}]")
                         for i, o in enumerate(_get(entry, "prices", list, where))),
            pair=PairReserves(_get(pair_raw, "source", str, f"{where}.pair"),
                              _get(pair_raw, "asset_reserve", float, f"{where}.pair"),
                              _get(pair_raw, "quote_reserve", float, f"{where}.pair"),
                              _get(pair_raw, "quote", str, f"{where}.pair"),
                              _get(pair_raw, "fallback_depth_usd", float, f"{where}.pair")),
            bounds=_decode_bounds(_get(entry, "bounds", dict, where), f"{where}.bounds"),
            utilization=(_decode_observations(utilization_raw, f"{where}.utilization")
                         if utilization_raw is not None else None),
        ))
    symbols = [a.symbol for a in assets]
    _require(len(set(symbols)) == len(symbols), "inputs.assets name an asset twice")
    positions_raw = _get(raw, "positions", dict, "inputs")
    accounts = _get(positions_raw, "accounts", list, "inputs.positions")
    debt = _typed_array(_get(positions_raw, "debt_usd", cbor2.CBORTag, "inputs.positions"), TAG_FLOAT64_BE, ">f8",
                        "inputs.positions.debt_usd")
    collateral = {}
    for symbol, tagged in _get(positions_raw, "collateral", dict, "inputs.positions").items():
        array = _typed_array(tagged, TAG_FLOAT64_BE, ">f8", f"inputs.positions.collateral.{symbol}")
        _require(len(array) == len(debt), f"inputs.positions.collateral.{symbol} does not match the accounts")
        collateral[symbol] = array
    _require(len(accounts) == len(debt) and all(isinstance(a, str) for a in accounts),
             "inputs.positions.accounts must be one text per position")
    inputs = DecisionInputs(
        chain_id=_get(raw, "chain_id", int, "inputs"),
        steward=_get(raw, "steward", str, "inputs"),
        enclave_nonce=_get(raw, "enclave_nonce", int, "inputs"),
        anchor=anchor,
        assets=tuple(assets),
        positions=PositionBook(_get(positions_raw, "source", str, "inputs.positions"), tuple(accounts), collateral, debt),
    )
    _require(encode_inputs(inputs) == data, "inputs are not in canonical form (re-encoding differs)")
    check_inputs(inputs)
    return inputs


def check_inputs(inputs: DecisionInputs) -> None:
    """What no honest reading at the anchor block can produce: observations after the
    anchor's time, or segments out of order. Raises `InputsError`."""
    for asset in inputs.assets:
        times, _ = asset.price_observations()
        _require(bool(np.all(np.diff(times) >= 0)),
                 f"{asset.symbol} prices: segments overlap or are out of order")
        for name, series in (("prices", times), ("utilization", asset.utilization.timestamps_s
                                                 if asset.utilization is not None else np.zeros(0))):
            if len(series) and int(series[-1]) > inputs.anchor.timestamp_s:
                raise InputsError(f"{asset.symbol} {name} include observations after the anchor block's time")


# ------------------------------------------------------------------ the hourly builder


@dataclass(frozen=True, eq=False)
class HourlyGrid:
    """Values at `hour_marks(as_of, n)`, oldest first; NaN where no observation lies within
    the carry allowance. `gaps` are the NaN runs as (first hour, last hour) timestamps."""

    values: np.ndarray
    carried_hours: int
    gaps: tuple[tuple[int, int], ...]


def hour_marks(as_of_s: int, hours: int) -> np.ndarray:
    """`hours` marks ending at `as_of`: the UTC hour marks before it and `as_of` itself (the
    last interval is partial when `as_of` falls inside an hour). UTC marks keep a day's grid
    the same from one hourly decision to the next, so fits anchored to UTC days are reused."""
    last_mark = as_of_s - as_of_s % HOUR_S
    if last_mark == as_of_s:
        return as_of_s - HOUR_S * np.arange(hours - 1, -1, -1, dtype=np.int64)
    marks = last_mark - HOUR_S * np.arange(hours - 2, -1, -1, dtype=np.int64)
    return np.append(marks, np.int64(as_of_s))


def hourly_grid(timestamps_s: np.ndarray, values: np.ndarray, as_of_s: int, hours: int, max_carry_hours: int,
                *, marks: np.ndarray | None = None) -> HourlyGrid:
    """The last observation at or before each hour mark, if it is less than
    `1 + max_carry_hours` hours old; otherwise NaN (a gap, never filled). `marks` is
    `hour_marks(as_of_s, hours)` when the caller has it (every series of a decision has the
    same marks)."""
    marks = hour_marks(as_of_s, hours) if marks is None else marks
    index = np.searchsorted(timestamps_s, marks, side="right") - 1
    safe = np.maximum(index, 0)
    age = marks - timestamps_s[safe] if len(timestamps_s) else np.full(hours, np.iinfo(np.int64).max)
    valid = (index >= 0) & (age < (1 + max_carry_hours) * HOUR_S) if len(timestamps_s) else np.zeros(hours, dtype=bool)
    grid = np.where(valid, values[safe] if len(values) else 0.0, np.nan)
    carried = int(np.count_nonzero(valid & (age >= HOUR_S)))
    gaps = []
    missing = ~valid
    if missing.any():
        edges = np.flatnonzero(np.diff(np.concatenate(([0], missing.astype(np.int8), [0]))))
        for start, stop in zip(edges[::2], edges[1::2], strict=True):
            gaps.append((int(marks[start]), int(marks[stop - 1])))
    return HourlyGrid(grid, carried, tuple(gaps))


def constant_product_depth_usd(asset_reserve_tokens: float, price_usd: float, slippage: float) -> float:
    """USD of the asset sellable into a constant-product pair before the price moves by
    `slippage`: selling dx into reserve x moves the price by dx / (x + dx), so
    dx = x * s / (1 - s)."""
    return asset_reserve_tokens * slippage / (1 - slippage) * price_usd


@dataclass(frozen=True, eq=False)
class AssetHistory:
    """What the strategy may know of one asset at the decision time: hourly prices ending at
    `as_of` (NaN = gap), the newest observation's own time (a feed's `updatedAt`), invalid
    observations the oracle reported, depth, a second price, and the reserve's state."""

    symbol: str
    prices_usd: np.ndarray
    last_observation_s: int
    invalid_observations: int
    first_invalid_s: int | None
    carried_hours: int
    gaps: tuple[tuple[int, int], ...]
    liquidity_depth_usd: float
    depth_source: str
    reference_price_usd: float | None
    reference_source: str
    supplied_tokens: float
    borrowed_tokens: float
    utilization: np.ndarray
    peg_usd: float | None = None

    @property
    def last_price_usd(self) -> float:
        return float(self.prices_usd[-1])

    @property
    def is_stablecoin(self) -> bool:
        return self.peg_usd is not None


@dataclass(frozen=True, eq=False)
class AssetPositions:
    """Positions as the strategy sees one collateral asset: tokens of it and the debt they
    carry after the other collateral's borrowing power (a position's HF < 1 exactly when
    tokens x price x LT < effective debt)."""

    tokens: np.ndarray
    effective_debt_usd: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.tokens)


@dataclass(frozen=True, eq=False)
class MarketHistory:
    """The decision's whole view; `as_of_s` (the anchor block's time) is the only clock a
    strategy sees."""

    as_of_s: int
    assets: tuple[AssetHistory, ...]
    positions: dict[str, AssetPositions] = field(default_factory=dict)

    def asset(self, symbol: str) -> AssetHistory:
        for asset in self.assets:
            if asset.symbol == symbol:
                return asset
        raise KeyError(symbol)


def _asset_history(asset: AssetInputs, prices_usd: dict[str, float], as_of_s: int, config: StrategyConfig,
                   marks: np.ndarray | None = None) -> AssetHistory:
    window = config.window
    marks = hour_marks(as_of_s, window.history_hours) if marks is None else marks
    times, values = asset.price_observations()
    start = as_of_s - window.history_hours * HOUR_S
    # The observations after the window's oldest carry: a suffix, the times being in order
    # (check_inputs), found by bisection instead of a mask over a year of prints.
    first = int(np.searchsorted(times, start - (1 + window.max_carry_hours) * HOUR_S, side="right"))
    times, values = times[first:], values[first:]
    invalid = ~np.isfinite(values) | (values <= 0)
    good_times, good_values = times[~invalid], values[~invalid]
    grid = hourly_grid(good_times, good_values, as_of_s, window.history_hours, window.max_carry_hours, marks=marks)
    price = float(good_values[-1]) if len(good_values) else math.nan
    pair = asset.pair
    if pair.source == "config":
        depth, reference = pair.fallback_depth_usd, None
    else:
        depth = constant_product_depth_usd(pair.asset_reserve_tokens, price, config.bonus.depth_slippage) if math.isfinite(price) else 0.0
        # The quote priced by its own feed in these inputs, else by its peg; a quote priced by
        # neither gives no second price (never an invalid one: that would hold the asset).
        quote_price = prices_usd.get(pair.quote_symbol, config.peg_usd(pair.quote_symbol))
        if quote_price is None:
            reference = None
        elif pair.asset_reserve_tokens > 0 and pair.quote_reserve_tokens > 0:
            reference = pair.quote_reserve_tokens / pair.asset_reserve_tokens * quote_price
        else:
            reference = math.nan  # an empty pair: the guard holds on it
    if asset.utilization is not None and len(asset.utilization):
        utilization = hourly_grid(asset.utilization.timestamps_s, asset.utilization.values, as_of_s,
                                  window.history_hours, window.utilization_max_carry_hours, marks=marks).values
    else:
        utilization = np.full(window.history_hours, np.nan)
    return AssetHistory(
        symbol=asset.symbol,
        prices_usd=grid.values,
        last_observation_s=int(good_times[-1]) if len(good_times) else 0,
        invalid_observations=int(invalid.sum()),
        first_invalid_s=int(times[invalid][0]) if invalid.any() else None,
        carried_hours=grid.carried_hours,
        gaps=grid.gaps,
        liquidity_depth_usd=float(depth),
        depth_source=pair.source,
        reference_price_usd=reference,
        reference_source=pair.source if reference is not None else "none",
        supplied_tokens=float(asset.supplied_tokens),
        borrowed_tokens=float(asset.borrowed_tokens),
        utilization=utilization,
        peg_usd=config.peg_usd(asset.symbol),
    )


def _positions(inputs: DecisionInputs, prices_usd: dict[str, float]) -> dict[str, AssetPositions]:
    book = inputs.positions
    if not len(book.debt_usd):
        return {}
    thresholds = {a.symbol: a.params.liquidation_threshold_bps / 1e4 for a in inputs.assets}
    weighted = {s: tokens * prices_usd.get(s, 0.0) * thresholds.get(s, 0.0) for s, tokens in book.collateral_tokens.items()}
    total = sum(weighted.values()) if weighted else np.zeros(len(book.debt_usd))
    result = {}
    for symbol, tokens in book.collateral_tokens.items():
        if symbol not in thresholds:
            continue
        effective = book.debt_usd - (total - weighted[symbol])
        keep = (tokens > 0) & (effective > 0)
        result[symbol] = AssetPositions(tokens[keep], effective[keep], book.source)
    return result


def build_history(inputs: DecisionInputs, config: StrategyConfig) -> MarketHistory:
    """The strategy's view of the inputs (see the module docstring)."""
    check_inputs(inputs)
    as_of = inputs.as_of_s
    prices = {}
    for asset in inputs.assets:
        values = asset.price_observations()[1]
        if len(values) and np.isfinite(values[-1]) and values[-1] > 0:  # the usual case: the last print is good
            prices[asset.symbol] = float(values[-1])
            continue
        good = values[np.isfinite(values) & (values > 0)]
        if len(good):
            prices[asset.symbol] = float(good[-1])
    marks = hour_marks(as_of, config.window.history_hours)  # the same grid for every series
    assets = tuple(_asset_history(a, prices, as_of, config, marks)
                   for a in sorted(inputs.assets, key=lambda a: a.symbol))
    return MarketHistory(as_of, assets, _positions(inputs, prices))
