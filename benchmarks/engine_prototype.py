"""Proposed speed-ups for the static liquidation engine (`backtests/simulator.py`, which the
perf helper does not own), as pure drop-in helpers with the engine's exact arithmetic, so
that the benchmark can measure them and check that the results are identical:

- `liquidate_vectorized` has `_liquidate`'s signature and effect, computed over the whole
  liquidatable slice at once. Every per-position value comes from the same IEEE operations
  in the same order; the result's running totals are accumulated left to right with
  `np.cumsum` (a sequential sum, as the loop's `+=`), so every figure is the loop's, bit for bit.
- `BookSums` caches a book's `debt_usd.sum()` and `tokens.sum()` until the book changes
  (a liquidation or a sort): the engine recomputes 3 sums of every book every hour although
  most hours liquidate nothing; an unchanged array has the same sum.

The call-site changes for the simulator's owner are in the perf report."""

from __future__ import annotations

import numpy as np


def _sequential_total(start: float, values: np.ndarray) -> float:
    """start + values[0] + values[1] + ..., left to right (the loop's `+=` order)."""
    if len(values) == 0:
        return start
    return np.cumsum(np.concatenate(([start], values)))[-1]


def liquidate_vectorized(book, first: int, price: float, threshold: float, bonus: float, debt_index: float,
                         path, config, result) -> bool:
    """`backtests.simulator._liquidate`, vectorized: positions [first:] liquidated once each
    (close factor, bonus, slippage), in the same arithmetic. True when a position changed
    (when all were skipped as unprofitable, the book, its order and its sums stay as they are)."""
    tokens = book.tokens[first:]
    debt = book.debt_usd[first:] * debt_index
    active = debt > 0
    collateral_value = tokens * price
    with np.errstate(divide="ignore", invalid="ignore"):
        health = collateral_value * threshold / debt
    close_factor = np.where(health <= config.close_factor_hf_threshold, 1.0, 0.5)
    repay = debt * close_factor
    wanted = repay * bonus
    seized_value = np.where(collateral_value < wanted, collateral_value, wanted)  # min(wanted, collateral)
    repay = np.where(seized_value < wanted, seized_value / bonus, repay)
    reserve = path.liquidity_depth_usd * (1 - config.depth_slippage) / config.depth_slippage
    slippage = seized_value / (reserve + seized_value)
    skipped = active & (slippage >= bonus - 1) & (collateral_value > 0)
    done = active & ~skipped
    result.skipped_unprofitable_liquidations += int(skipped.sum())
    if not done.any():
        return False
    index = np.flatnonzero(done)
    repay, seized_value, debt, tokens = repay[index], seized_value[index], debt[index], tokens[index]
    bonus_value = seized_value - repay
    result.liquidations += len(index)
    result.liquidated_debt_usd = _sequential_total(result.liquidated_debt_usd, repay)
    result.borrower_bonus_losses_usd = _sequential_total(result.borrower_bonus_losses_usd, bonus_value)
    result.protocol_revenue_usd = _sequential_total(result.protocol_revenue_usd,
                                                    bonus_value * config.liquidation_protocol_fee)
    tokens_after = tokens - seized_value / price
    remaining = debt - repay
    written_off = (tokens_after <= 1e-12) & (remaining > 0)
    result.bad_debt_usd = _sequential_total(result.bad_debt_usd, remaining[written_off])
    remaining = np.where(written_off, 0.0, remaining)
    tokens_after = np.where(written_off, 0.0, tokens_after)
    book.tokens[first + index] = tokens_after
    book.debt_usd[first + index] = remaining / debt_index
    return True


class BookSums:
    """Sums of one book's arrays, recomputed only after the book changed."""

    def __init__(self, book) -> None:
        self.book = book
        self.invalidate()

    def invalidate(self) -> None:
        self._debt = self._tokens = None

    @property
    def debt_usd(self) -> float:
        if self._debt is None:
            self._debt = self.book.debt_usd.sum()
        return self._debt

    @property
    def tokens(self) -> float:
        if self._tokens is None:
            self._tokens = self.book.tokens.sum()
        return self._tokens


def simulate_static(paths, initial, config):
    """`backtests.simulator.simulate(paths, initial, None, config)` (the static baseline) with
    both proposals: liquidation vectorized, a book sorted and summed again only when a
    liquidation changed it. Same BacktestResult, bit for bit (checked by the benchmark)."""
    from backtests.simulator import HOURS_PER_YEAR, BacktestResult, _stable_borrow_rate, make_population

    hours = min(len(p.prices_usd) for p in paths)
    params = dict(initial)
    books = {p.symbol: make_population(p, params[p.symbol], config, config.seed + i) for i, p in enumerate(paths)}
    sums = {symbol: BookSums(book) for symbol, book in books.items()}
    result = BacktestResult("static", hours)
    result.parameters = {p.symbol: [] for p in paths}
    debt_index = 1.0
    stable_supply = sum(s.debt_usd for s in sums.values()) / config.stable_target_utilization
    efficiency, gaps = np.zeros(hours), np.zeros(hours)
    bad_debt_series, utilization_series = np.zeros(hours), np.zeros(hours)
    for t in range(config.start_hour, hours):
        total_debt = sum(s.debt_usd for s in sums.values()) * debt_index
        utilization = min(total_debt / stable_supply, 1.0) if stable_supply else 0.0
        utilization_series[t] = utilization
        rate = _stable_borrow_rate(utilization, config)
        interest = total_debt * rate / HOURS_PER_YEAR
        debt_index *= 1 + rate / HOURS_PER_YEAR
        result.protocol_revenue_usd += interest * config.stable_reserve_factor
        gaps[t] = abs(utilization - config.stable_rate[0])
        borrowing_power = 0.0
        for path in paths:
            symbol, price = path.symbol, float(path.prices_usd[t])
            book, p = books[symbol], params[symbol]
            threshold, bonus = p.liquidation_threshold_bps / 1e4, p.liquidation_bonus_bps / 1e4
            first = int(np.searchsorted(book.base, price * threshold / debt_index, side="left"))
            if first < len(book.base) and liquidate_vectorized(book, first, price, threshold, bonus, debt_index, path,
                                                               config, result):
                book.sort()
                sums[symbol].invalidate()
            borrowing_power += float(sums[symbol].tokens) * price * p.ltv_bps / 1e4
        bad_debt_series[t] = result.bad_debt_usd
        total_debt = sum(s.debt_usd for s in sums.values()) * debt_index
        efficiency[t] = total_debt / borrowing_power if borrowing_power > 0 else 0.0
    window = slice(config.start_hour, hours)
    result.hours = hours - config.start_hour
    result.mean_capital_efficiency = float(efficiency[window].mean())
    result.mean_utilization_gap = float(gaps[window].mean())
    result.series = {"efficiency": efficiency[window], "bad_debt_usd": bad_debt_series[window],
                     "timestamps_s": paths[0].timestamps_s[window], "utilization": utilization_series[window],
                     **{f"price_{p.symbol}": p.prices_usd[window] for p in paths}}
    return result
