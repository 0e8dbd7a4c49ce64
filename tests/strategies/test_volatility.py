"""Volatility forecasts: hand-derived values, no look-ahead, every hyperparameter taken from the
config, and the fast forms equal to their straightforward forms bit for bit (the EWMA loop,
arch's GARCH fit and forecast, scikit-learn's LinearRegression, the per-row HAR features and
the original selection loop, all kept here as references). Seeded synthetic paths only."""

from __future__ import annotations

import math
import warnings
from dataclasses import replace

import numpy as np
import pytest
from arch import arch_model
from sklearn.linear_model import LinearRegression

from backtests.data import synthetic_garch
from strategies.config import default_config
from strategies.volatility import (
    DEFAULT_VOLATILITY,
    DailyFitCache,
    _DayDigests,
    _holdout_realized,
    _squares_by_pow,
    EwmaVolatility,
    GarchVolatility,
    HarVolatility,
    _daily_realized_vol,
    ewma_sigma_series,
    garch11_fit,
    garch11_one_step_variance,
    har_features,
    least_squares_fit,
    select_and_forecast,
    select_and_forecast_daily,
    winsorize,
)

HOURS_100_DAYS = 24 * 100 + 1


def garch_returns(seed: int, hours: int = HOURS_100_DAYS) -> np.ndarray:
    prices = synthetic_garch(hours, seed=seed, alpha=0.1, beta=0.85).prices_usd.to_numpy()
    return np.diff(np.log(prices))


# ------------------------------------------------------------------ references (the straightforward forms)


def reference_ewma_sigma_series(returns, decay, warmup, winsorize_k):
    variance = np.empty(len(returns))
    variance[0] = max(float(np.var(returns[:warmup])), 1e-12)
    clipped = winsorize(returns, winsorize_k)
    for t in range(1, len(returns)):
        variance[t] = decay * variance[t - 1] + (1 - decay) * clipped[t - 1] ** 2
    return np.sqrt(variance)


def reference_garch_forecast(returns, max_hours=24 * 180):
    sample = returns[-max_hours:] * 100
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = arch_model(sample, mean="Zero", vol="GARCH", p=1, q=1, rescale=False)
        result = model.fit(disp="off", show_warning=False)
    variance = result.forecast(horizon=1, reindex=False).variance.values[-1]
    return float(np.sqrt(np.mean(variance)) / 100), np.asarray(result.params)


def reference_har_features(daily_rv):
    rows, targets = [], []
    for t in range(30, len(daily_rv)):
        rows.append([daily_rv[t - 1], daily_rv[t - 7 : t].mean(), daily_rv[t - 30 : t].mean()])
        targets.append(daily_rv[t])
    return np.array(rows), np.array(targets)


def reference_har_forecast(returns, min_days=45):
    daily_rv = _daily_realized_vol(returns)
    if len(daily_rv) < min_days:
        return EwmaVolatility().forecast_hourly(returns)
    features, targets = reference_har_features(daily_rv)
    model = LinearRegression().fit(features, targets)
    latest = np.array([[daily_rv[-1], daily_rv[-7:].mean(), daily_rv[-30:].mean()]])
    return float(max(model.predict(latest)[0], 1e-6) / np.sqrt(24))


def reference_select_and_forecast(returns):
    """main @bcaf696's selection, as it was."""
    returns = winsorize(returns, 12.0)
    if len(returns) // 24 < 30 + 45:
        return EwmaVolatility().forecast_hourly(returns), "ewma", {}
    errors = {"ewma": [], "garch": [], "har": []}
    garch_sigma = 0.0
    for day in range(30, 0, -1):
        end = len(returns) - day * 24
        train = returns[:end]
        realized = float(np.sqrt(np.sum(returns[end : end + 24] ** 2)))
        if day % 7 == 0 or garch_sigma == 0.0:
            garch_sigma = reference_garch_forecast(train)[0]
        forecasts = {"ewma": EwmaVolatility().forecast_hourly(train), "garch": garch_sigma,
                     "har": reference_har_forecast(train)}
        for name, hourly in forecasts.items():
            errors[name].append((hourly * np.sqrt(24) - realized) ** 2)
    rmse = {name: float(np.sqrt(np.mean(values))) for name, values in errors.items()}
    best = min(sorted(rmse), key=lambda name: rmse[name])
    final = {"ewma": lambda: EwmaVolatility().forecast_hourly(returns),
             "garch": lambda: reference_garch_forecast(returns)[0],
             "har": lambda: reference_har_forecast(returns)}[best]()
    return final, best, rmse


# ------------------------------------------------------------------ EWMA


def test_ewma_series_on_three_returns_matches_the_hand_computation():
    """returns 0.01, -0.02, 0.03; decay 0.5; warmup 2 (variance of the first two returns).
    No clipping: median 0.01, absolute deviations 0, 0.03, 0.02, MAD sigma 1.4826 x 0.02 =
    0.0297, so the bounds are 0.01 +- 12 x 0.0297.
    v0 = var(0.01, -0.02) = (0.015^2 + 0.015^2) / 2 = 0.000225
    v1 = 0.5 x v0 + 0.5 x 0.01^2 = 0.0001125 + 0.00005 = 0.0001625
    v2 = 0.5 x v1 + 0.5 x (-0.02)^2 = 0.00008125 + 0.0002 = 0.00028125; sigma = sqrt(v).
    The last return (0.03) only enters the next, unreturned, forecast."""
    sigma = ewma_sigma_series(np.array([0.01, -0.02, 0.03]), decay=0.5, warmup=2, winsorize_k=12.0)
    assert sigma == pytest.approx([math.sqrt(0.000225), math.sqrt(0.0001625), math.sqrt(0.00028125)], rel=1e-12)


def test_ewma_series_floor_and_single_return():
    """A constant zero warm-up gives variance 0, floored at 1e-12 (sigma 1e-6)."""
    assert ewma_sigma_series(np.zeros(1)).tolist() == [1e-6]
    assert len(ewma_sigma_series(np.zeros(0))) == 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ewma_series_by_linear_filter_equals_the_loop_bit_for_bit(seed):
    """Includes a spike (clipped) and enough values that numpy's array square and C pow differ
    somewhere (about one value in 3,000), which the filter must reproduce as the loop does (a
    fast decay makes each square weigh enough for that last bit to show in the variance)."""
    returns = garch_returns(seed, hours=24 * 200)
    returns[500] = 0.5
    for decay, warmup, k in ((0.9975, 720, 12.0), (0.97, 24, 4.0), (0.5, 24, 12.0)):
        fast = ewma_sigma_series(returns, decay, warmup, k)
        assert fast.tobytes() == reference_ewma_sigma_series(returns, decay, warmup, k).tobytes()


def test_squares_by_pow_are_python_float_powers_bit_for_bit():
    """numpy's object power runs Python's `value ** 2` on each value: the same doubles as
    the list loop, including where C `pow` and the correctly rounded `x * x` differ (the
    sample holds such values), for negative values, zeros and no values at all."""
    values = np.random.default_rng(5).standard_normal(20_000) * 0.01
    values[:4] = [0.0, -0.0, -0.5, 3.0]
    expected = np.array([value ** 2 for value in values.tolist()])
    assert _squares_by_pow(values).tobytes() == expected.tobytes()
    assert (expected != values * values).any()  # the case the object loop is there for
    assert _squares_by_pow(values[::3]).tobytes() == expected[::3].tobytes()
    assert _squares_by_pow(np.zeros(0)).dtype == np.float64 and len(_squares_by_pow(np.zeros(0))) == 0


def test_ewma_series_has_no_look_ahead():
    """sigma[t] forecasts return t from returns before t: changing returns from t on leaves
    sigma[:t+1] unchanged (winsorizing bounds held fixed by keeping k huge)."""
    returns = garch_returns(4, hours=2_000)
    changed = returns.copy()
    changed[1_500:] *= 5
    a = ewma_sigma_series(returns, 0.99, 720, 1e9)
    b = ewma_sigma_series(changed, 0.99, 720, 1e9)
    assert a[:1_501].tobytes() == b[:1_501].tobytes()
    assert a[1_501] != b[1_501]


# ------------------------------------------------------------------ GARCH


@pytest.mark.parametrize("seed", [5, 7])
def test_garch_fit_and_forecast_equal_arch_bit_for_bit(seed):
    returns = garch_returns(seed, hours=24 * 90)
    expected_sigma, expected_params = reference_garch_forecast(returns)
    params = garch11_fit(returns * 100)
    assert params.tobytes() == expected_params.tobytes()
    assert GarchVolatility().forecast_hourly(returns) == expected_sigma
    assert math.sqrt(garch11_one_step_variance(returns * 100, params)) / 100 == expected_sigma


def test_garch_fits_at_most_max_hours():
    """max_hours = 500: the forecast is the fit of the last 500 returns alone."""
    returns = garch_returns(8, hours=1_500)
    assert GarchVolatility(max_hours=500).forecast_hourly(returns) == GarchVolatility().forecast_hourly(returns[-500:])
    assert GarchVolatility(max_hours=500).forecast_hourly(returns) != GarchVolatility().forecast_hourly(returns)


# ------------------------------------------------------------------ HAR


def test_har_features_on_a_ramp_match_the_hand_computation():
    """daily RV 1, 2, ..., 32: the rows are t = 30, 31: yesterday's RV (30, 31), the mean of
    the last 7 days ((24+...+30)/7 = 27, 28) and of the last 30 days ((1+...+30)/30 = 15.5,
    16.5); targets are days 30 and 31 (values 31, 32)."""
    features, targets = har_features(np.arange(1.0, 33.0))
    assert features.tolist() == [[30.0, 27.0, 15.5], [31.0, 28.0, 16.5]]
    assert targets.tolist() == [31.0, 32.0]


@pytest.mark.parametrize("seed", [1, 6])
def test_har_features_and_least_squares_equal_the_loop_and_scikit_learn(seed):
    daily_rv = _daily_realized_vol(garch_returns(seed, hours=24 * 120))
    features, targets = har_features(daily_rv)
    expected_features, expected_targets = reference_har_features(daily_rv)
    assert features.tobytes() == expected_features.tobytes() and targets.tobytes() == expected_targets.tobytes()
    model = LinearRegression().fit(expected_features, expected_targets)
    coefficients, intercept = least_squares_fit(features, targets)
    assert coefficients.tobytes() == model.coef_.tobytes() and intercept == model.intercept_
    latest = features[-1:]
    assert (latest @ coefficients + intercept)[0] == model.predict(latest)[0]


def test_har_forecast_equals_reference_and_falls_back_to_ewma_below_min_days():
    returns = garch_returns(6)
    assert HarVolatility().forecast_hourly(returns) == reference_har_forecast(returns)
    short = returns[: 24 * 40]
    assert HarVolatility().forecast_hourly(short) == EwmaVolatility().forecast_hourly(short)
    assert HarVolatility(min_days=200).forecast_hourly(returns) == EwmaVolatility().forecast_hourly(returns)


# ------------------------------------------------------------------ selection


@pytest.mark.parametrize(("seed", "model"), [(0, "ewma"), (7, "garch"), (6, "har")])
def test_selection_equals_the_original_loop_for_each_winner(seed, model):
    returns = garch_returns(seed)
    forecast = select_and_forecast(returns, default_config().volatility)
    sigma, best, rmse = reference_select_and_forecast(returns)
    assert (forecast.model, forecast.hourly_sigma, forecast.oos_errors) == (best, sigma, rmse)
    assert forecast.model == model


def test_short_history_uses_ewma_with_the_configured_decay():
    """74 days < holdout 30 + HAR 45: no selection, EWMA on all (winsorized) returns."""
    returns = garch_returns(3, hours=24 * 74 + 1)
    config = replace(DEFAULT_VOLATILITY, ewma_decay_per_hour=0.9)
    forecast = select_and_forecast(returns, config)
    assert (forecast.model, forecast.oos_errors) == ("ewma", {})
    assert forecast.hourly_sigma == EwmaVolatility(decay_per_hour=0.9).forecast_hourly(winsorize(returns, 12.0))
    assert forecast.hourly_sigma != select_and_forecast(returns, DEFAULT_VOLATILITY).hourly_sigma


def test_every_volatility_hyperparameter_reaches_the_forecast():
    """The measured config's values are the defaults; changing any one changes the outcome."""
    returns = garch_returns(7)
    returns[-100] = 0.2  # a spike the winsorizing bounds decide about
    base = select_and_forecast(returns, DEFAULT_VOLATILITY)
    assert select_and_forecast(returns, default_config().volatility) == base
    for change in ({"selection_holdout_days": 20}, {"har_min_days": 80}, {"garch_max_hours": 24 * 50},
                   {"ewma_decay_per_hour": 0.99}, {"winsorize_robust_sigmas": 3.0}):
        assert select_and_forecast(returns, replace(DEFAULT_VOLATILITY, **change)) != base, change


def test_selection_needs_holdout_plus_har_days_of_history():
    """66 days: enough for a 20-day holdout (20 + 45 = 65 days), not for the 30-day one (75)."""
    returns = garch_returns(7, hours=24 * 66 + 1)
    assert set(select_and_forecast(returns, replace(DEFAULT_VOLATILITY, selection_holdout_days=20)).oos_errors) == {
        "ewma", "garch", "har"}
    assert select_and_forecast(returns, DEFAULT_VOLATILITY).oos_errors == {}


# ------------------------------------------------------------------ day-anchored selection (proposal)

DAY_S = 86_400
MIDNIGHT_S = 1_717_200_000  # a UTC midnight (19,875 days after 1970-01-01)
WINDOW_HOURS = 2_880


def hourly_grid_at(prices: np.ndarray, hours_after: int) -> tuple[np.ndarray, int]:
    """The 120-day grid ending `hours_after` hours after MIDNIGHT_S (prices[i] at hour i of a
    path whose hour WINDOW_HOURS - 1 is the midnight), and its as_of."""
    end = WINDOW_HOURS + hours_after
    return prices[end - WINDOW_HOURS : end], MIDNIGHT_S + hours_after * 3_600


def test_daily_selection_is_the_same_from_an_empty_or_a_warm_cache():
    """The cache is only a cache: a fresh process (empty cache) gives the same forecast as a
    service that decided an hour earlier, bit for bit."""
    prices = synthetic_garch(WINDOW_HOURS + 48, seed=7, alpha=0.1, beta=0.85).prices_usd.to_numpy()
    warm = DailyFitCache()
    select_and_forecast_daily(*hourly_grid_at(prices, 4), DEFAULT_VOLATILITY, warm)
    from_warm = select_and_forecast_daily(*hourly_grid_at(prices, 5), DEFAULT_VOLATILITY, warm)
    from_cold = select_and_forecast_daily(*hourly_grid_at(prices, 5), DEFAULT_VOLATILITY, DailyFitCache())
    assert from_warm == from_cold
    assert from_warm.model in {"ewma", "garch", "har"} and set(from_warm.oos_errors) == {"ewma", "garch", "har"}


def test_daily_fits_are_computed_once_per_utc_day_and_garch_once_per_week():
    """MIDNIGHT_S is day 19,875 (19,875 % 7 = 2). The first decision computes 31 daily
    records (days 19,845..19,875) and the GARCH fits of the weeks they fall in, which start
    on days 19,845, 19,852, 19,859, 19,866 and 19,873 (divisible by 7): 36. The rest of the
    day reuses them all; day 19,876 adds its daily record (its week's GARCH is known): 37;
    day 19,880 starts a week: its record and a GARCH fit, and the days 19,877-19,879 between
    add three records: 42."""
    prices = synthetic_garch(WINDOW_HOURS + 24 * 6, seed=8, alpha=0.1, beta=0.85).prices_usd.to_numpy()
    cache = DailyFitCache()
    select_and_forecast_daily(*hourly_grid_at(prices, 1), DEFAULT_VOLATILITY, cache)
    assert (cache.misses, cache.hits) == (36, 26)  # a week's GARCH fit is found again by later days
    for hours_after in range(2, 24):
        select_and_forecast_daily(*hourly_grid_at(prices, hours_after), DEFAULT_VOLATILITY, cache)
    assert cache.misses == 36
    select_and_forecast_daily(*hourly_grid_at(prices, 24), DEFAULT_VOLATILITY, cache)
    assert cache.misses == 37
    select_and_forecast_daily(*hourly_grid_at(prices, 5 * 24), DEFAULT_VOLATILITY, cache)
    assert cache.misses == 42


def test_daily_fits_use_data_before_their_boundary_only():
    """Prices after the last midnight change the forecast (filtered forward), never a fit:
    the second decision finds every span in the cache."""
    prices = synthetic_garch(WINDOW_HOURS + 48, seed=9, alpha=0.1, beta=0.85).prices_usd.to_numpy()
    grid, as_of = hourly_grid_at(prices, 6)
    shocked = grid.copy()
    shocked[-6:] *= np.exp(np.linspace(0.01, 0.3, 6))
    cache = DailyFitCache()
    before = select_and_forecast_daily(grid, as_of, DEFAULT_VOLATILITY, cache)
    after = select_and_forecast_daily(shocked, as_of, DEFAULT_VOLATILITY, cache)
    assert cache.misses == 36 and after.oos_errors == before.oos_errors
    assert after.hourly_sigma > before.hourly_sigma


def test_daily_selection_falls_back_to_ewma_on_short_history():
    prices = synthetic_garch(24 * 70, seed=2).prices_usd.to_numpy()
    grid = np.concatenate([np.full(WINDOW_HOURS - len(prices), np.nan), prices])
    forecast = select_and_forecast_daily(grid, MIDNIGHT_S, DEFAULT_VOLATILITY, DailyFitCache())
    returns = np.diff(np.log(prices))
    assert (forecast.model, forecast.oos_errors) == ("ewma", {})
    assert forecast.hourly_sigma == EwmaVolatility().forecast_hourly(winsorize(returns, 12.0))


def _realized_day_by_day(returns, start, bounds):
    """The holdout loop as `select_and_forecast_daily` ran it before the days became rows."""
    out = []
    for i, (lower, upper) in enumerate(bounds):
        following = returns[start + 24 * i : start + 24 * i + 24]
        out.append(float(np.sqrt(np.sum(np.clip(following[np.isfinite(following)], lower, upper) ** 2))))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_holdout_days_as_rows_equal_the_day_by_day_loop(seed):
    """30 days of returns whose magnitudes span 16 orders (any other order of additions
    shows in the last bits), clipped with each day's own bounds (some infinite): the rows'
    realized volatilities equal the day-by-day loop's exactly; with a NaN in a day (the loop
    itself) and with the holdout starting before the data (negative slices, as the loop
    took them) too."""
    rng = np.random.default_rng(seed)
    returns = rng.standard_normal(24 * 40) * 10.0 ** rng.integers(-9, 7, 24 * 40)
    bounds = [(-np.inf, np.inf) if i % 7 == 0 else tuple(sorted(rng.normal(0, 3, 2))) for i in range(30)]
    start = 24 * 40 - 24 * 30 - int(rng.integers(0, 24))
    got = _holdout_realized(returns, start, bounds)
    assert [v.hex() for v in got] == [v.hex() for v in _realized_day_by_day(returns, start, bounds)]
    gapped = returns.copy()
    gapped[start + 24 * 3 + 5] = np.nan
    assert _holdout_realized(gapped, start, bounds) == _realized_day_by_day(gapped, start, bounds)
    assert _holdout_realized(returns, -30, bounds[:2]) == _realized_day_by_day(returns, -30, bounds[:2])


def test_ewma_series_from_the_callers_winsorized_returns_is_the_same():
    """`clipped=` is `winsorize(returns, k)` computed once by the strategy: same bytes."""
    returns = garch_returns(3, hours=24 * 60)
    returns[100] = 0.8  # a bad print, clipped
    own = ewma_sigma_series(returns, 0.9975, 720, 12.0)
    given = ewma_sigma_series(returns, 0.9975, 720, 12.0, clipped=winsorize(returns, 12.0))
    assert own.tobytes() == given.tobytes()


def test_span_keys_from_day_digests_name_the_span_content():
    """The same span (same absolute hours) in two windows an hour apart has one key; a
    change of one value in its head or in one of its days changes the key, a change outside
    it does not; spans that start before the data or end off a day boundary get None (then
    hashed whole). 100 days of returns, spans of 50 days and 7 hours."""
    returns = garch_returns(4, hours=24 * 100 + 5)
    span_hours = 24 * 50 + 7
    last = len(returns) - 5  # returns[:last] end at a day boundary
    keys = _DayDigests(returns, last, span_hours)
    later = _DayDigests(returns[1:], last - 1, span_hours)  # the window an hour later starts an hour later
    for days_back in (0, 3, 30):
        end = last - 24 * days_back
        assert keys.digest(end) == later.digest(end - 1) is not None
    end = last - 24 * 10
    for changed_at, inside in ((end - span_hours, True), (end - span_hours + 7, True), (end - 1, True),
                               (end, False), (end - span_hours - 1, False)):
        altered = returns.copy()
        altered[changed_at] += 1e-12
        assert (_DayDigests(altered, last, span_hours).digest(end) != keys.digest(end)) == inside
    assert keys.digest(last - 24 * 60) is None  # would start before the data
    assert keys.digest(last - 5) is None  # not a day boundary
