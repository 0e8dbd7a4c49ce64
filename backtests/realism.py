"""The simulator against real liquidations: Aave v2's WETH-collateral liquidations
(2020-12 to 2022-04, ../shared/data/lending) against the engine with market dynamics on the
same prices, static Aave v2 parameters, the WETH reserve's own size and the bundled DEX depth.

Real volume: each event's `collateralAmount` in tokens (raw amounts / 10^decimals, decimals
from the reserve config file; from July 2021 the file's amounts are already in tokens, see
`collateral_tokens`) times the ETH price of its hour (the bundled CoinGecko WETH series; the
file's USD columns are incomplete). Simulated volume: the collateral value the engine's liquidators
seized each hour. Compared by day: Spearman rank correlation over every day of the window,
the ratio of simulated to real on 2021-05-19 and 2022-01-21, and over the whole window.

The re-leverage speed, the one market-dynamics rate the aggregate data cannot give directly,
is matched by simulation (`calibrate_relever_speed`): the speed whose simulated daily debt
response to the ETH return equals the data's.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from backtests.baselines import v2_params
from backtests.data import DATA_DIR, load_aave_hourly, load_bundled
from backtests.market_dynamics import BorrowerDynamics, DynamicsFit, dex_depth_hourly, dex_depth_series, fit_dynamics
from backtests.simulator import MarketPath, SimulationConfig, simulate
from strategies.params import Param

START, END = "2021-01-01", "2022-04-01"
FIT_END = "2021-08-31"  # the leveraged share is fitted on the days up to here; later days are the check
DAYS_OF_INTEREST = ("2021-05-19", "2022-01-21")
FALLBACK_DEPTH_USD = 20e6
POSITIONS = 1_000


def real_daily_liquidations(symbol: str, eth_hourly: pd.Series, data_dir: Path = DATA_DIR) -> pd.Series:
    """USD of `symbol` collateral seized per UTC day by Aave v2 liquidations (ETH-priced
    collateral: WETH)."""
    events = pd.read_csv(data_dir / "lending" / "aave_v2_liquidations_2020-12_2022-04.csv",
                         usecols=["collateralAmount", "collateralReserve", "timestamp"])
    config = pd.read_csv(data_dir / "lending" / "aave_v2_reserve_tokens_config.csv", usecols=["symbol", "decimals"])
    decimals = int(config.loc[config["symbol"] == symbol, "decimals"].iloc[0])
    mine = events[events["collateralReserve"] == symbol]
    times = pd.to_datetime(mine["timestamp"].astype("int64"), unit="s", utc=True)
    tokens = collateral_tokens(mine["collateralAmount"].astype(float).to_numpy(), decimals)
    price = eth_hourly.reindex(times.dt.floor("h"), method="ffill").to_numpy()
    usd = pd.Series(tokens * price, index=times.to_numpy())
    return usd.groupby(usd.index.floor("D")).sum()


def collateral_tokens(amounts: np.ndarray, decimals: int) -> np.ndarray:
    """Token amounts from the file's `collateralAmount`. The file mixes units: raw integer
    amounts until July 2021, then amounts with the decimals already applied (WETH: 1e14-1e21
    before, 1e-5-1e3 after, nothing in between). An amount of at least 10^(decimals/2) is raw
    (for 18 decimals: a billionth of a token would be dust, a billion tokens impossible)."""
    raw = amounts >= 10 ** (decimals / 2)
    return np.where(raw, amounts / 10**decimals, amounts)


@dataclass(frozen=True)
class MarketSetup:
    path: MarketPath
    initial_tokens: float
    depth_fallback_hours: int


def weth_market(data_dir: Path = DATA_DIR, start: str = START, end: str = END, leveraged_share: float = 1.0) -> MarketSetup:
    """Hourly WETH prices, the Aave v2 WETH reserve's token balance to track (times the share
    of it borrowed against like the simulated book), DEX depth."""
    prices = load_bundled("WETH", data_dir).prices_usd.resample("1h").last().ffill().loc[start:end]
    stamps = np.asarray(prices.index.as_unit("s").asi8, dtype=np.int64)
    reserve = load_aave_hourly(data_dir / "lending" / "aave_hourly" / "aave_v2_weth_eth_to-2023-02.parquet")
    reserve = reserve.tz_localize("UTC") if reserve.index.tz is None else reserve
    balance = leveraged_share * (reserve["token_balance"].astype(float) / 1e18).reindex(prices.index, method="ffill").to_numpy()
    depth, fallback = dex_depth_hourly(stamps, dex_depth_series("WETH", data_dir), FALLBACK_DEPTH_USD)
    path = MarketPath("WETH", stamps, prices.to_numpy(dtype=float), FALLBACK_DEPTH_USD, depth_usd=depth,
                      target_tokens=balance)
    return MarketSetup(path, float(balance[0]), fallback)


def book_hhi(positions: int = POSITIONS, seed: int = 1) -> float:
    """Herfindahl index of the engine's initial book (Pareto 1.3 sizes, `make_population`)."""
    rng = np.random.default_rng(seed)
    rng.lognormal(np.log(0.45), 0.7, positions)  # the health draw comes first there
    sizes = rng.pareto(1.3, positions) + 1
    shares = sizes / sizes.sum()
    return float(np.sum(shares**2))


# The re-leverage speed the calibration settles on (`compare`: the speed whose simulated daily
# debt response matches the real one); backtests use it by default.
RELEVER_SPEED_PER_HOUR = 0.02


def dynamics_from(fit: DynamicsFit, relever_speed: float, gas_usd: float = 50.0) -> BorrowerDynamics:
    return BorrowerDynamics(leave_hazard_per_hour=fit.leave_hazard_per_day / 24, growth_per_hour=0.0,
                            relever_band=0.25, relever_speed_per_hour=relever_speed,
                            rate_semi_elasticity_per_pp_day=fit.rate_semi_elasticity.value / 100,  # % -> fraction
                            gas_usd_per_liquidation=gas_usd)


def _static_run(setup: MarketSetup, dynamics: BorrowerDynamics, seed: int = 1):
    params = v2_params("WETH").with_changes({Param.SUPPLY_CAP: 0, Param.BORROW_CAP: 0})  # v2 had no caps
    config = SimulationConfig(positions_per_asset=POSITIONS, warmup_hours=0, start_hour=0, seed=seed,
                              total_collateral_usd_per_asset=setup.initial_tokens * float(setup.path.prices_usd[0]),
                              dynamics=dynamics)
    return simulate([setup.path], {"WETH": params}, None, config)


def debt_response(result, prices: np.ndarray) -> float:
    """Slope of the simulated daily change of log total debt on the daily ETH log return."""
    debt = np.asarray(result.series["total_debt_usd"])
    days = len(debt) // 24
    daily_debt = np.log(np.maximum(debt[23::24][:days], 1.0))
    daily_price = np.log(prices[23::24][:days])
    return float(stats.linregress(np.diff(daily_price), np.diff(daily_debt)).slope)


def calibrate_relever_speed(setup: MarketSetup, fit: DynamicsFit, speeds: tuple[float, ...]) -> dict[float, float]:
    """Simulated debt response for each speed (without churn's noise: the response to price)."""
    return {speed: debt_response(_static_run(setup, dynamics_from(fit, speed)), setup.path.prices_usd) for speed in speeds}


@dataclass(frozen=True)
class Comparison:
    """Simulated against real daily liquidated WETH collateral (USD) over some days."""

    days: int
    rank_correlation: float
    rank_correlation_p: float
    simulated_total_usd: float
    real_total_usd: float

    @property
    def ratio_total(self) -> float:
        return self.simulated_total_usd / self.real_total_usd


def _compare(simulated: pd.Series, real: pd.Series) -> Comparison:
    rho, p_value = stats.spearmanr(simulated.to_numpy(), real.to_numpy())
    return Comparison(len(simulated), float(rho), float(p_value), float(simulated.sum()), float(real.sum()))


@dataclass(frozen=True)
class RealismReport:
    relever_speed_per_hour: float
    debt_response_target: float
    debt_response_by_speed: dict[str, float]
    leveraged_share: float
    whole: Comparison
    fit_window: Comparison
    check_window: Comparison
    simulated_by_day: dict[str, float]
    real_by_day: dict[str, float]
    unscaled_simulated_by_day: dict[str, float]
    unscaled_whole: Comparison
    depth_fallback_hours: int
    skipped_unprofitable: int
    liquidations: int

    @property
    def ratio_by_day(self) -> dict[str, float]:
        return {d: self.simulated_by_day[d] / self.real_by_day[d] for d in self.real_by_day}


def _daily_simulated(result) -> pd.Series:
    index = pd.to_datetime(result.series["timestamps_s"], unit="s", utc=True)
    return pd.Series(result.series["liquidated_collateral_usd_WETH"], index=index).groupby(index.floor("D")).sum()


def compare(data_dir: Path = DATA_DIR, speeds: tuple[float, ...] = (0.0, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1)) -> RealismReport:
    """Fits the re-leverage speed (debt response), then the leveraged share of the reserve on
    the days to FIT_END (simulated total = real total there), and reports every figure on the
    whole window, the fit window and the check window after it."""
    setup = weth_market(data_dir)
    fit = fit_dynamics(data_dir, book_hhi())
    responses = calibrate_relever_speed(setup, fit, speeds)
    target = fit.relever_response.value
    speed = min(speeds, key=lambda s: (abs(responses[s] - target), s))
    dynamics = dynamics_from(fit, speed)
    eth = load_bundled("WETH", data_dir).prices_usd.resample("1h").last().ffill()
    unscaled = _daily_simulated(_static_run(setup, dynamics))
    real = real_daily_liquidations("WETH", eth, data_dir).reindex(unscaled.index, fill_value=0.0)
    fit_days = unscaled.index <= pd.Timestamp(FIT_END, tz="UTC")
    share = float(real[fit_days].sum() / unscaled[fit_days].sum())
    for _ in range(2):  # volume is not quite proportional to the book (depth), so refine once
        result = _static_run(weth_market(data_dir, leveraged_share=share), dynamics)
        simulated = _daily_simulated(result)
        share *= float(real[fit_days].sum() / simulated[fit_days].sum())
    share /= float(real[fit_days].sum() / simulated[fit_days].sum())  # the share of the last run
    days = {d: pd.Timestamp(d, tz="UTC") for d in DAYS_OF_INTEREST}
    return RealismReport(
        relever_speed_per_hour=speed, debt_response_target=target,
        debt_response_by_speed={str(k): v for k, v in responses.items()}, leveraged_share=share,
        whole=_compare(simulated, real), fit_window=_compare(simulated[fit_days], real[fit_days]),
        check_window=_compare(simulated[~fit_days], real[~fit_days]),
        simulated_by_day={d: float(simulated.get(t, 0.0)) for d, t in days.items()},
        real_by_day={d: float(real.get(t, 0.0)) for d, t in days.items()},
        unscaled_simulated_by_day={d: float(unscaled.get(t, 0.0)) for d, t in days.items()},
        unscaled_whole=_compare(unscaled, real),
        depth_fallback_hours=setup.depth_fallback_hours,
        skipped_unprofitable=result.skipped_unprofitable_liquidations, liquidations=result.liquidations,
    )


if __name__ == "__main__":
    report = compare()
    out = Path(__file__).resolve().parent.parent / "var" / "realism.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    figures = {**asdict(report), "ratio_by_day": report.ratio_by_day,
               **{f"{name}_ratio_total": getattr(report, name).ratio_total
                  for name in ("whole", "fit_window", "check_window", "unscaled_whole")}}
    out.write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))
