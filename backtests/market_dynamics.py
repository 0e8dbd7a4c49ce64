"""A market closer to the real one, for the backtest engine to call: borrowers arrive, leave,
re-leverage when prices rise and answer the borrow rate; depth follows the bundled DEX
reserves; liquidators act only when a liquidation pays after slippage and gas.

The step functions are pure over numpy arrays and a seeded generator. The rates come from the
bundled Aave v2 hourly data (`fit_dynamics`, needs ../shared/data):
- churn: positions leave (repay and withdraw) at a constant hazard h. In steady state as many
  arrive, sized like the book; the daily variance of the book's log size is then about
  2 h HHI (HHI the Herfindahl index of position sizes), so h = var / (2 HHI), with var the
  residual variance of the WETH reserve's daily token balance (price moves taken out) and HHI
  the simulated book's;
- growth: the mean of that log change;
- re-leverage: positions whose HF drifts above `relever_band` over their own target borrow
  back toward it at `relever_speed_per_hour`; the speed is the one whose simulated response
  of debt to the ETH price matches the data's (stable borrowing on the ETH return, daily);
- rate response: the semi-elasticity of stable borrowing to its borrow rate
  (`estimate_rate_elasticity`, in % per day per percentage point above its 30-day mean).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

HOURS_PER_DAY = 24


@dataclass(frozen=True, kw_only=True)
class BorrowerDynamics:
    """Per-hour behaviour of the borrower population (see the module docstring for the fit).
    `rate_semi_elasticity_per_pp_day` is a fraction: d ln(debt) per day per percentage point
    of borrow rate above the reference (the estimate -0.112% is -0.00112)."""

    leave_hazard_per_hour: float
    growth_per_hour: float
    relever_band: float
    relever_speed_per_hour: float
    rate_semi_elasticity_per_pp_day: float
    defend_health: float = 1.0
    defend_share_per_hour: float = 0.0
    gas_usd_per_liquidation: float = 50.0
    seed: int = 7

    def __post_init__(self) -> None:
        if not 0 <= self.leave_hazard_per_hour < 1 or not 0 <= self.relever_speed_per_hour <= 1:
            raise ValueError("hazard and re-leverage speed must be probabilities per hour")
        if not 0 <= self.defend_share_per_hour <= 1:
            raise ValueError("defend share must be a probability per hour")


def liquidation_profit_usd(repay_usd: float, seized_usd: float, slippage: float, gas_usd: float) -> float:
    """What a liquidator keeps: the seized collateral sold at `slippage`, less the debt repaid
    and the gas. A liquidation happens only when this is positive."""
    return seized_usd * (1 - slippage) - repay_usd - gas_usd


def incremental_slippage(sold_before_usd: float, trade_usd: float, depth_usd: float, depth_slippage: float) -> float:
    """Average slippage of selling `trade_usd` into a constant-product pool after
    `sold_before_usd` this hour (the pool refills between hours by arbitrage). Proceeds of a
    cumulative sale v are v R / (R + v), R = depth (1 - s) / s the pool's reserve in USD."""
    if trade_usd <= 0:
        return 0.0
    if depth_usd <= 0:
        return 1.0
    reserve = depth_usd * (1 - depth_slippage) / depth_slippage
    after, before = sold_before_usd + trade_usd, sold_before_usd
    proceeds = reserve * after / (reserve + after) - reserve * before / (reserve + before)
    return 1 - proceeds / trade_usd


@dataclass
class FlowStep:
    """What one hour of borrower behaviour did (USD at that hour's price)."""

    departed: int = 0
    arrived: int = 0
    relevered_usd: float = 0.0
    defended_usd: float = 0.0
    rate_response_usd: float = 0.0
    blocked_supply_usd: float = 0.0
    blocked_borrow_usd: float = 0.0


def churn(tokens: np.ndarray, debt: np.ndarray, rng: np.random.Generator, hazard: float) -> np.ndarray:
    """Positions that leave this hour (repay and withdraw): a boolean mask, each with
    probability `hazard`; emptied in place."""
    leaving = (rng.random(len(tokens)) < hazard) & (tokens > 0)
    tokens[leaving] = 0.0
    debt[leaving] = 0.0
    return leaving


def arrivals(rng: np.random.Generator, expected: float, template_tokens: np.ndarray, template_health: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """Poisson(`expected`) new positions, sized and aimed like the initial book (drawn from
    its positions): (collateral tokens, target HF)."""
    count = int(rng.poisson(max(expected, 0.0)))
    if count == 0 or len(template_tokens) == 0:
        return np.zeros(0), np.zeros(0)
    picks = rng.integers(0, len(template_tokens), count)
    return template_tokens[picks].copy(), template_health[picks].copy()


def relever(tokens: np.ndarray, debt_usd: np.ndarray, target_health: np.ndarray, price: float, threshold: float,
            ltv: float, band: float, speed: float, room_usd: float) -> float:
    """Positions whose HF is above target x (1 + band) borrow `speed` of the way back to their
    target, never above the LTV, in total at most `room_usd` (the borrow cap's room). Debt in
    USD, changed in place; returns the USD borrowed."""
    collateral = tokens * price
    with np.errstate(divide="ignore", invalid="ignore"):
        health = np.where(debt_usd > 0, collateral * threshold / debt_usd, np.inf)
    eligible = (tokens > 0) & (health > target_health * (1 + band))
    if not eligible.any() or room_usd <= 0:
        return 0.0
    wanted = np.minimum(collateral * threshold / target_health, collateral * ltv) - debt_usd
    step = np.where(eligible, np.maximum(wanted, 0.0) * speed, 0.0)
    total = float(step.sum())
    if total > room_usd:
        step *= room_usd / total
        total = room_usd
    debt_usd += step
    return total


def defend(tokens: np.ndarray, debt_usd: np.ndarray, target_health: np.ndarray, price: float, threshold: float,
           defend_health: float, share: float, rng: np.random.Generator) -> float:
    """A `share` of the positions under `defend_health` repay back to their target HF this hour
    (borrowers who watch their positions); returns the USD repaid."""
    if share <= 0:
        return 0.0
    collateral = tokens * price
    with np.errstate(divide="ignore", invalid="ignore"):
        health = np.where(debt_usd > 0, collateral * threshold / debt_usd, np.inf)
    acting = (health < defend_health) & (health >= 1.0) & (rng.random(len(tokens)) < share)
    repaid = np.where(acting, debt_usd - collateral * threshold / target_health, 0.0)
    repaid = np.maximum(repaid, 0.0)
    debt_usd -= repaid
    return float(repaid.sum())


def rate_response_factor(borrow_rate: float, reference_rate: float, semi_elasticity_per_pp_day: float) -> float:
    """Hourly multiplier of borrow demand: exp(beta / 24 x (r - r_ref) in percentage points),
    beta a fraction per day per point, rates as fractions a year."""
    return math.exp(semi_elasticity_per_pp_day / HOURS_PER_DAY * (borrow_rate - reference_rate) * 100)


def dex_depth_hourly(timestamps_s: np.ndarray, depth_series: pd.Series, fallback_usd: float) -> tuple[np.ndarray, int]:
    """The DEX depth at each hour: the last reserve snapshot at or before it (snapshots every
    ~3.7 h); hours before the first snapshot take `fallback_usd`. Returns (depth, hours that
    used the fallback). After the last snapshot the last value is carried (stated by caller)."""
    stamps = np.asarray(depth_series.index.as_unit("s").asi8, dtype=np.int64)
    index = np.searchsorted(stamps, np.asarray(timestamps_s, dtype=np.int64), side="right") - 1
    values = depth_series.to_numpy(dtype=float)
    depth = np.where(index >= 0, values[np.maximum(index, 0)], fallback_usd)
    return depth, int(np.sum(index < 0))


# ------------------------------------------------------------------ fits on the bundled data


DEX_PAIRS = {
    "WETH": ("uniswapv2_USDC-WETH", "uniswapv2_WETH-USDT", "uniswapv2_DAI-WETH", "sushiswap_USDC-WETH"),
    "WBTC": ("uniswapv2_WBTC-WETH", "sushiswap_WBTC-WETH"),
    "LINK": ("uniswapv2_LINK-WETH", "sushiswap_LINK-WETH"),
    "CRV": ("uniswapv2_WETH-CRV", "sushiswap_WETH-CRV"),
}
DEX_ALIASES = {"ETH": "WETH", "BTC": "WBTC"}


def dex_depth_series(symbol: str, data_dir: Path, slippage: float = 0.02) -> pd.Series:
    """Total depth (USD sellable within `slippage`) over the asset's bundled pairs, on the
    union of their snapshot times (each pair carried to the next of its own snapshots)."""
    from backtests.data import load_dex_depth_usd

    pairs = DEX_PAIRS.get(DEX_ALIASES.get(symbol, symbol))
    if not pairs:
        raise ValueError(f"no bundled DEX pair for {symbol!r} (known: {', '.join(DEX_PAIRS)})")
    series = []
    for name in pairs:
        matches = sorted((data_dir / "dex").glob(f"{name}_reserves_*.csv"))
        if matches:
            series.append(load_dex_depth_usd(matches[0], slippage))
    frame = pd.concat(series, axis=1).sort_index().ffill()
    return frame.sum(axis=1, min_count=1).dropna()


@dataclass(frozen=True)
class Estimate:
    value: float
    standard_error: float
    observations: int

    @property
    def interval95(self) -> tuple[float, float]:
        return self.value - 1.96 * self.standard_error, self.value + 1.96 * self.standard_error


def _daily(frame: pd.DataFrame) -> pd.DataFrame:
    daily = frame.resample("1D").last()
    return daily[daily["supplied_USD"] > 1e8]


def estimate_rate_elasticity(frames: dict[str, pd.DataFrame], start: str = "2021-03-01", end: str = "2023-02-28") -> Estimate:
    """Pooled stablecoin reserves, daily: next day's change of log borrowed USD on the borrow
    APR's deviation from its 30-day mean (percentage points), with the day's change of log
    borrowed and log supplied as controls and one intercept per reserve; standard errors
    clustered by date. The coefficient: d ln(borrow) per day per point of rate."""
    import statsmodels.api as sm

    rows = []
    for name, frame in sorted(frames.items()):
        daily = _daily(frame).loc[start:end]
        borrowed, supplied = np.log(daily["borrowed_USD"]), np.log(daily["supplied_USD"])
        rate = daily["borrower_variable_apr"]
        part = pd.DataFrame({"y": borrowed.diff().shift(-1), "rate_dev": rate - rate.rolling(30).mean(),
                             "d_borrow": borrowed.diff(), "d_supply": supplied.diff(), "reserve": name}).dropna()
        rows.append(part)
    data = pd.concat(rows)
    exog = pd.concat([data[["rate_dev", "d_borrow", "d_supply"]],
                      pd.get_dummies(data["reserve"], dtype=float)], axis=1)
    groups = pd.factorize(data.index)[0]
    fit = sm.OLS(data["y"], exog).fit(cov_type="cluster", cov_kwds={"groups": groups})
    return Estimate(float(fit.params["rate_dev"]) * 100, float(fit.bse["rate_dev"]) * 100, int(len(data)))


@dataclass(frozen=True)
class DynamicsFit:
    growth_per_day: Estimate
    residual_sd_per_day: float
    book_hhi: float
    leave_hazard_per_day: float
    relever_response: Estimate  # d ln(stable borrow) per unit ETH log return, daily
    rate_semi_elasticity: Estimate  # % per day per percentage point


def fit_dynamics(data_dir: Path, book_hhi: float, start: str = "2021-03-01", end: str = "2022-04-30") -> DynamicsFit:
    """The measurable half of the fit (the re-leverage speed is matched by simulation,
    `backtests.realism.calibrate_relever_speed`)."""
    import statsmodels.api as sm

    from backtests.data import load_aave_hourly, load_bundled

    def load(name: str) -> pd.DataFrame:
        frame = load_aave_hourly(data_dir / "lending" / "aave_hourly" / f"aave_v2_{name}_eth_to-2023-02.parquet")
        return frame.tz_localize("UTC") if frame.index.tz is None else frame

    frames = {name: load(name) for name in ("weth", "usdc", "usdt", "dai")}
    eth = np.log(load_bundled("WETH", data_dir).prices_usd.resample("1D").last())
    weth = _daily(frames["weth"]).loc[start:end]
    change = np.log(weth["token_balance"].astype(float)).diff().dropna()
    returns = eth.diff().reindex(change.index)
    own = sm.OLS(change, sm.add_constant(returns.rename("eth"))).fit(cov_type="HAC", cov_kwds={"maxlags": 7})
    residual_sd = float(own.resid.std())
    stable = sum(_daily(frames[n])["borrowed_USD"] for n in ("usdc", "usdt", "dai")).loc[start:end]
    borrow_change = np.log(stable).diff().dropna()
    response = sm.OLS(borrow_change, sm.add_constant(eth.diff().reindex(borrow_change.index).rename("eth"))).fit(
        cov_type="HAC", cov_kwds={"maxlags": 7})
    return DynamicsFit(
        growth_per_day=Estimate(float(own.params["const"]), float(own.bse["const"]), int(len(change))),
        residual_sd_per_day=residual_sd,
        book_hhi=book_hhi,
        leave_hazard_per_day=residual_sd**2 / (2 * book_hhi),
        relever_response=Estimate(float(response.params["eth"]), float(response.bse["eth"]), int(len(borrow_change))),
        rate_semi_elasticity=estimate_rate_elasticity({n: frames[n] for n in ("usdc", "usdt", "dai")}),
    )
