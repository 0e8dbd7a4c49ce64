"""Property, on the in-process EVM: for any random sequence of submits (fast and slow), executes,
vetoes and time jumps, (1) the steward accepts and refuses exactly as its Python mirror
(strategies.bounds.check_submit / check_apply over a model of the steward's state) with the same
error, and (2) no parameter ever moves more than its bound within its cooldown: every execution
moves a parameter by at most its step from the value then in force, and two executions of one
parameter are at least its cooldown apart -- read from Aave itself after each step.

The chain is first moved ahead of the wall clock, so every transaction lands at exactly the
latest block's second + 1, where the verdict is taken (an eth_call at "pending") and where the
mirror is asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from web3.logs import DISCARD

from chain.errors import ContractRevert
from chain.node import advance_time, latest_timestamp, revert_to, snapshot
from chain.steward import ScheduledUpdate
from chain.transact import call
from strategies.bounds import DEFAULT_EXECUTION_WINDOW_S, Bounds, BoundViolation, ParamState, check_apply, check_submit
from strategies.params import DEFAULT_BOUNDS, Param
from tests.chain.conftest import MIN_DELAY_SECONDS, System, mine_block

SYMBOLS = ("WETH",)
PARAMS = (Param.LTV, Param.LIQUIDATION_THRESHOLD, Param.LIQUIDATION_BONUS, Param.SUPPLY_CAP,
          Param.VARIABLE_RATE_SLOPE2)
JUMPS = (1, MIN_DELAY_SECONDS - 1, MIN_DELAY_SECONDS, MIN_DELAY_SECONDS, 3_600, 8 * 3_600, 86_400 - 61, 86_400,
         86_400 + 1, 3 * 86_400)
# Moves in units of a parameter's step (weighted toward inside the bound).
MOVES = (-1.5, -1.0, -1.0, -0.5, -0.5, -0.5, 0.5, 0.5, 0.5, 1.0, 1.0, 1.5)
STALE = "TimelockUnexpectedOperationState"  # executing or vetoing what is not pending/ready


@dataclass
class Operation:
    scheduled: ScheduledUpdate
    symbol: str
    changes: dict[Param, int]
    ready_at: int
    live: bool = True  # neither executed nor cancelled


@dataclass
class Model:
    """What the mirror believes the steward and Aave hold."""

    values: dict[str, dict[Param, int]]
    states: dict[str, dict[Param, ParamState]] = field(default_factory=dict)
    operations: list[Operation] = field(default_factory=list)
    executions: list[tuple[str, Param, int, int, int]] = field(default_factory=list)  # symbol, param, at, old, new

    def bounds(self, symbol: str) -> Bounds:
        return Bounds(dict(DEFAULT_BOUNDS), dict(self.states.get(symbol, {})), DEFAULT_EXECUTION_WINDOW_S)

    def set_state(self, symbol: str, param: Param, **fields) -> None:
        states = self.states.setdefault(symbol, {})
        states[param] = replace(states.get(param, ParamState()), **fields)

    def execute(self, symbol: str, changes: dict[Param, int], now: int) -> None:
        for param, value in changes.items():
            self.executions.append((symbol, param, now, self.values[symbol][param], value))
            self.values[symbol][param] = value
            self.set_state(symbol, param, last_executed_at=now)


def verdict(fn, sender: str) -> str | None:
    try:
        call(fn, block_identifier="pending", sender=sender)
    except ContractRevert as revert:
        return revert.name
    return None


def mirror(check) -> str | None:
    try:
        check()
    except BoundViolation as violation:
        return violation.name
    return None


def send_unsimulated(system: System, account, fn) -> dict:
    """Sends at the pending block (no simulation at "latest", which is one second earlier)."""
    tx = fn.build_transaction({"from": account.address, "gas": 5_000_000,
                               "nonce": system.w3.eth.get_transaction_count(account.address)})
    receipt = system.w3.eth.wait_for_transaction_receipt(
        system.w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction))
    assert receipt["status"] == 1
    return receipt


@st.composite
def actions(draw):
    kind = draw(st.sampled_from(["submit"] * 4 + ["execute"] * 3 + ["veto"] + ["jump"] * 5))
    if kind == "submit":
        symbol = draw(st.sampled_from(SYMBOLS))
        params = draw(st.lists(st.sampled_from(PARAMS), min_size=1, max_size=2, unique=True))
        # A move in units of the parameter's step: inside, at, or past the bound, either way.
        moves = [draw(st.sampled_from(MOVES)) for _ in params]
        # Often the parameters of the oldest live operation instead (to meet its pending window).
        return ("submit", symbol, tuple(params), tuple(moves), draw(st.booleans()))
    if kind in ("execute", "veto"):
        # Mostly an operation still live; sometimes any (executed, vetoed, expired ones too);
        # an execute often waits for its operation to be ready first.
        return (kind, draw(st.integers(0, 7)), draw(st.sampled_from([True, True, True, False])),
                kind == "execute" and draw(st.booleans()))
    # A fixed jump, or to the second a live operation becomes ready / its window ends (+-1).
    anchor = draw(st.sampled_from(["fixed"] * 2 + ["ready"] * 1 + ["window_end"] * 1 + ["cooldown_end"] * 2))
    if anchor == "fixed":
        return ("jump", draw(st.sampled_from(JUMPS)), None)
    return ("jump", (anchor, draw(st.sampled_from([-1, 0, 1]))), draw(st.sampled_from([0.5, 1.0, -0.5])))


def boundary(model: Model, jump) -> tuple[int, str, tuple[Param, ...]] | None:
    """(second, symbol, params) of a boundary: the oldest live operation's ready time or window
    end, or the end of the latest execution's cooldown, shifted by the jump's offset."""
    anchor, offset = jump
    live = [op for op in model.operations if op.live]
    if anchor == "cooldown_end" and model.executions:
        symbol, param, at, _, _ = model.executions[-1]
        return at + DEFAULT_BOUNDS[param].cooldown_seconds + offset, symbol, (param,)
    if anchor in ("ready", "window_end") and live:
        end = DEFAULT_EXECUTION_WINDOW_S if anchor == "window_end" else 0
        return live[0].ready_at + end + offset, live[0].symbol, tuple(live[0].changes)
    return None


def pick(model: Model, step) -> Operation:
    _, index, live_only, _ = step
    live = [op for op in model.operations if op.live]
    pool = live if live_only and live else model.operations
    return pool[index % len(pool)]


def run(system: System, steps) -> Model:
    w3 = system.w3
    model = Model(values={s: system.aave_params(s) for s in SYMBOLS})
    for step in steps:
        now = latest_timestamp(w3) + 1  # where the next transaction lands
        if step[0] == "jump" and isinstance(step[1], int):
            advance_time(w3, step[1])
        elif step[0] == "jump":
            # To a boundary second (when still ahead), then a submit of its parameters there.
            target = boundary(model, step[1])
            if target is None or target[0] < now:
                advance_time(w3, MIN_DELAY_SECONDS)
                continue
            if target[0] - now >= 2:
                # Land at the boundary with a fresh anchor: jump to 2 s before it, mine one block
                # (1 s), so the update's anchor block is recent and nothing more is mined.
                advance_time(w3, target[0] - now - 1)
                mine_block(w3)
            step = ("submit", target[1], target[2][:1], (step[2],), False)
        if step[0] == "submit":
            _, symbol, params, moves, follow_live = step
            live = [op for op in model.operations if op.live]
            if follow_live and live:
                symbol, params = live[0].symbol, tuple(live[0].changes)[: len(moves)]
                moves = tuple(abs(m) for m in moves)[: len(params)]  # upward: the slow path
            current = model.values[symbol]
            changes = {}
            for param, move in zip(params, moves, strict=True):
                step_size = DEFAULT_BOUNDS[param].max_difference(current[param])
                changes[param] = current[param] + int(move * step_size)
            update = system.update(symbol, changes)
            now = latest_timestamp(w3) + 1  # update() may have mined a block
            fn = system.steward.functions.submit(update.as_tuple(), system.sign(update))
            expected = mirror(lambda: check_submit(current, changes, model.bounds(symbol), now))
            assert verdict(fn, system.relayer.address) == expected, (step, now)
            if expected is None:
                receipt = send_unsimulated(system, system.relayer, fn)
                applied = system.steward.events.UpdateApplied().process_receipt(receipt, errors=DISCARD)
                if applied:
                    model.execute(symbol, changes, now)
                    for param in changes:  # a fast-path update supersedes what pends on its parameters
                        model.set_state(symbol, param, pending_ready_at=0)
                else:
                    operation = system.relay.operation_for(update)
                    model.operations.append(Operation(operation, symbol, changes, now + MIN_DELAY_SECONDS))
                    for param in changes:
                        model.set_state(symbol, param, pending_ready_at=now + MIN_DELAY_SECONDS)
        elif step[0] == "execute" and model.operations:
            op = pick(model, step)
            if step[3] and op.ready_at > now:
                advance_time(w3, op.ready_at - now)
                now = op.ready_at
            fn = system.timelock.functions.execute(*op.scheduled.execute_args())
            if not op.live or now < op.ready_at:
                expected = STALE
            else:
                expected = mirror(lambda op=op: check_apply(
                    model.values[op.symbol], op.changes, model.bounds(op.symbol), now, op.ready_at))
            assert verdict(fn, system.relayer.address) == expected, (step, now)
            if expected is None:
                send_unsimulated(system, system.relayer, fn)
                model.execute(op.symbol, op.changes, now)
                op.live = False
                for param in op.changes:
                    if model.states[op.symbol][param].pending_ready_at == op.ready_at:
                        model.set_state(op.symbol, param, pending_ready_at=0)
        elif step[0] == "veto" and model.operations:
            op = pick(model, step)
            scheduled = op.scheduled
            fn = system.steward.functions.veto(scheduled.asset, list(scheduled.params), list(scheduled.values),
                                               scheduled.update_hash)
            expected = None if op.live else STALE
            assert verdict(fn, system.guardian.address) == expected, (step, now)
            if expected is None:
                send_unsimulated(system, system.guardian, fn)
                op.live = False
                for param in op.changes:
                    if model.states[op.symbol][param].pending_ready_at == op.ready_at:
                        model.set_state(op.symbol, param, pending_ready_at=0)
        if model.executions and model.executions[-1][2] == now:  # something was just written
            for symbol in SYMBOLS:
                assert system.aave_params(symbol) == model.values[symbol], (step, symbol)
    return model


def assert_bounds_held(model: Model) -> None:
    last: dict[tuple[str, Param], int] = {}
    for symbol, param, at, old, new in model.executions:
        bound = DEFAULT_BOUNDS[param]
        assert abs(new - old) <= bound.max_difference(old), (symbol, param, old, new)
        if (symbol, param) in last:
            assert at - last[(symbol, param)] >= bound.cooldown_seconds, (symbol, param, at, last[(symbol, param)])
        last[(symbol, param)] = at


def check_random_sequences(system: System, examples: int) -> None:
    base = snapshot(system.w3)
    advance_time(system.w3, 86_400)  # ahead of the wall clock: blocks land at latest + 1 s
    start = snapshot(system.w3)
    totals = {"executions": 0}

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(actions(), min_size=6, max_size=14))
    def check(steps):
        revert_to(system.w3, start)
        model = run(system, steps)
        assert_bounds_held(model)
        totals["executions"] += len(model.executions)

    try:
        check()
    finally:
        revert_to(system.w3, base)
    assert totals["executions"] > 0


@pytest.mark.parametrize("deployed", ["in_process"], indirect=True)
def test_random_sequences_keep_the_bounds_and_match_the_mirror(deployed: System):
    """Ten new random sequences on every run (about half a second of py-evm each); `make test-slow`
    runs a hundred."""
    check_random_sequences(deployed, 10)


@pytest.mark.slow
@pytest.mark.parametrize("deployed", ["in_process"], indirect=True)
def test_a_hundred_random_sequences_keep_the_bounds_and_match_the_mirror(deployed: System):
    check_random_sequences(deployed, 100)
