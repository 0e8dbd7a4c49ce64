"""The steward as the backtest engine runs it: the same checks as the contract (through its
Python mirror, `strategies.bounds`), the same two paths (tightening-only applied at once,
the rest after the timelock delay, checked again at execution within the execution window),
one pending operation per parameter, cooldowns from execution."""

from __future__ import annotations

from dataclasses import dataclass, field

from strategies.bounds import BoundViolation, Bounds, Param, ParamState, check_apply, check_submit, split_fast_and_slow
from strategies.params import DEFAULT_BOUNDS, RiskParams

HOUR_S = 3_600


@dataclass
class PendingOperation:
    symbol: str
    changes: dict[Param, int]
    ready_at_s: int


@dataclass
class SimulatedSteward:
    """Parameters in force per asset, each parameter's state, and the timelock queue."""

    params: dict[str, RiskParams]
    delay_s: int
    execution_window_s: int = 86_400
    state: dict[str, dict[Param, ParamState]] = field(default_factory=dict)
    pending: list[PendingOperation] = field(default_factory=list)
    nonce: int = 0
    submitted: int = 0
    refused_at_submit: int = 0
    refused_at_execution: int = 0

    def bounds(self, symbol: str) -> Bounds:
        return Bounds(dict(DEFAULT_BOUNDS), dict(self.state.get(symbol, {})), self.execution_window_s)

    def _record(self, symbol: str, param: Param, **fields: int) -> None:
        states = self.state.setdefault(symbol, {})
        current = states.get(param, ParamState())
        states[param] = ParamState(fields.get("last_executed_at", current.last_executed_at),
                                   fields.get("pending_ready_at", current.pending_ready_at))

    def submit(self, symbol: str, changes: dict[Param, int], now_s: int) -> list[dict[Param, int]]:
        """Submits a decision's changes as the agent does (fast part first); returns the
        parts applied at once."""
        applied = []
        current = self.params[symbol].by_param()
        for part in split_fast_and_slow(current, changes):
            if not part:
                continue
            current = self.params[symbol].by_param()
            try:
                check_submit(current, part, self.bounds(symbol), now_s)
            except BoundViolation:
                self.refused_at_submit += 1
                continue
            self.nonce += 1
            self.submitted += 1
            fast, _ = split_fast_and_slow(current, part)
            if fast == part:
                self._apply(symbol, part, now_s)
                applied.append(part)
            else:
                ready = now_s + self.delay_s
                self.pending.append(PendingOperation(symbol, dict(part), ready))
                for param in part:
                    self._record(symbol, param, pending_ready_at=ready)
        return applied

    def _apply(self, symbol: str, changes: dict[Param, int], now_s: int) -> None:
        self.params[symbol] = self.params[symbol].with_changes(changes)
        for param in changes:
            self._record(symbol, param, last_executed_at=now_s, pending_ready_at=0)

    def execute_ready(self, now_s: int) -> list[tuple[str, dict[Param, int]]]:
        """Executes every operation whose delay has passed (a keeper tries each hour, as
        anyone may); returns what took effect. An operation the steward refuses at execution
        stays queued (it may pass later, as on chain) until its execution window ends; one
        that a fast-path update superseded never passes and leaves the queue."""
        executed = []
        for operation in [o for o in self.pending if o.ready_at_s <= now_s]:
            current = self.params[operation.symbol].by_param()
            try:
                check_apply(current, operation.changes, self.bounds(operation.symbol), now_s, operation.ready_at_s)
            except BoundViolation as violation:
                if violation.name in ("OperationExpired", "OperationSuperseded"):
                    self.pending.remove(operation)
                    self.refused_at_execution += 1
                continue
            self.pending.remove(operation)
            self._apply(operation.symbol, operation.changes, now_s)
            executed.append((operation.symbol, operation.changes))
        return executed
