"""Configuration: profiles, environment overrides, and one clear line per wrong setting."""

from __future__ import annotations

import json
import subprocess
import sys
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
        ('profile = "production"\n[enclave]\nbackend = "nitro"\ntrust_dev_root = true\n[operator]\nkeystore_file = "k.json"\n',
         "enclave.trust_dev_root", "refuses the development enclave root"),
        ('profile = "production"\n[enclave]\nbackend = "nitro"\n[operator]\nprivate_key_env = "KEY"\n',
         "operator", "refuses plain-text keys"),
        ('profile = "production"\n[operator]\nkeystore_file = "k.json"\n', "enclave.backend", "nitro"),
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
    path = write(tmp_path, BASE + f'[operator]\nkeystore_file = "{tmp_path / "key.json"}"\nkeystore_password_env = "PW"\n')
    monkeypatch.setenv("PW", "s3cret")
    assert AgentConfig.load(path).operator_account().address == account.address
    monkeypatch.setenv("PW", "wrong")
    with pytest.raises(ConfigError, match="cannot be decrypted"):
        AgentConfig.load(path).operator_account()


def test_cli_prints_one_line_for_a_bad_config(tmp_path):
    path = write(tmp_path, BASE + '[operator]\nuse_dev_account = 0\n[enclave]\nbackend = "sgx"\n')
    result = subprocess.run([str(Path(sys.executable).with_name("risk-agent")), "run", "--config", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith("error: config: enclave.backend")
