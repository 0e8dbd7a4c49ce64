"""The strategy configuration: one versioned TOML file, loaded strictly into frozen dataclasses.

Every hyperparameter lives in the file (`strategies/config/risk-agent-v1.toml` by default),
which is part of the measured enclave image; the enclave, `verify`, shadow mode and backtests
all load it through `load_config`. `config_hash` is SHA-256 over the canonical CBOR of the
loaded values, so the hash names the settings, not the file's whitespace. A misspelt or
missing key is a `StrategyConfigError` naming it, never a silent default.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import MISSING, asdict, dataclass, field, fields
from functools import cache, cached_property
from pathlib import Path
from typing import Any, get_type_hints

import cbor2

from strategies.params import Param
from strategies.peg import DepegEvent, PegCalibration
from strategies.stressed import StressRecord

CONFIG_DIR = Path(__file__).resolve().parent / "config"
DEFAULT_CONFIG_PATH = CONFIG_DIR / "risk-agent-v1.toml"


class StrategyConfigError(ValueError):
    """A strategy config file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True, kw_only=True)
class WindowConfig:
    history_hours: int
    max_carry_hours: int
    utilization_max_carry_hours: int
    decision_interval_s: int


@dataclass(frozen=True, kw_only=True)
class GuardConfig:
    max_staleness_s: int
    min_history_hours: int
    max_gap_hours: int
    jump_robust_sigmas: float
    min_jump_fraction: float
    max_reference_deviation: float


@dataclass(frozen=True, kw_only=True)
class VolatilityConfig:
    winsorize_robust_sigmas: float
    ewma_decay_per_hour: float
    ewma_warmup_hours: int
    garch_max_hours: int
    selection_holdout_days: int
    har_min_days: int
    selection: str = "daily"  # "daily": fits anchored to UTC days (cached by content); "rolling": refit every decision


@dataclass(frozen=True, kw_only=True)
class TailConfig:
    window_hours: int
    min_sample_hours: int
    student_dof: float


@dataclass(frozen=True, kw_only=True)
class RiskAppetiteConfig:
    """Governance's risk appetite: the LT covers the expected shortfall at `lt_confidence` of
    the drop over the liquidation horizon (at least `min_horizon_hours`), leaving at most
    `max_bad_debt_share` of a position's debt unpaid when it is liquidated from its threshold
    in that drop; the LTV keeps a position opened at the limit out of liquidation over
    `ltv_horizon_hours` at `ltv_confidence` (strategies.collateral)."""

    lt_confidence: float
    min_horizon_hours: int
    max_horizon_hours: int
    ltv_confidence: float
    ltv_horizon_hours: int
    max_bad_debt_share: float

    def __post_init__(self) -> None:
        for name in ("lt_confidence", "ltv_confidence"):
            if not 0.5 <= getattr(self, name) < 1:
                raise ValueError(f"risk_appetite.{name} must be in [0.5, 1), got {getattr(self, name)}")
        if not 1 <= self.min_horizon_hours <= self.max_horizon_hours:
            raise ValueError(f"risk_appetite: need 1 <= min_horizon_hours <= max_horizon_hours, got "
                             f"{self.min_horizon_hours} and {self.max_horizon_hours}")
        if self.ltv_horizon_hours < 1:
            raise ValueError(f"risk_appetite.ltv_horizon_hours must be at least 1, got {self.ltv_horizon_hours}")
        if not 0 <= self.max_bad_debt_share < 0.5:
            raise ValueError(f"risk_appetite.max_bad_debt_share must be in [0, 0.5), got {self.max_bad_debt_share}")


@dataclass(frozen=True, kw_only=True)
class ThroughTheCycleConfig:
    stress_window_hours: int
    min_window_hours: int
    calm_days_to_loosen: int
    loosening_share: float
    loosening_margin_bps: int


@dataclass(frozen=True, kw_only=True)
class CollateralConfig:
    max_threshold_bps: int
    min_threshold_bps: int
    max_new_liquidation_share: float


@dataclass(frozen=True, kw_only=True)
class BonusConfig:
    depth_slippage: float
    gas_usd_per_liquidation: float
    margin_bps: int
    peak_hour_share: float
    min_bonus_bps: int
    max_bonus_bps: int


@dataclass(frozen=True, kw_only=True)
class PegModelConfig:
    median_hours: int
    min_points: int
    recovery_points: int
    fallback_severity: float
    max_disagreement: float


@dataclass(frozen=True, kw_only=True)
class CapsConfig:
    liquidation_hours: float
    raise_usage_share: float
    min_liquidated_share: float


@dataclass(frozen=True, kw_only=True)
class RatesConfig:
    speed_per_year: float
    slope2_speed_per_year: float
    band_width: float
    min_rate_at_kink: float
    max_rate_at_kink: float
    min_slope2: float
    max_slope2: float
    liquidity_buffer_multiple: float
    min_optimal_usage: float
    max_optimal_usage: float


@dataclass(frozen=True, kw_only=True)
class RiskGateConfig:
    stress_drawdown: float
    stress_volatility_ratio: float


@dataclass(frozen=True, kw_only=True)
class MonteCarloConfig:
    paths: int
    student_dof: float
    liquidation_delay_hours: int
    synthetic_positions: int


@dataclass(frozen=True, kw_only=True)
class StrategyConfig:
    name: str
    version: int
    seed: int
    window: WindowConfig
    guard: GuardConfig
    volatility: VolatilityConfig
    tail: TailConfig
    risk_appetite: RiskAppetiteConfig
    through_the_cycle: ThroughTheCycleConfig
    collateral: CollateralConfig
    bonus: BonusConfig
    peg_model: PegModelConfig
    caps: CapsConfig
    rates: RatesConfig
    risk_gate: RiskGateConfig
    montecarlo: MonteCarloConfig
    dead_band: dict = field(default_factory=dict)  # Param name -> smallest step worth an update
    pegged: dict = field(default_factory=dict)  # symbol -> peg in USD
    # Calibration computed from the bundled history by `python -m backtests.calibration`:
    stress_records: dict = field(default_factory=dict)  # symbol -> [[window end s, hourly sigma], ...]
    depegs: dict = field(default_factory=dict)  # symbol -> {peg, depeg_threshold, history_start_s, events}

    def min_change(self) -> dict[Param, int]:
        return {Param[name]: int(step) for name, step in self.dead_band.items()}

    def stress_records_of(self, symbol: str) -> tuple[StressRecord, ...]:
        return tuple(StressRecord(int(end), float(sigma)) for end, sigma in self.stress_records.get(symbol, ()))

    def peg_calibration(self, symbol: str) -> PegCalibration | None:
        entry = self.depegs.get(symbol)
        if entry is None:
            return None
        return PegCalibration(entry["peg"], float(entry["depeg_threshold"]), int(entry["history_start_s"]),
                              tuple(DepegEvent(int(a), int(b), float(c), bool(d)) for a, b, c, d in entry["events"]))

    def pooled_depeg_events(self) -> tuple[DepegEvent, ...]:
        return tuple(e for symbol in sorted(self.depegs) for e in self.peg_calibration(symbol).events)

    def peg_usd(self, symbol: str) -> float | None:
        value = self.pegged.get(symbol)
        return float(value) if value is not None else None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @cached_property
    def config_hash(self) -> bytes:
        """Computed once per config object (every decision names it; 1.5 ms of CBOR and SHA-256
        each time): a config is not changed after loading, `replace` makes a new one."""
        return _hash_of(self)

    @property
    def config_hash_hex(self) -> str:
        return self.config_hash.hex()


def _hash_of(config: StrategyConfig) -> bytes:
    return hashlib.sha256(cbor2.dumps(config.as_dict(), canonical=True)).digest()


def _build(cls: type, raw: dict, where: str, path: Path) -> Any:
    if not isinstance(raw, dict):
        raise StrategyConfigError(f"{path}: [{where}] must be a table")
    hints = get_type_hints(cls)
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise StrategyConfigError(f"{path}: unknown key {where + '.' if where else ''}{unknown[0]}")
    values = {}
    for f in fields(cls):
        key = f"{where}.{f.name}" if where else f.name
        if f.name not in raw:
            if f.default_factory is not MISSING:
                values[f.name] = f.default_factory()
                continue
            raise StrategyConfigError(f"{path}: missing key {key}")
        value, kind = raw[f.name], hints[f.name]
        if isinstance(kind, type) and hasattr(kind, "__dataclass_fields__"):
            values[f.name] = _build(kind, value, key, path)
        elif kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise StrategyConfigError(f"{path}: {key} must be a number, not {value!r}")
            values[f.name] = float(value)
        elif kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise StrategyConfigError(f"{path}: {key} must be an integer, not {value!r}")
            values[f.name] = value
        elif kind is str:
            if not isinstance(value, str):
                raise StrategyConfigError(f"{path}: {key} must be text, not {value!r}")
            values[f.name] = value
        else:  # the two free tables
            if not isinstance(value, dict):
                raise StrategyConfigError(f"{path}: [{key}] must be a table")
            values[f.name] = dict(sorted(value.items()))
    return cls(**values)


def _check(config: StrategyConfig, path: Path) -> StrategyConfig:
    for name, step in config.dead_band.items():
        if name not in Param.__members__:
            raise StrategyConfigError(f"{path}: dead_band.{name} is not a parameter (known: {', '.join(Param.__members__)})")
        if isinstance(step, bool) or not isinstance(step, int) or step < 1:
            raise StrategyConfigError(f"{path}: dead_band.{name} must be a positive integer")
    for symbol, peg in config.pegged.items():
        if isinstance(peg, bool) or not isinstance(peg, (int, float)) or peg <= 0:
            raise StrategyConfigError(f"{path}: pegged.{symbol} must be a positive price in USD")
    for symbol, records in config.stress_records.items():
        if not isinstance(records, list) or not all(
                isinstance(r, list) and len(r) == 2 and isinstance(r[0], int) and isinstance(r[1], (int, float))
                and r[1] > 0 for r in records):
            raise StrategyConfigError(f"{path}: stress_records.{symbol} must be [[window end s, positive sigma], ...]")
    for symbol, entry in config.depegs.items():
        keys = {"peg", "depeg_threshold", "history_start_s", "events"}
        if not isinstance(entry, dict) or set(entry) != keys:
            raise StrategyConfigError(f"{path}: depegs.{symbol} must have exactly {', '.join(sorted(keys))}")
        if not 0 < entry["depeg_threshold"] < 1 or not all(
                isinstance(e, list) and len(e) == 4 and isinstance(e[3], bool) and 0 <= e[2] <= 1 for e in entry["events"]):
            raise StrategyConfigError(f"{path}: depegs.{symbol}: threshold in (0, 1) and events "
                                      "[start s, end s, severity in [0, 1], finished]")
    if not 0 < config.bonus.peak_hour_share <= 1:
        raise StrategyConfigError(f"{path}: bonus.peak_hour_share must be in (0, 1]")
    if not 0 < config.through_the_cycle.loosening_share <= 1:
        raise StrategyConfigError(f"{path}: through_the_cycle.loosening_share must be in (0, 1]")
    if config.through_the_cycle.loosening_margin_bps < 0:
        raise StrategyConfigError(f"{path}: through_the_cycle.loosening_margin_bps must be >= 0")
    if config.volatility.selection not in ("daily", "rolling"):
        raise StrategyConfigError(f"{path}: volatility.selection must be 'daily' or 'rolling', not {config.volatility.selection!r}")
    if config.window.history_hours < config.guard.min_history_hours:
        raise StrategyConfigError(f"{path}: window.history_hours is shorter than guard.min_history_hours")
    return config


def load_config(path: Path | str | None = None) -> StrategyConfig:
    """The strategy config at `path` (default: the measured one shipped in the image)."""
    return _load(Path(path).resolve() if path is not None else DEFAULT_CONFIG_PATH)


@cache
def _load(path: Path) -> StrategyConfig:
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise StrategyConfigError(f"strategy config {path} not found") from None
    except IsADirectoryError:
        raise StrategyConfigError(f"strategy config {path} is a directory, not a TOML file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise StrategyConfigError(f"{path}: not valid TOML ({error})") from None
    try:
        built = _build(StrategyConfig, raw, "", path)
    except (ValueError, TypeError) as error:
        if isinstance(error, StrategyConfigError):
            raise
        raise StrategyConfigError(f"{path}: {error}") from None
    return _check(built, path)


def default_config() -> StrategyConfig:
    return load_config()
