"""The parameter registry: every reserve parameter the agent governs, once.

Each row names the parameter, its unit, the group it is written with on Aave v3 (the
configurator call that sets it), how the chain reader gets it, and the steward's default
bound. `RiskParams`, the steward bounds, the chain reader, deployment specs and the dashboard
all derive from `REGISTRY`; ids are `RiskSteward`'s (the contract's `Param` order), so adding a
parameter is one row here plus its branch in the contract.

Aave's October-2023 Ethereum values (RISK-REFERENCE.md) live here too, in `AAVE_V3_OCT_2023`.
Pure: no chain, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, make_dataclass
from enum import IntEnum, StrEnum

BPS_MAX = 10_000
# Aave v3 ReserveConfiguration: caps are 36-bit whole-token counts.
MAX_CAP_TOKENS = 68_719_476_735


class Param(IntEnum):
    """Parameter ids, as `RiskSteward` numbers them."""

    LTV = 0
    LIQUIDATION_THRESHOLD = 1
    LIQUIDATION_BONUS = 2
    SUPPLY_CAP = 3
    BORROW_CAP = 4
    RESERVE_FACTOR = 5
    OPTIMAL_USAGE_RATIO = 6
    BASE_VARIABLE_BORROW_RATE = 7
    VARIABLE_RATE_SLOPE1 = 8
    VARIABLE_RATE_SLOPE2 = 9


class Group(StrEnum):
    """What one Aave configurator call writes; an operation writes only the fields it changes,
    read-modify-write at execution."""

    COLLATERAL = "collateral"  # configureReserveAsCollateral(ltv, lt, lb)
    SUPPLY_CAP = "supply_cap"  # setSupplyCap
    BORROW_CAP = "borrow_cap"  # setBorrowCap
    RESERVE_FACTOR = "reserve_factor"  # setReserveFactor
    RATES = "rates"  # a new DefaultReserveInterestRateStrategy + setReserveInterestRateStrategyAddress


@dataclass(frozen=True)
class Bound:
    """`RiskSteward.Bound`: cooldown in seconds; max step in bps (of the current value when
    relative); floor and ceiling in the parameter's unit."""

    cooldown_seconds: int
    max_change: int
    is_relative: bool
    floor: int
    ceiling: int

    def max_difference(self, current: int) -> int:
        return self.max_change * current // BPS_MAX if self.is_relative else self.max_change


@dataclass(frozen=True)
class ParamSpec:
    """One governed parameter.

    `field` is the attribute on `RiskParams` (unit in its name); `reader` is
    (data-provider call or rate-strategy getter, output index, divisor to the field's unit);
    `tightens_downward` marks the parameters whose decrease only reduces risk (the fast path);
    `non_zero` those the steward never sets to zero (Aave's stewards' rule)."""

    param: Param
    field: str
    label: str
    unit: str
    group: Group
    reader: tuple[str, int, int]
    default_bound: Bound
    non_zero: bool
    tightens_downward: bool


RAY_PER_BPS = 10**23  # 1 bps = 1e-4 = 1e23 ray

# Default bounds: Aave's risk stewards (RISK-REFERENCE.md): the automated steward's steps and
# cooldowns where it has them, the manual steward's otherwise; reserve factor has no steward
# value there (ours: +-500 bps per 3 days). Caps' ceiling is Aave's 36-bit cap field.
REGISTRY: tuple[ParamSpec, ...] = (
    ParamSpec(Param.LTV, "ltv_bps", "LTV", "bps", Group.COLLATERAL,
              ("getReserveConfigurationData", 1, 1), Bound(86_400, 25, False, 1, 9_900), True, True),
    ParamSpec(Param.LIQUIDATION_THRESHOLD, "liquidation_threshold_bps", "Liquidation threshold", "bps", Group.COLLATERAL,
              ("getReserveConfigurationData", 2, 1), Bound(86_400, 25, False, 1, 9_900), True, True),
    ParamSpec(Param.LIQUIDATION_BONUS, "liquidation_bonus_bps", "Liquidation bonus", "bps (10000 + bonus)", Group.COLLATERAL,
              ("getReserveConfigurationData", 3, 1), Bound(86_400, 50, False, 10_001, 15_000), True, False),
    ParamSpec(Param.SUPPLY_CAP, "supply_cap_tokens", "Supply cap", "tokens", Group.SUPPLY_CAP,
              ("getReserveCaps", 1, 1), Bound(3 * 86_400, 3_000, True, 1, MAX_CAP_TOKENS), True, True),
    ParamSpec(Param.BORROW_CAP, "borrow_cap_tokens", "Borrow cap", "tokens", Group.BORROW_CAP,
              ("getReserveCaps", 0, 1), Bound(3 * 86_400, 3_000, True, 1, MAX_CAP_TOKENS), True, True),
    ParamSpec(Param.RESERVE_FACTOR, "reserve_factor_bps", "Reserve factor", "bps", Group.RESERVE_FACTOR,
              ("getReserveConfigurationData", 4, 1), Bound(3 * 86_400, 500, False, 0, 9_900), False, False),
    ParamSpec(Param.OPTIMAL_USAGE_RATIO, "optimal_usage_ratio_bps", "Optimal usage", "bps", Group.RATES,
              ("OPTIMAL_USAGE_RATIO", 0, RAY_PER_BPS), Bound(3 * 86_400, 300, False, 100, 9_900), False, False),
    ParamSpec(Param.BASE_VARIABLE_BORROW_RATE, "base_variable_borrow_rate_bps", "Base rate", "bps/year", Group.RATES,
              ("getBaseVariableBorrowRate", 0, RAY_PER_BPS), Bound(86_400, 50, False, 0, 100_000), False, False),
    ParamSpec(Param.VARIABLE_RATE_SLOPE1, "variable_rate_slope1_bps", "Slope 1", "bps/year", Group.RATES,
              ("getVariableRateSlope1", 0, RAY_PER_BPS), Bound(86_400, 50, False, 0, 100_000), False, False),
    ParamSpec(Param.VARIABLE_RATE_SLOPE2, "variable_rate_slope2_bps", "Slope 2", "bps/year", Group.RATES,
              ("getVariableRateSlope2", 0, RAY_PER_BPS), Bound(8 * 3_600, 400, False, 0, 100_000), False, False),
)
SPECS: dict[Param, ParamSpec] = {spec.param: spec for spec in REGISTRY}
DEFAULT_BOUNDS: dict[Param, Bound] = {spec.param: spec.default_bound for spec in REGISTRY}
NON_ZERO_PARAMS = frozenset(spec.param for spec in REGISTRY if spec.non_zero)
TIGHTENS_DOWNWARD = frozenset(spec.param for spec in REGISTRY if spec.tightens_downward)
FIELD_NAMES: tuple[str, ...] = tuple(spec.field for spec in REGISTRY)
PARAM_BY_FIELD: dict[str, Param] = {spec.field: spec.param for spec in REGISTRY}
if [spec.param for spec in REGISTRY] != list(Param):
    raise ImportError("strategies.params: registry rows must follow the contract's Param order")


def _by_param(self) -> dict[Param, int]:
    return {spec.param: getattr(self, spec.field) for spec in REGISTRY}


def _with_changes(self, changes: dict[Param, int]):
    return type(self)(**{spec.field: int(changes.get(spec.param, getattr(self, spec.field))) for spec in REGISTRY})


def _from_params(cls, values: dict[Param, int]):
    return cls(**{spec.field: int(values[spec.param]) for spec in REGISTRY})


def _as_dict(self) -> dict[str, int]:
    return {f.name: getattr(self, f.name) for f in fields(self)}


# The current parameters of one reserve, in the pool's units; one field per registry row.
RiskParams = make_dataclass(
    "RiskParams",
    [(spec.field, int) for spec in REGISTRY],
    frozen=True,
    namespace={
        "__doc__": "The parameters of one reserve in the pool's units (bps, whole tokens); fields from the registry.",
        "by_param": _by_param,
        "with_changes": _with_changes,
        "from_params": classmethod(_from_params),
        "as_dict": _as_dict,
    },
)
RiskParams.__module__ = __name__


def _oct_2023(ltv, threshold, bonus, reserve_factor, supply_cap, borrow_cap, optimal, base, slope1, slope2):
    return RiskParams(ltv, threshold, bonus, supply_cap, borrow_cap, reserve_factor, optimal, base, slope1, slope2)


# Aave v3 Ethereum, October 2023 (RISK-REFERENCE.md): LTV, LT, LB, RF, supply cap, borrow cap,
# then uOpt / base / slope1 / slope2, as the reference table orders them.
AAVE_V3_OCT_2023: dict[str, RiskParams] = {
    "WETH": _oct_2023(8_050, 8_300, 10_500, 1_500, 1_800_000, 1_400_000, 8_000, 0, 280, 8_000),
    "WBTC": _oct_2023(7_300, 7_800, 10_500, 2_000, 43_000, 28_000, 4_500, 0, 400, 30_000),
    "USDC": _oct_2023(7_700, 8_000, 10_450, 1_000, 1_760_000_000, 1_580_000_000, 9_000, 0, 350, 6_000),
    "LINK": _oct_2023(5_300, 6_800, 10_700, 2_000, 15_000_000, 13_000_000, 4_500, 0, 700, 30_000),
    "CRV": _oct_2023(3_500, 4_100, 10_830, 3_500, 51_000_000, 7_700_000, 7_000, 300, 1_400, 30_000),
}
