"""From canonical inputs to signed-ready parameter updates: what the enclave runs.

The agent sends the canonical bytes of `DecisionInputs` (deterministic CBOR, see
`strategies.inputs`); the enclave refuses anything not in canonical form, hashes the bytes
(`inputs_hash`, committed in every signed update), runs the one decision path with the
strategy config of its own measured image, and turns each asset's changes into one or two
`ParameterUpdate`s: the tightening-only part (applied at once by the steward) and the rest
(waits the timelock), numbered from the steward's nonce counter read at the anchor block.
`risk-agent verify` runs the very same function on the published inputs."""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils import keccak

from chain.update import MAX_UPDATE_VALIDITY_SECONDS, ParameterUpdate
from strategies.bounds import split_fast_and_slow
from strategies.config import StrategyConfig, load_config
from strategies.decision import recommend
from strategies.inputs import DecisionInputs, InputsError, decode_inputs
from strategies.types import Recommendation

__all__ = ["DecisionInputs", "InputsError", "UnsignedDecision", "decide", "decide_canonical"]


@dataclass(frozen=True)
class UnsignedDecision:
    inputs_hash: bytes
    recommendation: Recommendation
    updates: tuple[ParameterUpdate, ...]


def decide(inputs: DecisionInputs, enclave_address: str, measurement: bytes, config: StrategyConfig | None = None,
           canonical: bytes | None = None) -> UnsignedDecision:
    """Deterministic: the same inputs give the same recommendation and updates, byte for byte.
    The deadline derives from the anchor block's time, never the wall clock."""
    config = config or load_config()
    inputs_hash = keccak(canonical if canonical is not None else inputs.canonical_bytes())
    recommendation = recommend(inputs, config, inputs_hash)
    anchor = inputs.anchor
    updates = []
    nonce = inputs.enclave_nonce
    for asset_rec in recommendation.assets:
        if asset_rec.action != "update":
            continue
        asset = inputs.asset(asset_rec.symbol)
        fast, slow = split_fast_and_slow(asset.params.by_param(), asset_rec.changes_by_param())
        for part in (fast, slow):
            if not part:
                continue
            ordered = sorted(part.items())
            updates.append(ParameterUpdate(
                enclave=enclave_address,
                chain_id=inputs.chain_id,
                asset=asset.address,
                params=tuple(int(p) for p, _ in ordered),
                values=tuple(int(v) for _, v in ordered),
                nonce=nonce,
                anchor_block=anchor.block_number,
                anchor_block_hash=anchor.block_hash,
                anchor_timestamp=anchor.timestamp_s,
                deadline=anchor.timestamp_s + MAX_UPDATE_VALIDITY_SECONDS,
                inputs_hash=inputs_hash,
                measurement=measurement,
            ))
            nonce += 1
    return UnsignedDecision(inputs_hash, recommendation, tuple(updates))


def decide_canonical(body: bytes, enclave_address: str, measurement: bytes,
                     config: StrategyConfig | None = None) -> tuple[DecisionInputs, UnsignedDecision]:
    """The enclave's entry: canonical bytes in (anything else is an `InputsError`)."""
    inputs = decode_inputs(body)
    return inputs, decide(inputs, enclave_address, measurement, config, canonical=body)
