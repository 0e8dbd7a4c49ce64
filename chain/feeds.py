"""A Chainlink-style feed's rounds, read in Multicall3 batches at one block.

The agent stores every round it sees (`updatedAt` is when the price became true); shadow mode
reads a window of history straight from the feed; `verify` re-reads each round an update's
published inputs name. Round ids walk back within the feed's current phase (a proxy's id is
`phase << 64 | n`); a round the feed does not have ends the walk."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from web3 import Web3

from chain.aave import our_contract
from chain.multicall import Multicall, encode
from chain.transact import call

PHASE_MASK = (1 << 64) - 1


@dataclass(frozen=True)
class FeedRound:
    round_id: int
    answer: int
    updated_at: int


@dataclass(frozen=True)
class FeedRounds:
    """Rounds oldest first; `price(i)` is answer / 10**decimals."""

    feed: str
    decimals: int
    rounds: tuple[FeedRound, ...]

    def prices_usd(self) -> list[float]:
        scale = 10**self.decimals
        return [r.answer / scale for r in self.rounds]


def feed_decimals(w3: Web3, feed: str) -> int:
    return int(call(our_contract(w3, "PushableAggregator", feed).functions.decimals()))


def read_rounds(w3: Web3, multicall: Multicall, feed: str, round_ids: Sequence[int],
                block_identifier: int | str = "latest") -> dict[int, FeedRound | None]:
    """getRoundData of each id at one block; None for a round the feed does not have."""
    contract = our_contract(w3, "PushableAggregator", feed)
    calls = [encode(contract, "getRoundData", int(r), allow_failure=True) for r in round_ids]
    result = {}
    for round_id, value in zip(round_ids, multicall.read(calls, block_identifier), strict=True):
        if value is None or int(value[3]) == 0:
            result[int(round_id)] = None
        else:
            result[int(round_id)] = FeedRound(int(value[0]), int(value[1]), int(value[3]))
    return result


def rounds_since(w3: Web3, multicall: Multicall, feed: str, latest_round_id: int, since_s: int,
                 block_identifier: int | str = "latest", *, after_round_id: int = 0, batch: int = 500,
                 max_rounds: int = 50_000) -> FeedRounds:
    """The feed's rounds from `latest_round_id` back to the first one updated at or before
    `since_s` (exclusive), or to `after_round_id` (exclusive), oldest first."""
    found: list[FeedRound] = []
    round_id = latest_round_id
    phase_start = latest_round_id & ~PHASE_MASK
    done = False
    while not done and round_id > max(phase_start, after_round_id) and len(found) < max_rounds:
        ids = list(range(round_id, max(round_id - batch, phase_start, after_round_id), -1))
        rounds = read_rounds(w3, multicall, feed, ids, block_identifier)
        for rid in ids:
            value = rounds[rid]
            if value is None or value.updated_at <= since_s:
                done = True
                break
            found.append(value)
        round_id = ids[-1] - 1
    return FeedRounds(Web3.to_checksum_address(feed), feed_decimals(w3, feed), tuple(reversed(found)))
