"""Compiled contracts: ours (ABI + bytecode under chain/artifacts, built by `make contracts`) and
Aave v3's, read unmodified from the npm packages pinned in package.json (`npm ci`)."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from eth_utils import function_signature_to_4byte_selector

from chain.errors import ArtifactMissingError, ChainError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Overridable so a packaged install (or a test) can point at another build.
ARTIFACTS_DIR = Path(os.environ.get("RISK_AGENT_ARTIFACTS_DIR", Path(__file__).resolve().parent / "artifacts"))
AAVE_PACKAGES_DIR = Path(os.environ.get("RISK_AGENT_AAVE_DIR", PROJECT_ROOT / "node_modules" / "@aave"))

# Aave contract name -> (package, path under its artifacts/contracts). Explicit: the packages
# also ship mocks with the same names.
AAVE_ARTIFACT_PATHS: dict[str, tuple[str, str]] = {
    "PoolAddressesProvider": ("core-v3", "protocol/configuration/PoolAddressesProvider.sol"),
    "ACLManager": ("core-v3", "protocol/configuration/ACLManager.sol"),
    "Pool": ("core-v3", "protocol/pool/Pool.sol"),
    "PoolConfigurator": ("core-v3", "protocol/pool/PoolConfigurator.sol"),
    "DefaultReserveInterestRateStrategy": ("core-v3", "protocol/pool/DefaultReserveInterestRateStrategy.sol"),
    "AToken": ("core-v3", "protocol/tokenization/AToken.sol"),
    "StableDebtToken": ("core-v3", "protocol/tokenization/StableDebtToken.sol"),
    "VariableDebtToken": ("core-v3", "protocol/tokenization/VariableDebtToken.sol"),
    "AaveOracle": ("core-v3", "misc/AaveOracle.sol"),
    "AaveProtocolDataProvider": ("core-v3", "misc/AaveProtocolDataProvider.sol"),
    "BorrowLogic": ("core-v3", "protocol/libraries/logic/BorrowLogic.sol"),
    "BridgeLogic": ("core-v3", "protocol/libraries/logic/BridgeLogic.sol"),
    "ConfiguratorLogic": ("core-v3", "protocol/libraries/logic/ConfiguratorLogic.sol"),
    "EModeLogic": ("core-v3", "protocol/libraries/logic/EModeLogic.sol"),
    "FlashLoanLogic": ("core-v3", "protocol/libraries/logic/FlashLoanLogic.sol"),
    "LiquidationLogic": ("core-v3", "protocol/libraries/logic/LiquidationLogic.sol"),
    "PoolLogic": ("core-v3", "protocol/libraries/logic/PoolLogic.sol"),
    "SupplyLogic": ("core-v3", "protocol/libraries/logic/SupplyLogic.sol"),
    "UiPoolDataProviderV3": ("periphery-v3", "misc/UiPoolDataProviderV3.sol"),
}
AAVE_ERRORS_SOURCE = ("core-v3", "contracts/protocol/libraries/helpers/Errors.sol")


@dataclass(frozen=True)
class Artifact:
    """ABI and creation bytecode; `link_references` maps library name -> byte offsets of its
    20-byte placeholder in the creation code (Aave's Pool and PoolConfigurator have them)."""

    name: str
    abi: list[dict]
    bytecode: str
    link_references: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def linked(self, libraries: dict[str, str]) -> str:
        """The creation code with each library's address written over its placeholder."""
        missing = sorted(set(self.link_references) - set(libraries))
        if missing:
            raise ChainError(f"{self.name} needs libraries {', '.join(missing)} deployed first")
        text = self.bytecode.removeprefix("0x")  # placeholders are not hex: patch the text
        for library, offsets in self.link_references.items():
            address = libraries[library].lower().removeprefix("0x")
            for offset in offsets:
                text = text[: 2 * offset] + address + text[2 * offset + 40 :]
        if "__" in text:
            raise ChainError(f"{self.name}: unlinked placeholder left in bytecode")
        return "0x" + text


@cache
def load_artifact(name: str, directory: Path = ARTIFACTS_DIR) -> Artifact:
    """One of our contracts, as chain/build.js wrote it."""
    path = directory / f"{name}.json"
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactMissingError(name, str(path)) from None
    except json.JSONDecodeError as error:
        raise ArtifactMissingError(name, f"{path} (unreadable: {error})") from None
    return Artifact(name=name, abi=raw["abi"], bytecode=raw["bytecode"])


def contract_names(directory: Path = ARTIFACTS_DIR) -> tuple[str, ...]:
    """Every contract chain/build.js emitted (one JSON file each)."""
    return tuple(sorted(p.stem for p in directory.glob("*.json")))


@cache
def load_aave_artifact(name: str) -> Artifact:
    """An Aave v3 contract from the pinned npm package's Hardhat artifact, unmodified."""
    if name not in AAVE_ARTIFACT_PATHS:
        raise ChainError(f"no Aave artifact named {name!r} (known: {', '.join(sorted(AAVE_ARTIFACT_PATHS))})")
    package, source = AAVE_ARTIFACT_PATHS[name]
    path = AAVE_PACKAGES_DIR / package / "artifacts" / "contracts" / source / f"{name}.json"
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactMissingError(name, f"{path} (run `npm ci`)") from None
    links: dict[str, tuple[int, ...]] = {}
    for libraries in raw.get("linkReferences", {}).values():
        for library, places in libraries.items():
            links[library] = tuple(place["start"] for place in places)
    return Artifact(name=name, abi=raw["abi"], bytecode=raw["bytecode"], link_references=links)


@cache
def aave_error_names() -> dict[str, str]:
    """Aave v3.0 revert codes ('4') -> names ('CALLER_NOT_RISK_OR_POOL_ADMIN'), parsed from the
    pinned package's Errors.sol so the table cannot drift from the bytecode we deploy."""
    package, source = AAVE_ERRORS_SOURCE
    path = AAVE_PACKAGES_DIR / package / source
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ArtifactMissingError("Errors.sol", f"{path} (run `npm ci`)") from None
    pattern = re.compile(r"string public constant (\w+) = '(\d+)';")
    return {code: name for name, code in pattern.findall(text)}


@dataclass(frozen=True)
class ErrorSignature:
    name: str
    input_types: tuple[str, ...]


@cache
def custom_errors() -> dict[bytes, ErrorSignature]:
    """Every custom error of our contracts by 4-byte selector, for decoding revert data."""
    errors: dict[bytes, ErrorSignature] = {}
    for name in contract_names():
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
