"""Parity of the steward's checks with Aave's own configurator validation, on both backends:
nothing the steward accepts is refused by Aave at execution.

Governance first widens every bound to the widest the Bound struct holds (step 2^32-1, floor 0
or 1, ceiling 2^64-1, cooldown 1 s), so the only limits left are the steward's consistency and
protocol-limit checks -- exactly what must agree with Aave's. Then, for values drawn at the
edges (LT x LB around 100%, LTV around LT, caps around 2^36-1, RF around 100%, the curve around
its limits): the steward's verdict (an eth_call of submit), the Python mirror's, and Aave's own
(the same configurator call made by the timelock, POOL_ADMIN, as an eth_call; for a curve,
Aave's strategy constructor through the factory). Where the steward refuses what Aave accepts,
it is one of its deliberate extra rules, and nothing else:
- ZeroValueNotAllowed: caps, LTV, LT, LB never to zero (Aave's own stewards' rule; to Aave a
  zero cap means "no cap" and LTV 0 is valid);
- ThresholdTimesBonusAbove100 in the rounding margin: Aave rounds LT x LB half up
  (percentMul), so 100,000,001..100,004,999 pass Aave; the steward requires <= 100,000,000;
- InvalidRateCurve: the v3.2 curve rules (1% <= uOpt <= 99%, slope1 <= slope2, base + slope1 +
  slope2 <= 1000%); v3.0's strategy constructor only requires uOpt <= 100%.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.aave import our_contract
from chain.errors import ContractRevert
from chain.node import advance_time
from chain.steward import SubmitPath
from chain.transact import call
from strategies.bounds import BoundViolation, Bounds, check_submit
from strategies.params import MAX_CAP_TOKENS, Bound, Param
from tests.chain.conftest import MIN_DELAY_SECONDS, System, call_submit

WIDE = {p: Bound(1, 2**32 - 1, p in (Param.SUPPLY_CAP, Param.BORROW_CAP), 0 if p >= Param.RESERVE_FACTOR else 1,
                 2**64 - 1) for p in Param}
RAY_PER_BPS = 10**23


@pytest.fixture
def wide(system: System) -> System:
    """The system with every bound widened by governance (one timelock batch)."""
    payloads = [
        system.steward_call("setBound", int(p), (b.cooldown_seconds, b.max_change, b.is_relative, b.floor, b.ceiling))
        for p, b in WIDE.items()
    ]
    system.governance_do(*payloads, salt=b"\x0d" * 32)
    # Aave's verdicts are eth_calls from the timelock; the in-process EVM wants it able to pay gas.
    signed = system.governance.sign_transaction({
        "to": system.deployment.timelock, "value": 10**18, "gas": 100_000, "gasPrice": system.w3.eth.gas_price,
        "nonce": system.w3.eth.get_transaction_count(system.governance.address), "chainId": system.w3.eth.chain_id,
    })
    system.w3.eth.wait_for_transaction_receipt(system.w3.eth.send_raw_transaction(signed.raw_transaction))
    return system


def steward_verdict(system: System, symbol: str, changes: dict[Param, int]) -> str | None:
    try:
        call_submit(system, system.update(symbol, changes))
    except ContractRevert as revert:
        return revert.name
    return None


def mirror_verdict(current: dict[Param, int], changes: dict[Param, int], now: int) -> str | None:
    try:
        check_submit(current, changes, Bounds(dict(WIDE)), now)
    except BoundViolation as violation:
        return violation.name
    return None


def aave_verdict(system: System, symbol: str, current: dict[Param, int], changes: dict[Param, int]) -> str | None:
    """Aave's own answer to the configurator calls the steward would make, made by the
    timelock (POOL_ADMIN) as eth_calls on the current state."""
    asset, configurator, timelock = system.asset(symbol), system.configurator.functions, system.deployment.timelock
    after = {**current, **changes}
    calls = []
    if {Param.LTV, Param.LIQUIDATION_THRESHOLD, Param.LIQUIDATION_BONUS} & changes.keys():
        calls.append(configurator.configureReserveAsCollateral(
            asset, after[Param.LTV], after[Param.LIQUIDATION_THRESHOLD], after[Param.LIQUIDATION_BONUS]))
    if Param.SUPPLY_CAP in changes:
        calls.append(configurator.setSupplyCap(asset, after[Param.SUPPLY_CAP]))
    if Param.BORROW_CAP in changes:
        calls.append(configurator.setBorrowCap(asset, after[Param.BORROW_CAP]))
    if Param.RESERVE_FACTOR in changes:
        calls.append(configurator.setReserveFactor(asset, after[Param.RESERVE_FACTOR]))
    if {Param.OPTIMAL_USAGE_RATIO, Param.BASE_VARIABLE_BORROW_RATE, Param.VARIABLE_RATE_SLOPE1,
            Param.VARIABLE_RATE_SLOPE2} & changes.keys():
        factory = our_contract(system.w3, "RateStrategyFactory", system.deployment.rate_strategy_factory)
        curve = [after[p] * RAY_PER_BPS for p in (Param.OPTIMAL_USAGE_RATIO, Param.BASE_VARIABLE_BORROW_RATE,
                                                  Param.VARIABLE_RATE_SLOPE1, Param.VARIABLE_RATE_SLOPE2)]
        calls.append(factory.functions.getOrCreate([*curve, curve[2], curve[3], 0, 0, 0]))
    for fn in calls:
        try:
            call(fn, sender=timelock)
        except ContractRevert as revert:
            return revert.name
    return None


@st.composite
def edge_changes(draw):
    """A change set of WETH's parameters at the edges of Aave's and the steward's rules."""
    kind = draw(st.sampled_from(["collateral", "caps", "reserve_factor", "rates"]))
    if kind == "collateral":
        threshold = draw(st.one_of(st.integers(1, 9_999), st.sampled_from([1, 8_000, 9_500, 9_999, 10_000, 10_001])))
        bonus_edge = 10**8 // threshold
        bonus = draw(st.sampled_from([bonus_edge - 1, bonus_edge, bonus_edge + 1, 10_000, 10_001, 65_535, 65_536]))
        ltv = draw(st.sampled_from([threshold - 1, threshold, threshold + 1, 1, 0]))
        return {Param.LTV: max(ltv, 0), Param.LIQUIDATION_THRESHOLD: threshold, Param.LIQUIDATION_BONUS: max(bonus, 0)}
    if kind == "caps":
        cap = st.sampled_from([1, MAX_CAP_TOKENS - 1, MAX_CAP_TOKENS, MAX_CAP_TOKENS + 1, 0])
        return {Param.SUPPLY_CAP: draw(cap), Param.BORROW_CAP: draw(cap)}
    if kind == "reserve_factor":
        return {Param.RESERVE_FACTOR: draw(st.sampled_from([0, 1, 9_999, 10_000, 10_001, 65_536]))}
    optimal = draw(st.sampled_from([99, 100, 5_000, 9_900, 9_901, 10_000]))
    slope2 = draw(st.sampled_from([0, 300, 50_000, 99_000, 100_000]))
    slope1 = draw(st.sampled_from([slope2, slope2 + 1, 0, 500]))
    base = draw(st.sampled_from([0, 1_000, 100_000 - slope1 - slope2, 100_001 - slope1 - slope2]))
    return {Param.OPTIMAL_USAGE_RATIO: optimal, Param.BASE_VARIABLE_BORROW_RATE: max(base, 0),
            Param.VARIABLE_RATE_SLOPE1: slope1, Param.VARIABLE_RATE_SLOPE2: slope2}


def test_nothing_the_steward_accepts_is_refused_by_aave(wide: System):
    system = wide
    current = system.relay.current_values(system.asset("WETH"))
    seen = {"accepted": 0, "steward stricter": 0}

    @settings(max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(edge_changes())
    def check(changes):
        changes = {p: v for p, v in changes.items() if v != current[p]}  # ParamUnchanged is not the point here
        if not changes:
            return
        steward = steward_verdict(system, "WETH", changes)
        now = system.w3.eth.get_block("latest")["timestamp"]
        assert steward == mirror_verdict(current, changes, now), changes
        aave = aave_verdict(system, "WETH", current, changes)
        if steward is None:
            assert aave is None, (changes, aave)
            seen["accepted"] += 1
        elif aave is None:
            after = {**current, **changes}
            product = after[Param.LIQUIDATION_THRESHOLD] * after[Param.LIQUIDATION_BONUS]
            deliberate = (
                steward in ("ZeroValueNotAllowed", "InvalidRateCurve")
                or (steward == "ThresholdTimesBonusAbove100" and 10**8 < product <= 10**8 + 4_999)
            )
            assert deliberate, (changes, steward)
            seen["steward stricter"] += 1

    check()
    assert seen["accepted"] > 0  # the drawn edges include accepted updates


# Executed for real at the edges: accepted by the steward and applied by Aave unchanged.
EDGES = [
    pytest.param({Param.LTV: 8_000, Param.LIQUIDATION_THRESHOLD: 8_000, Param.LIQUIDATION_BONUS: 12_500},
                 id="lt-x-lb-exactly-100pct"),
    pytest.param({Param.LTV: 8_300}, id="ltv-equals-lt"),
    pytest.param({Param.SUPPLY_CAP: MAX_CAP_TOKENS, Param.BORROW_CAP: MAX_CAP_TOKENS}, id="caps-at-36-bits"),
    pytest.param({Param.RESERVE_FACTOR: 10_000}, id="rf-100pct"),
    pytest.param({Param.OPTIMAL_USAGE_RATIO: 9_900, Param.BASE_VARIABLE_BORROW_RATE: 1,
                  Param.VARIABLE_RATE_SLOPE1: 49_999, Param.VARIABLE_RATE_SLOPE2: 50_000}, id="curve-at-its-limits"),
    pytest.param({Param.LTV: 1, Param.LIQUIDATION_THRESHOLD: 1, Param.LIQUIDATION_BONUS: 65_535}, id="lb-at-16-bits"),
]


@pytest.mark.parametrize("changes", EDGES)
def test_edge_updates_execute_on_aave(wide: System, changes):
    system = wide
    result = system.propose("WETH", changes)
    if result.path is SubmitPath.SCHEDULED:
        advance_time(system.w3, MIN_DELAY_SECONDS)
        system.execute(result)
    params = system.aave_params("WETH")
    assert {p: params[p] for p in changes} == changes
