"""Shadow mode: what the agent would sign for a live market, with no keys, no enclave
registration and nothing submitted.

It reads the market at one block exactly as the decide job does (the same `AnchorReader`,
prices from the feeds' own rounds), runs the same decision path (`enclave.decision.decide`
with the measured strategy config) and shows, per reserve, the parameters before and after,
the rationale and the metrics, and the unsigned updates."""

from __future__ import annotations

from dataclasses import dataclass

from web3 import Web3

from agent.market_inputs import AnchorReader, chain_prices
from chain.deployment import CANONICAL_MULTICALL3, Deployment
from chain.market import resolve_market
from chain.multicall import Multicall
from chain.positions import DiscoveryCursor, PositionReader, discover_accounts
from chain.reader import MarketReader
from chain.steward import StewardClient
from chain.update import ParameterUpdate
from enclave.decision import decide
from enclave.image import measure
from strategies.config import default_config
from strategies.inputs import DecisionInputs
from strategies.params import SPECS, Param
from strategies.types import Recommendation

ZERO_ADDRESS = "0x" + "00" * 20


@dataclass(frozen=True)
class ShadowResult:
    inputs: DecisionInputs
    recommendation: Recommendation
    updates: tuple[ParameterUpdate, ...]
    positions_note: str

    def as_json(self) -> dict:
        import json

        return {
            "anchor": {"block": self.inputs.anchor.block_number, "hash": "0x" + self.inputs.anchor.block_hash.hex(),
                       "timestamp": self.inputs.anchor.timestamp_s},
            "inputs_hash": "0x" + self.inputs.inputs_hash.hex(),
            "positions": self.positions_note,
            "recommendation": json.loads(self.recommendation.to_canonical_json()),
            "updates": [u.as_json() for u in self.updates],
        }

    def lines(self) -> list[str]:
        anchor = self.inputs.anchor
        out = [f"shadow decision at block {anchor.block_number} (time {anchor.timestamp_s}), "
               f"strategy config {self.recommendation.config_hash[:16]}..., inputs hash 0x{self.inputs.inputs_hash.hex()[:16]}...",
               f"positions: {self.positions_note}"]
        for asset in self.recommendation.assets:
            out.append(f"{asset.symbol}: {asset.action} - {asset.reason}")
            for change in asset.changes:
                spec = SPECS[Param(change.param)]
                out.append(f"  {spec.label:<24}{change.current:>16,} -> {change.proposed:>16,} {spec.unit}")
            for name, reason in asset.dropped.items():
                out.append(f"  (kept {name}: {reason})")
            shown = ("volatility_model", "hourly_volatility", "horizon_hours", "var_drop", "expected_shortfall_drop",
                     "liquidity_depth_usd", "depth_source", "newly_liquidatable_positions", "bad_debt_current_mean_usd",
                     "bad_debt_proposed_mean_usd", "risk_gate")
            metrics = ", ".join(f"{k}={_fmt(asset.metrics[k])}" for k in shown if k in asset.metrics)
            if metrics:
                out.append(f"  {metrics}")
        for update in self.updates:
            out.append(f"would sign: asset {update.asset} params {list(update.params)} values {list(update.values)} "
                       f"nonce {update.nonce} deadline {update.deadline}")
        if not self.updates:
            out.append("would sign: nothing")
        return out


def _fmt(value) -> str:
    return f"{value:,.4g}" if isinstance(value, float) else str(value)


def shadow_decision(
    w3: Web3,
    addresses_provider: str,
    assets: tuple[str, ...] | None = None,
    steward: str | None = None,
    block: int | None = None,
    fallback_depth_usd: float | None = None,
    *,
    multicall: str = CANONICAL_MULTICALL3,
    dex_pairs: dict[str, str] | None = None,
    positions_from_block: int | None = None,
    enclave: str | None = None,
) -> ShadowResult:
    """The decision for the market at `block` (default: latest). Positions are discovered
    from `positions_from_block` (on a local dev chain from block 0; elsewhere only when given,
    since scanning a whole chain's events takes long)."""
    config = default_config()
    number = int(w3.eth.get_block(block if block is not None else "latest")["number"])
    market = resolve_market(w3, addresses_provider, multicall=multicall, block_identifier=number)
    chosen = assets or market.symbols
    for symbol in chosen:
        market.reserve(symbol)  # an unlisted asset fails here with its own error
    deployment = Deployment(chain_id=market.chain_id, addresses_provider=market.addresses_provider, multicall=market.multicall,
                            steward=steward, dex_pairs=dex_pairs or {})
    reader_all = MarketReader(w3, market, deployment.dex_pairs)
    quotes = {reader_all.pair_quote_symbol(s) for s in chosen} - {None}
    selected = market.select(tuple(dict.fromkeys([*chosen, *sorted(quotes)])))
    reader = MarketReader(w3, selected, {s: pair for s, pair in deployment.dex_pairs.items() if s in selected.symbols})
    client = StewardClient(w3, steward, market.multicall) if steward else None
    if positions_from_block is None and (w3.eth.chain_id == 31337 or _is_in_process(w3)):
        positions_from_block = 0
    accounts: frozenset[str] = frozenset()
    note = "not read (give a start block to discover accounts from pool events)"
    if positions_from_block is not None:
        accounts = discover_accounts(w3, market, DiscoveryCursor(positions_from_block), number).accounts
        note = f"{len(accounts)} accounts from pool events since block {positions_from_block}"
    anchor_reader = AnchorReader(
        w3=w3, reader=reader, assets=list(chosen), config=config, prices=chain_prices(w3, Multicall(w3, market.multicall), number),
        steward=client, positions=PositionReader(w3, market), accounts=lambda: sorted(accounts),
        fallback_depth_usd={s: fallback_depth_usd for s in chosen} if fallback_depth_usd is not None else None,
    )
    inputs = anchor_reader.read(enclave or ZERO_ADDRESS, number)
    decision = decide(inputs, enclave or ZERO_ADDRESS, measure().digest, config)
    return ShadowResult(inputs, decision.recommendation, decision.updates, note)


def _is_in_process(w3: Web3) -> bool:
    from chain.node import is_in_process

    return is_in_process(w3)
