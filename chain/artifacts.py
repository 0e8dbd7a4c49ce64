"""Compiled contracts (ABI + bytecode) committed under chain/artifacts, built by `make contracts`."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from eth_utils import function_signature_to_4byte_selector

from chain.errors import ArtifactMissingError

# Overridable so a packaged install (or a test) can point at another build.
ARTIFACTS_DIR = Path(os.environ.get("RISK_AGENT_ARTIFACTS_DIR", Path(__file__).resolve().parent / "artifacts"))
CONTRACT_NAMES = (
    "DemoPool",
    "DemoOracle",
    "PushableAggregator",
    "TestToken",
    "RiskSteward",
    "Multicall3",
    "TimelockController",
)


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict]
    bytecode: str


@cache
def load_artifact(name: str, directory: Path = ARTIFACTS_DIR) -> Artifact:
    path = directory / f"{name}.json"
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactMissingError(name, str(path)) from None
    except json.JSONDecodeError as error:
        raise ArtifactMissingError(name, f"{path} (unreadable: {error})") from None
    return Artifact(name=name, abi=raw["abi"], bytecode=raw["bytecode"])


@dataclass(frozen=True)
class ErrorSignature:
    name: str
    input_types: tuple[str, ...]


@cache
def custom_errors() -> dict[bytes, ErrorSignature]:
    """Every custom error of our contracts by 4-byte selector, for decoding revert data."""
    errors: dict[bytes, ErrorSignature] = {}
    for name in CONTRACT_NAMES:
        for entry in load_artifact(name).abi:
            if entry["type"] != "error":
                continue
            types = tuple(_abi_type(i) for i in entry["inputs"])
            selector = function_signature_to_4byte_selector(f"{entry['name']}({','.join(types)})")
            errors[selector] = ErrorSignature(entry["name"], types)
    return errors


def _abi_type(item: dict) -> str:
    if item["type"].startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in item["components"])
        return f"({inner}){item['type'][5:]}"
    return item["type"]
