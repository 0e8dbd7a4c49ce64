"""A decision's canonical inputs and the pure function from inputs to unsigned updates.

The agent builds `DecisionInputs`, the enclave hashes their canonical bytes (`inputs_hash`,
committed in every signed update), runs the strategy and turns each asset's changes into a
`ParameterUpdate`. `risk-agent verify` runs the very same function on the stored inputs."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from eth_utils import keccak

from chain.update import MAX_UPDATE_VALIDITY_SECONDS, ParameterUpdate
from strategies.bounds import Bound, Bounds, Param, ParamState
from strategies.strategy import RiskStrategy
from strategies.types import AssetHistory, BorrowerPosition, MarketHistory, Recommendation, RiskParams, canonical_json


class InputsError(ValueError):
    """Inputs that cannot be parsed into a decision (named field, one line)."""


@dataclass(frozen=True)
class DecisionInputs:
    chain_id: int
    steward: str
    first_nonce: int
    asset_addresses: dict[str, str]
    history: MarketHistory
    current: dict[str, RiskParams]
    bounds: dict[str, Bounds]

    def to_json(self) -> dict:
        return {
            "chain_id": self.chain_id,
            "steward": self.steward,
            "first_nonce": self.first_nonce,
            "asset_addresses": dict(sorted(self.asset_addresses.items())),
            "history": asdict(self.history),
            "current": {s: asdict(p) for s, p in sorted(self.current.items())},
            "bounds": {
                s: {
                    "limits": {p.name: asdict(b) for p, b in sorted(bounds.limits.items())},
                    "last_updated_at": {p.name: st.last_executed_at for p, st in sorted(bounds.state.items())},
                }
                for s, bounds in sorted(self.bounds.items())
            },
        }

    def canonical_bytes(self) -> bytes:
        return canonical_json(self.to_json())

    @property
    def inputs_hash(self) -> bytes:
        return keccak(self.canonical_bytes())

    @classmethod
    def from_json(cls, raw: dict) -> DecisionInputs:
        try:
            history = raw["history"]
            market = MarketHistory(
                as_of_s=int(history["as_of_s"]),
                assets=tuple(
                    AssetHistory(
                        **{
                            **a,
                            "timestamps_s": tuple(int(t) for t in a["timestamps_s"]),
                            "prices_usd": tuple(float(p) for p in a["prices_usd"]),
                            "utilization_history": tuple(float(u) for u in a.get("utilization_history", ())),
                        }
                    )
                    for a in history["assets"]
                ),
                positions=tuple(BorrowerPosition(**p) for p in history.get("positions", ())),
            )
            bounds = {
                symbol: Bounds(
                    limits={Param[name]: Bound(**b) for name, b in entry["limits"].items()},
                    state={Param[name]: ParamState(last_executed_at=int(t)) for name, t in entry["last_updated_at"].items()},
                )
                for symbol, entry in raw["bounds"].items()
            }
            return cls(
                chain_id=int(raw["chain_id"]),
                steward=str(raw["steward"]),
                first_nonce=int(raw["first_nonce"]),
                asset_addresses=dict(raw["asset_addresses"]),
                history=market,
                current={s: RiskParams(**p) for s, p in raw["current"].items()},
                bounds=bounds,
            )
        except (KeyError, TypeError, ValueError) as error:
            raise InputsError(f"malformed decision inputs: {type(error).__name__}: {error}") from None


@dataclass(frozen=True)
class UnsignedDecision:
    inputs_hash: bytes
    recommendation: Recommendation
    updates: tuple[ParameterUpdate, ...]


def decide(inputs: DecisionInputs, enclave_address: str, measurement: bytes, strategy: RiskStrategy = RiskStrategy()) -> UnsignedDecision:
    """Deterministic: the same inputs give the same recommendation and updates, byte for byte.
    The deadline derives from the inputs' own clock (`as_of_s`), never the wall clock."""
    recommendation = strategy.propose(inputs.history, inputs.current, inputs.bounds)
    inputs_hash = inputs.inputs_hash
    updates = []
    nonce = inputs.first_nonce
    for asset in recommendation.assets:
        if asset.action != "update" or asset.symbol not in inputs.asset_addresses:
            continue
        changes = sorted(asset.changes, key=lambda c: c.param)
        updates.append(
            ParameterUpdate(
                enclave=enclave_address,
                chain_id=inputs.chain_id,
                asset=inputs.asset_addresses[asset.symbol],
                params=tuple(int(c.param) for c in changes),
                values=tuple(int(c.proposed) for c in changes),
                nonce=nonce,
                deadline=inputs.history.as_of_s + MAX_UPDATE_VALIDITY_SECONDS,
                inputs_hash=inputs_hash,
                measurement=measurement,
            )
        )
        nonce += 1
    return UnsignedDecision(inputs_hash, recommendation, tuple(updates))
