"""Service configuration: a TOML file plus `RISK_AGENT_*` environment variables (nested with
`__`, e.g. `RISK_AGENT_ENCLAVE__URL`), environment winning. Profiles `demo`, `local` and
`production`; production refuses the development enclave root and plain-text keys. A wrong
or missing setting raises `ConfigError` with one line naming it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from eth_account import Account
from eth_account.signers.local import LocalAccount
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from agent.errors import RiskAgentError


class ConfigError(RiskAgentError):
    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"config: {setting}: {problem}")
        self.setting = setting


class Strict(BaseModel):
    """A misspelt setting is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class EnclaveSettings(Strict):
    url: str | None = None  # None: the service starts a local enclave process itself
    backend: Literal["local", "nitro"] = "local"
    trust_dev_root: bool = False
    dev_ca_dir: Path | None = None
    max_attestation_age_s: float = Field(300, gt=0)
    auto_register: bool = False  # schedule registration of a new key (the operator must be a proposer)
    token_env: str | None = None  # environment variable holding the enclave's client bearer token (never the file)


class OperatorSettings(Strict):
    """The account that relays and executes. Never logged."""

    keystore_file: Path | None = None
    keystore_password_env: str | None = None
    private_key_env: str | None = None  # plain text in the environment: refused in production
    use_dev_account: int | None = None  # index of a local node's dev account (demo and local only)


class BackfillSource(Strict):
    """An earlier price history for one asset, so a fresh service has a full window: any
    format `risk-agent data inspect` reads, detected from the content unless `format` names
    it; `decimals` scales a Chainlink round dump whose file does not state them."""

    file: Path
    format: str | None = None
    decimals: int | None = Field(None, ge=0, le=36)

    @model_validator(mode="after")
    def _known_format(self) -> BackfillSource:
        if self.format is not None:
            from backtests.formats import FORMAT_NAMES

            if self.format not in FORMAT_NAMES:
                raise ValueError(f"format {self.format!r} is not one of {', '.join(FORMAT_NAMES)}")
        return self

    def __fspath__(self) -> str:
        """A source is also its file's path (callers that open the path still work; only
        `load` applies `format` and `decimals`)."""
        return str(self.file)

    def load(self, symbol: str):
        """The history as a PriceSeries (backtests.data), or one-line DataError naming the file."""
        from backtests.data import as_price_series
        from backtests.loaders import load_prices

        return as_price_series(load_prices(self.file, format_name=self.format, symbol=symbol, decimals=self.decimals))


class Schedules(Strict):
    """Seconds between runs of each job."""

    ingest_s: float = Field(60, gt=0)
    decide_s: float | None = Field(None, gt=0)  # None: the strategy config's decision interval
    submit_s: float = Field(30, gt=0)
    execute_s: float = Field(60, gt=0)
    reconcile_s: float = Field(60, gt=0)
    health_s: float = Field(30, gt=0)


class AgentConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RISK_AGENT_", env_nested_delimiter="__", extra="forbid")

    profile: Literal["demo", "local", "production"] = "local"
    rpc_url: str
    chain_id: int
    deployment_file: Path
    database_url: str = "var/agent.sqlite"
    assets: list[str] = Field(min_length=1)
    enclave: EnclaveSettings = EnclaveSettings()
    operator: OperatorSettings = OperatorSettings()
    schedules: Schedules = Schedules()
    liquidity_depth_usd: dict[str, float] = {}
    # asset -> a price file of any supported format ("file.csv", or {file, format, decimals}); read once at start,
    # each point named by the file's SHA-256
    backfill_csv: dict[str, BackfillSource] = {}
    metrics_port: int | None = None
    max_backoff_s: float = Field(300, gt=0)

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = os.environ.get("_RISK_AGENT_CONFIG_FILE")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    @model_validator(mode="after")
    def _profile_rules(self) -> AgentConfig:
        if self.profile == "production":
            if self.enclave.trust_dev_root:
                raise ValueError("enclave.trust_dev_root: the production profile refuses the development enclave root")
            if self.enclave.backend != "nitro":
                raise ValueError("enclave.backend: the production profile needs the nitro back end")
            if self.operator.private_key_env or self.operator.use_dev_account is not None:
                raise ValueError("operator: the production profile refuses plain-text keys; use operator.keystore_file")
            if not self.enclave.token_env:
                raise ValueError("enclave.token_env: the production profile needs the enclave's client token "
                                 "(the name of an environment variable holding it)")
        for symbol in self.backfill_csv:
            if symbol not in self.assets:
                raise ValueError(f"backfill_csv.{symbol}: {symbol} is not one of assets ({', '.join(self.assets)})")
        operator = self.operator
        if not (operator.keystore_file or operator.private_key_env or operator.use_dev_account is not None):
            raise ValueError("operator: set keystore_file, private_key_env or (demo/local) use_dev_account")
        return self

    @field_validator("backfill_csv", mode="before")
    @classmethod
    def _bare_paths(cls, value: object) -> object:
        """`WETH = "file.csv"` is short for `WETH = { file = "file.csv" }` (format detected)."""
        if isinstance(value, dict):
            return {k: {"file": v} if isinstance(v, (str, Path)) else v for k, v in value.items()}
        return value

    def backfill_sources(self) -> dict[str, BackfillSource]:
        return dict(self.backfill_csv)

    @classmethod
    def load(cls, path: Path | None = None, **overrides) -> AgentConfig:
        if path is not None and not Path(path).exists():
            raise ConfigError(str(path), "config file not found")
        previous = os.environ.get("_RISK_AGENT_CONFIG_FILE")
        try:
            if path is not None:
                os.environ["_RISK_AGENT_CONFIG_FILE"] = str(path)
            return cls(**overrides)
        except ValidationError as error:
            first = error.errors()[0]
            location = ".".join(str(part) for part in first["loc"]) or "config"
            message = first["msg"].removeprefix("Value error, ")
            if ": " in message and location == "config":
                location, message = message.split(": ", 1)
            raise ConfigError(location, message) from None
        except Exception as error:  # noqa: BLE001 - TOML syntax errors arrive as several types
            raise ConfigError(str(path), f"unreadable ({type(error).__name__}: {str(error).splitlines()[0]})") from None
        finally:
            if path is not None:
                if previous is None:
                    os.environ.pop("_RISK_AGENT_CONFIG_FILE", None)
                else:
                    os.environ["_RISK_AGENT_CONFIG_FILE"] = previous

    def enclave_token(self) -> str | None:
        """The enclave client token from `enclave.token_env` (None when no variable is named:
        demo and local, where the service's own enclave runs with --dev)."""
        name = self.enclave.token_env
        if not name:
            return None
        token = os.environ.get(name, "").strip()
        if not token:
            raise ConfigError("enclave.token_env", f"environment variable {name} is not set")
        return token

    def operator_account(self, dev_accounts: list[LocalAccount] | None = None) -> LocalAccount:
        settings = self.operator
        if settings.keystore_file:
            if not settings.keystore_password_env or settings.keystore_password_env not in os.environ:
                raise ConfigError("operator.keystore_password_env", "names no environment variable that is set")
            try:
                keystore = json.loads(Path(settings.keystore_file).read_text())
                key = Account.decrypt(keystore, os.environ[settings.keystore_password_env])
            except FileNotFoundError:
                raise ConfigError("operator.keystore_file", f"{settings.keystore_file} not found") from None
            except (ValueError, KeyError):
                raise ConfigError("operator.keystore_file", "cannot be decrypted with the given password") from None
            return Account.from_key(key)
        if settings.private_key_env:
            key = os.environ.get(settings.private_key_env)
            if not key:
                raise ConfigError("operator.private_key_env",
                                  f"environment variable {settings.private_key_env} is not set")
            try:
                return Account.from_key(key)
            except (ValueError, TypeError):
                raise ConfigError("operator.private_key_env", "is not a hex private key") from None
        if not dev_accounts or settings.use_dev_account >= len(dev_accounts):
            raise ConfigError("operator.use_dev_account", "the node has no such development account")
        return dev_accounts[settings.use_dev_account]
