"""The deployment file: which market the agent governs and where our own contracts live.

A market is named by its PoolAddressesProvider alone; the pool, configurator, oracle, data
provider, ACL manager, reserves and price feeds are derived on chain (chain.market). Written by
`deploy_system` for the demo, or by hand for any Aave v3 market (an anvil fork of mainnet, a
devnet) with just `chain_id`, `addresses_provider`, `steward` and `timelock`.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ValidationError, field_validator
from web3 import Web3

from chain.errors import DeploymentFileError, WrongChainError

# mds1/multicall: the same address on mainnet and most chains (and on their anvil forks).
CANONICAL_MULTICALL3 = "0xcA11bde05977b3631167028862bE2a173976CA11"


def _checksum(value: str | None) -> str | None:
    if value is None:
        return None
    if not Web3.is_address(value):
        raise ValueError(f"{value!r} is not an address")
    return Web3.to_checksum_address(value)


class Deployment(BaseModel):
    """Optional fields: `multicall` defaults to the canonical Multicall3;
    `ui_pool_data_provider` (Aave's periphery UiPoolDataProviderV3, not registered in the
    provider) speeds up position reads when known; `dex_pairs` names a Uniswap-v2-style pair per
    reserve symbol for on-chain depth; `deployed_at_block` is where event scans start."""

    chain_id: int
    addresses_provider: str
    multicall: str = CANONICAL_MULTICALL3
    ui_pool_data_provider: str | None = None
    steward: str | None = None
    timelock: str | None = None
    registrar: str | None = None
    rate_strategy_factory: str | None = None
    governance: str | None = None
    guardian: str | None = None
    operator: str | None = None
    min_delay_seconds: int | None = None
    execution_window_seconds: int | None = None
    deployed_at_block: int = 0
    dex_pairs: dict[str, str] = {}

    @field_validator(
        "addresses_provider", "multicall", "ui_pool_data_provider", "steward", "timelock", "registrar",
        "rate_strategy_factory", "governance", "guardian", "operator",
    )
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        return _checksum(value)

    @field_validator("dex_pairs")
    @classmethod
    def _pairs(cls, value: dict[str, str]) -> dict[str, str]:
        return {symbol: _checksum(address) for symbol, address in value.items()}

    def check_chain(self, w3: Web3) -> None:
        """Raises `WrongChainError` when `w3` serves another chain than this file names."""
        actual = int(w3.eth.chain_id)
        if actual != self.chain_id:
            raise WrongChainError(self.chain_id, actual)

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(path.suffix + ".tmp")
        temporary.write_text(self.model_dump_json(indent=2) + "\n")
        temporary.replace(path)

    @classmethod
    def read(cls, path: Path) -> Deployment:
        try:
            return cls.model_validate(json.loads(Path(path).read_text()))
        except FileNotFoundError:
            raise DeploymentFileError(f"deployment file {path} not found (run `risk-agent chain deploy`)") from None
        except json.JSONDecodeError as error:
            raise DeploymentFileError(f"deployment file {path} is not JSON: {error}") from None
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise DeploymentFileError(f"deployment file {path} is malformed: {where}: {first['msg']}") from None
