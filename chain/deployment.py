"""The deployment file: where every contract of one system lives, written by `deploy_system`.

Addresses come from this file, never from code, so the same adapters serve the demo pool, a
devnet and a real Aave v3 deployment (whose file is written by hand with its own addresses).
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ValidationError

from chain.errors import DeploymentFileError


class AssetDeployment(BaseModel):
    symbol: str
    token: str
    decimals: int
    aggregator: str | None = None


class AaveAddresses(BaseModel):
    """The Aave v3 contracts the reader needs; on DemoPool all but the oracle are the pool."""

    pool: str
    data_provider: str
    oracle: str
    rate_strategy: str
    multicall: str


class Deployment(BaseModel):
    chain_id: int
    market: AaveAddresses
    steward: str | None = None
    timelock: str | None = None
    governance: str | None = None
    guardian: str | None = None
    min_delay_seconds: int | None = None
    deployed_at_block: int = 0
    assets: list[AssetDeployment]

    def asset(self, symbol: str) -> AssetDeployment:
        for asset in self.assets:
            if asset.symbol == symbol:
                return asset
        known = ", ".join(a.symbol for a in self.assets)
        raise DeploymentFileError(f"asset {symbol!r} is not in the deployment (known: {known})")

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
        except (json.JSONDecodeError, ValidationError) as error:
            first = str(error).splitlines()[0]
            raise DeploymentFileError(f"deployment file {path} is malformed: {first}") from None
