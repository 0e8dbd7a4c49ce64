"""The one input builder: the hourly grid (last print at or before each hour mark, carried at
most `max_carry_hours`, gaps reported), cadence invariance, positions as the strategy sees
them, and the canonical encoding the enclave hashes."""

from __future__ import annotations

from dataclasses import replace

import cbor2
import numpy as np
import pandas as pd
import pytest

from backtests.data import PriceSeries
from backtests.history import decision_inputs
from strategies.config import default_config
from strategies.decision import recommend
from strategies.inputs import (
    HOUR_S,
    DecisionInputs,
    InputsError,
    Observations,
    PositionBook,
    build_history,
    constant_product_depth_usd,
    decode_inputs,
    encode_inputs,
    hourly_grid,
)
from strategies.params import AAVE_V3_OCT_2023, Param
from tests.strategies.conftest import CONFIG, synthetic_as_of, synthetic_eth

T0 = 1_700_000_000  # an hour mark: 1_700_000_000 / 3600 = 472_222.2..., so use T0 - T0 % 3600 below
AS_OF = T0 - T0 % HOUR_S + 10 * HOUR_S


def test_grid_takes_the_last_print_at_or_before_each_hour_mark():
    """Marks at AS_OF-2h, AS_OF-1h, AS_OF. Prints: 100 at -2h-30min, 101 at -2h (exactly on the
    mark: it counts for that mark), 102 at -1h-1s, 103 at -1h+1s, 104 at AS_OF-10s.
    Expected: mark -2h -> 101 (last at or before), mark -1h -> 102 (103 is after it),
    mark 0 -> 104."""
    times = np.array([AS_OF - 2 * HOUR_S - 1_800, AS_OF - 2 * HOUR_S, AS_OF - HOUR_S - 1, AS_OF - HOUR_S + 1, AS_OF - 10])
    grid = hourly_grid(times, np.array([100.0, 101.0, 102.0, 103.0, 104.0]), AS_OF, 3, max_carry_hours=0)
    assert grid.values.tolist() == [101.0, 102.0, 104.0]
    assert grid.carried_hours == 0 and grid.gaps == ()


def test_carry_stops_exactly_at_its_limit_and_the_gap_is_reported():
    """One print at AS_OF-5h (value 7). With max_carry_hours=2 a mark may use a print less than
    3 h old: marks -5h (age 0), -4h (1 h), -3h (2 h) get 7; -2h (age exactly 3 h) and later
    are a gap. Marks -6h (before the print) is a gap too."""
    grid = hourly_grid(np.array([AS_OF - 5 * HOUR_S]), np.array([7.0]), AS_OF, 7, max_carry_hours=2)
    assert np.isnan(grid.values[0]) and grid.values[1:4].tolist() == [7.0, 7.0, 7.0]
    assert np.isnan(grid.values[4:]).all()
    assert grid.carried_hours == 2  # marks -4h and -3h use an older print
    assert grid.gaps == ((AS_OF - 6 * HOUR_S, AS_OF - 6 * HOUR_S), (AS_OF - 2 * HOUR_S, AS_OF))
    # One second younger and the -2h mark is still carried.
    younger = hourly_grid(np.array([AS_OF - 5 * HOUR_S + 1]), np.array([7.0]), AS_OF, 7, max_carry_hours=2)
    assert younger.values[4] == 7.0 and np.isnan(younger.values[5])


def _minute_path(hours: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    start = AS_OF - hours * HOUR_S
    times = start + 60 * np.arange(1, hours * 60 + 1)
    prices = 2_000 * np.exp(np.cumsum(rng.normal(0, 0.0012, len(times))))
    return times, prices


def _series(times: np.ndarray, prices: np.ndarray) -> PriceSeries:
    index = pd.to_datetime(times, unit="s", utc=True)
    return PriceSeries("ETH", pd.Series(prices, index=index), "test", 0, ())


def test_one_minute_fifteen_minute_and_hourly_prints_give_the_identical_decision():
    """The same market printed every minute, every 15 minutes (every 15th print) and every hour
    (every 60th print, on the hour marks) has the same last print at or before each hour mark,
    so the grids, and therefore the recommendations (apart from the inputs hash), are equal."""
    hours = CONFIG.window.history_hours + 24
    times, prices = _minute_path(hours, seed=3)
    as_of = pd.Timestamp(AS_OF, unit="s", tz="UTC")
    recommendations = []
    grids = []
    changes = []
    for step in (1, 15, 60):
        keep = slice(step - 1, None, step)
        inputs = decision_inputs([_series(times[keep], prices[keep])], as_of, supplied_tokens=5e5, borrowed_tokens=2e5)
        grids.append(build_history(inputs, CONFIG).assets[0].prices_usd)
        recommendation = recommend(inputs, CONFIG)
        recommendations.append(replace(recommendation, inputs_hash="").to_canonical_json())
        changes.append((recommendation.asset("ETH").action, recommendation.asset("ETH").changes_by_param()))
    assert np.array_equal(grids[0], grids[1]) and np.array_equal(grids[0], grids[2])
    assert recommendations[0] == recommendations[1] == recommendations[2]
    # Equal because each decided the same update, not because all three held or failed alike.
    action, changed = changes[0]
    assert action == "update" and Param.LIQUIDATION_THRESHOLD in changed
    assert len(grids[0]) == CONFIG.window.history_hours and not np.isnan(grids[0]).any()


def test_positions_carry_the_debt_other_collateral_does_not_cover():
    """Account A: 10 ETH and 1,000 USDC of collateral, 15,000 USD of debt. With ETH at 2,000
    and USDC at 1, USDC's LT 80% covers 800, so for ETH the effective debt is 14,200; for USDC
    it is 15,000 - 10 x 2,000 x 0.83 = -1,600 <= 0: never liquidatable because of USDC alone,
    so A is left out of USDC's positions. Account B holds no ETH: not an ETH position."""
    eth = _series(*_minute_path(CONFIG.window.history_hours + 2, seed=1))
    eth = PriceSeries("ETH", eth.prices_usd * 0 + 2_000.0, "flat", 0, ())
    usdc = PriceSeries("USDC", eth.prices_usd * 0 + 1.0, "flat", 0, ())
    book = PositionBook("test", ("A", "B"), {"ETH": np.array([10.0, 0.0]), "USDC": np.array([1_000.0, 5_000.0])},
                        np.array([15_000.0, 3_000.0]))
    inputs = decision_inputs([eth, usdc], pd.Timestamp(AS_OF, unit="s", tz="UTC"), positions=book,
                             params={"ETH": AAVE_V3_OCT_2023["WETH"], "USDC": AAVE_V3_OCT_2023["USDC"]})
    history = build_history(inputs, CONFIG)
    assert history.positions["ETH"].tokens.tolist() == [10.0]
    assert history.positions["ETH"].effective_debt_usd.tolist() == pytest.approx([14_200.0], abs=1e-9)
    # B: 3,000 of debt, no ETH; for USDC its effective debt is 3,000 (no other collateral).
    assert history.positions["USDC"].tokens.tolist() == [5_000.0]
    assert history.positions["USDC"].effective_debt_usd.tolist() == pytest.approx([3_000.0], abs=1e-9)


def test_depth_from_pair_reserves():
    """1,000 tokens in the pair at 2,000 USD, 2% slippage: 1,000 x 0.02 / 0.98 x 2,000 = 40,816.33."""
    assert constant_product_depth_usd(1_000.0, 2_000.0, 0.02) == pytest.approx(40_816.3265306, rel=1e-12)


def _inputs() -> DecisionInputs:
    series = synthetic_eth(seed=5, hours=CONFIG.window.history_hours + 48)
    return decision_inputs([series], synthetic_as_of(series), supplied_tokens=5e5, borrowed_tokens=2e5)


def test_canonical_bytes_round_trip_and_hash_once():
    inputs = _inputs()
    data = encode_inputs(inputs)
    again = decode_inputs(data)
    assert encode_inputs(again) == data
    assert again.asset("ETH").price_observations()[1].tolist() == inputs.asset("ETH").price_observations()[1].tolist()
    assert again.anchor == inputs.anchor


def test_canonical_bytes_equal_the_plain_construction():
    """The encoding writes each typed array once into a bytearray and passes round-id tuples
    as they are; the bytes equal cbor2 over the plain value (`np.asarray(v, ">f8").tobytes()`,
    lists): with positions, keys as a tuple, as a list, empty, and round ids past 2^64
    (Chainlink's phase << 64, encoded as bignums), an empty series, a bound's pending state."""
    import cbor2

    from strategies.bounds import ParamState
    from strategies.inputs import INPUTS_VERSION, TAG_FLOAT64_BE, TAG_SINT64_BE, AssetInputs, PairReserves
    from strategies.params import REGISTRY

    base = _inputs()
    eth = base.asset("ETH")
    times, prices = eth.price_observations()
    phase = 3 << 64
    segments = (Observations("backfill", times[:100], prices[:100], ()),
                Observations("feed:ETH", times[100:], prices[100:], [phase + i for i in range(len(times) - 100)]))
    bounds = replace(eth.bounds, state={**eth.bounds.state, Param.LTV: ParamState(1_700_000_000, 1_700_086_400)})
    other = AssetInputs("BTC", "0x" + "22" * 20, 8, AAVE_V3_OCT_2023["WBTC"], 10.0, 1.0,
                        (Observations("feed:BTC", times[-50:], prices[-50:] * 20, tuple(range(50))),),
                        PairReserves("config", fallback_depth_usd=1e6), eth.bounds,
                        Observations.empty("reserve:BTC"))
    positions = PositionBook("book", ("0x01", "0x02"), {"ETH": np.array([1.5, 0.0]), "BTC": np.array([0.0, 2.0])},
                             np.array([100.0, 2e4]))
    inputs = replace(base, assets=(replace(eth, prices=segments, bounds=bounds), other), positions=positions)

    def plain_obs(o):
        return {"source": o.source, "t": cbor2.CBORTag(TAG_SINT64_BE, np.asarray(o.timestamps_s, dtype=">i8").tobytes()),
                "v": cbor2.CBORTag(TAG_FLOAT64_BE, np.asarray(o.values, dtype=">f8").tobytes()), "keys": list(o.keys)}

    def plain_bounds(b):
        return {"limits": {p.name: [x.cooldown_seconds, x.max_change, x.is_relative, x.floor, x.ceiling]
                           for p, x in sorted(b.limits.items())},
                "state": {p.name: [x.last_executed_at, x.pending_ready_at] for p, x in sorted(b.state.items())
                          if x != ParamState()},
                "execution_window_s": b.execution_window_s}

    plain = {
        "version": INPUTS_VERSION, "chain_id": inputs.chain_id, "steward": inputs.steward,
        "enclave_nonce": inputs.enclave_nonce,
        "anchor": {"block": inputs.anchor.block_number, "hash": inputs.anchor.block_hash,
                   "timestamp": inputs.anchor.timestamp_s},
        "assets": [{"symbol": a.symbol, "address": a.address, "decimals": a.decimals,
                    "params": [getattr(a.params, spec.field) for spec in REGISTRY],
                    "supplied_tokens": float(a.supplied_tokens), "borrowed_tokens": float(a.borrowed_tokens),
                    "prices": [plain_obs(o) for o in a.prices],
                    "utilization": plain_obs(a.utilization) if a.utilization is not None else None,
                    "pair": {"source": a.pair.source, "asset_reserve": float(a.pair.asset_reserve_tokens),
                             "quote_reserve": float(a.pair.quote_reserve_tokens), "quote": a.pair.quote_symbol,
                             "fallback_depth_usd": float(a.pair.fallback_depth_usd)},
                    "bounds": plain_bounds(a.bounds)} for a in inputs.assets],
        "positions": {"source": positions.source, "accounts": list(positions.accounts),
                      "collateral": {k: cbor2.CBORTag(TAG_FLOAT64_BE, np.asarray(v, dtype=">f8").tobytes())
                                     for k, v in positions.collateral_tokens.items()},
                      "debt_usd": cbor2.CBORTag(TAG_FLOAT64_BE, np.asarray(positions.debt_usd, dtype=">f8").tobytes())},
    }
    data = encode_inputs(inputs)
    assert data == cbor2.dumps(plain, canonical=True)
    assert decode_inputs(data).asset("ETH").prices[1].keys[-1] == phase + len(times) - 101


def test_the_window_keeps_observations_after_its_oldest_carry_only():
    """The builder looks at prints later than window start - (1 + max_carry) hours: a bad
    print (0.0) exactly there is outside (not counted), one a second later is inside (counted
    and named)."""
    inputs = _inputs()
    eth = inputs.asset("ETH")
    times, prices = eth.price_observations()
    window = CONFIG.window
    edge = inputs.as_of_s - window.history_hours * HOUR_S - (1 + window.max_carry_hours) * HOUR_S
    for bad_at, counted in ((edge, 0), (edge + 1, 1)):
        keep = (times < edge - 10) | (times > edge + 10)
        t = np.concatenate([times[keep & (times < edge)], [bad_at], times[keep & (times > edge)]])
        v = np.concatenate([prices[keep & (times < edge)], [0.0], prices[keep & (times > edge)]])
        altered = replace(inputs, assets=(replace(eth, prices=(Observations("feed", t, v),)),))
        asset = build_history(altered, CONFIG).asset("ETH")
        assert asset.invalid_observations == counted
        assert asset.first_invalid_s == (bad_at if counted else None)
        assert asset.last_price_usd == float(v[-1])


def test_every_series_on_the_decisions_one_grid_of_marks():
    """build_history makes the marks once for all series: each asset's prices and utilization
    are what hourly_grid makes of them alone (values, carried hours, gaps), here with gaps,
    prints at odd seconds and a utilization read every 90 minutes."""
    inputs = _inputs()
    eth = inputs.asset("ETH")
    times, prices = eth.price_observations()
    keep = np.ones(len(times), dtype=bool)
    keep[-200:-150] = False  # a gap of about 50 hours inside the window
    times, prices = times[keep] - 17, prices[keep]  # prints 17 s before their hours
    utilization = Observations("reserve", np.arange(times[0], times[-1], 5_400), np.linspace(0.2, 0.9, len(
        np.arange(times[0], times[-1], 5_400))))
    altered = replace(inputs, assets=(replace(eth, prices=(Observations("feed", times, prices),),
                                              utilization=utilization),))
    asset = build_history(altered, CONFIG).asset("ETH")
    window = CONFIG.window
    alone = hourly_grid(times, prices, altered.as_of_s, window.history_hours, window.max_carry_hours)
    assert asset.prices_usd.tobytes() == alone.values.tobytes()
    assert (asset.carried_hours, asset.gaps) == (alone.carried_hours, alone.gaps) and alone.gaps
    util = hourly_grid(utilization.timestamps_s, utilization.values, altered.as_of_s, window.history_hours,
                       window.utilization_max_carry_hours)
    assert asset.utilization.tobytes() == util.values.tobytes() and util.carried_hours > 0


def test_another_encoding_of_the_same_values_is_refused():
    """Same values, keys in insertion order instead of canonical order: a second inputs hash
    for one decision would be possible, so the decoder refuses it."""
    value = cbor2.loads(encode_inputs(_inputs()))
    reordered = cbor2.dumps(dict(reversed(list(value.items()))))
    with pytest.raises(InputsError, match="not in canonical form"):
        decode_inputs(reordered)


@pytest.mark.parametrize("mutate, message", [
    (lambda v: v.pop("anchor"), "inputs.anchor is missing"),
    (lambda v: v["anchor"].__setitem__("hash", b"\x00" * 31), "32 bytes"),
    (lambda v: v["assets"][0].__setitem__("params", [1, 2, 3]), "must be 10 integers"),
    (lambda v: v["assets"][0]["prices"][0].__setitem__("t", [1, 2]), r"prices\[0\]\.t has the wrong type"),
    (lambda v: v.__setitem__("version", 2), "version must be 1"),
])
def test_malformed_inputs_are_refused_with_the_field_named(mutate, message):
    value = cbor2.loads(encode_inputs(_inputs()))
    mutate(value)
    with pytest.raises(InputsError, match=message):
        decode_inputs(cbor2.dumps(value, canonical=True))


def test_observations_after_the_anchor_time_are_refused():
    inputs = _inputs()
    asset = inputs.assets[0]
    times, values = asset.price_observations()
    future = Observations("test", np.append(times, inputs.as_of_s + 1), np.append(values, values[-1]))
    bad = replace(inputs, assets=(replace(asset, prices=(future,)),))
    with pytest.raises(InputsError, match="after the anchor block's time"):
        build_history(bad, CONFIG)
    with pytest.raises(InputsError, match="after the anchor block's time"):
        decode_inputs(encode_inputs(bad))


def test_segments_must_follow_each_other():
    """A backfill segment that ends after the chain segment starts is refused."""
    inputs = _inputs()
    times, values = inputs.assets[0].price_observations()
    first = Observations("backfill", times[:100], values[:100])
    second = Observations("feed", times[50:], values[50:])
    bad = replace(inputs, assets=(replace(inputs.assets[0], prices=(first, second)),))
    with pytest.raises(InputsError, match="out of order"):
        build_history(bad, CONFIG)


def test_decision_names_the_config_and_inputs_it_came_from():
    inputs = _inputs()
    recommendation = recommend(inputs, CONFIG)
    assert recommendation.config_hash == default_config().config_hash_hex
    assert recommendation.inputs_hash == inputs.inputs_hash.hex()


def test_marks_are_utc_hours_and_the_anchor_itself():
    """as_of 10:30 UTC: the marks are ..., 09:00, 10:00 and 10:30 (a partial last hour); on an
    hour mark, just the hours. A day's marks stay the same from one hourly decision to the next."""
    from strategies.inputs import hour_marks

    day = 1_700_006_400 - 1_700_006_400 % 86_400
    assert (hour_marks(day + 10 * 3_600 + 1_800, 3) == [day + 9 * 3_600, day + 10 * 3_600, day + 10 * 3_600 + 1_800]).all()
    assert (hour_marks(day + 10 * 3_600, 3) == [day + 8 * 3_600, day + 9 * 3_600, day + 10 * 3_600]).all()
    assert set(hour_marks(day + 11 * 3_600 + 60, 30)[:-1]) <= set(hour_marks(day + 12 * 3_600 + 600, 31)[:-1])
