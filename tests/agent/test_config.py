"""Configuration: profiles, environment overrides, and one clear line per wrong setting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account

from agent.config import AgentConfig, ConfigError

BASE = """
rpc_url = "http://127.0.0.1:8545"
chain_id = 31337
deployment_file = "var/deployment.json"
assets = ["WETH"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(text)
    return path


def test_local_profile_loads_and_env_overrides(tmp_path, monkeypatch):
    path = write(tmp_path, BASE + "[operator]\nuse_dev_account = 0\n[schedules]\ndecide_s = 600\n")
    monkeypatch.setenv("RISK_AGENT_SCHEDULES__DECIDE_S", "30")
    config = AgentConfig.load(path)
    assert config.profile == "local" and config.schedules.decide_s == 30 and config.schedules.ingest_s == 60


@pytest.mark.parametrize(
    "extra, setting, fragment",
    [
        ('profile = "production"\n[enclave]\nbackend = "nitro"\ntrust_dev_root = true\n'
         '[operator]\nkeystore_file = "k.json"\n',
         "enclave.trust_dev_root", "refuses the development enclave root"),
        ('profile = "production"\n[enclave]\nbackend = "nitro"\n[operator]\nprivate_key_env = "KEY"\n',
         "operator", "refuses plain-text keys"),
        ('profile = "production"\n[operator]\nkeystore_file = "k.json"\n', "enclave.backend", "nitro"),
        ('profile = "production"\n[enclave]\nbackend = "nitro"\n[operator]\nkeystore_file = "k.json"\n',
         "enclave.token_env", "needs the enclave's client token"),
        ("[operator]\n", "operator", "set keystore_file"),
        ('[operator]\nuse_dev_account = 0\n[schedules]\ningest_s = -1\n', "schedules.ingest_s", "greater than 0"),
        ('[operator]\nuse_dev_account = 0\ncolour = "blue"\n', "operator.colour", "Extra inputs"),
    ],
)
def test_wrong_settings_name_themselves(tmp_path, extra, setting, fragment):
    with pytest.raises(ConfigError) as raised:
        AgentConfig.load(write(tmp_path, BASE + extra))
    assert raised.value.setting == setting and fragment in str(raised.value)


def test_missing_setting(tmp_path):
    with pytest.raises(ConfigError) as raised:
        AgentConfig.load(write(tmp_path, 'rpc_url = "http://x"\n'))
    assert raised.value.setting in ("chain_id", "deployment_file", "assets")


def test_operator_key_from_encrypted_keystore(tmp_path, monkeypatch):
    account = Account.create()
    (tmp_path / "key.json").write_text(json.dumps(Account.encrypt(account.key, "s3cret", iterations=2)))
    path = write(tmp_path,
                 BASE + f'[operator]\nkeystore_file = "{tmp_path / "key.json"}"\nkeystore_password_env = "PW"\n')
    monkeypatch.setenv("PW", "s3cret")
    assert AgentConfig.load(path).operator_account().address == account.address
    monkeypatch.setenv("PW", "wrong")
    with pytest.raises(ConfigError, match="cannot be decrypted"):
        AgentConfig.load(path).operator_account()


def test_cli_prints_one_line_for_a_bad_config(tmp_path, capsys):
    from tests.agent.cli_runner import run_in_process

    path = write(tmp_path, BASE + '[operator]\nuse_dev_account = 0\n[enclave]\nbackend = "sgx"\n')
    result = run_in_process(["run", "--config", str(path)], capsys)
    assert (result.code, result.stdout) == (2, "")
    assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith("error: config: enclave.backend")


def test_backfill_sources_take_a_bare_path_or_a_table(tmp_path):
    """`WETH = "file"` is a source with its format detected; a table names format and decimals;
    both load through the same loader as `risk-agent data inspect` (2 points: 732.1, 735.9)."""
    dump = tmp_path / "rounds.csv"
    dump.write_text("roundId,answer,startedAt,updatedAt\n1,73210000000,1609459200,1609459200\n"
                    "2,73590000000,1609462800,1609462800\n")
    plain = tmp_path / "plain.csv"
    plain.write_text("timestamp,price\n2021-01-01T00:00:00Z,730.1\n")
    config = AgentConfig.load(write(tmp_path, BASE.replace('assets = ["WETH"]', 'assets = ["WETH", "WBTC"]')
                                    + "[operator]\nuse_dev_account = 0\n[backfill_csv]\n"
                                    f'WETH = {{ file = "{dump}", format = "chainlink-rounds", decimals = 8 }}\n'
                                    f'WBTC = "{plain}"\n'))
    sources = config.backfill_sources()
    assert (sources["WETH"].format, sources["WETH"].decimals, sources["WBTC"].format) == ("chainlink-rounds", 8, None)
    assert list(sources["WETH"].load("WETH").prices_usd) == [732.1, 735.9]
    assert list(sources["WBTC"].load("WBTC").prices_usd) == [730.1]


@pytest.mark.parametrize("table, setting, fragment", [
    ('WETH = { file = "x.csv", format = "excel" }\n', "backfill_csv.WETH",
     "format 'excel' is not one of cryptodatadownload"),
    ('WETH = { file = "x.csv", decimals = -1 }\n', "backfill_csv.WETH.decimals", "greater than or equal to 0"),
    ('DOGE = "x.csv"\n', "backfill_csv.DOGE", "DOGE is not one of assets (WETH)"),
])
def test_wrong_backfill_settings_name_themselves(tmp_path, table, setting, fragment):
    with pytest.raises(ConfigError) as raised:
        AgentConfig.load(write(tmp_path, BASE + "[operator]\nuse_dev_account = 0\n[backfill_csv]\n" + table))
    assert raised.value.setting == setting and fragment in str(raised.value)


def test_a_backfill_source_is_also_its_path(tmp_path):
    """Callers that open the configured path (`load_any(path, symbol)`) keep working."""
    from backtests.data import load_any

    plain = tmp_path / "plain.csv"
    plain.write_text("timestamp,price\n1609459200,730.1\n")
    config = AgentConfig.load(write(tmp_path,
                                    BASE + f'[operator]\nuse_dev_account = 0\n[backfill_csv]\nWETH = "{plain}"\n'))
    assert list(load_any(config.backfill_csv["WETH"], "WETH").prices_usd) == [730.1]


def test_enclave_token_from_the_named_variable(tmp_path, monkeypatch):
    """Production names the variable; the token is read from it (never from the file), and a
    named variable that is not set is one line naming the setting."""
    path = write(tmp_path, BASE + 'profile = "production"\n[enclave]\nbackend = "nitro"\ntoken_env = "ENCLAVE_TOKEN"\n'
                 '[operator]\nkeystore_file = "k.json"\n')
    monkeypatch.setenv("ENCLAVE_TOKEN", "  s3cret-token\n")
    assert AgentConfig.load(path).enclave_token() == "s3cret-token"
    monkeypatch.delenv("ENCLAVE_TOKEN")
    with pytest.raises(ConfigError) as raised:
        AgentConfig.load(path).enclave_token()
    assert raised.value.setting == "enclave.token_env" and "ENCLAVE_TOKEN is not set" in str(raised.value)
    local = AgentConfig.load(write(tmp_path, BASE + "[operator]\nuse_dev_account = 0\n"))
    assert local.enclave_token() is None
