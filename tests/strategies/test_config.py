"""The one strategy config: strict loading (every key named, typed), the hash that names the
settings, and that the enclave image measures the file."""

from __future__ import annotations

import pytest

from enclave.image import measure
from strategies.config import DEFAULT_CONFIG_PATH, StrategyConfigError, load_config
from strategies.params import Param

TEXT = DEFAULT_CONFIG_PATH.read_text()


def write(tmp_path, text: str):
    path = tmp_path / "strategy.toml"
    path.write_text(text)
    return path


def test_the_shipped_config_loads_with_every_section():
    config = load_config()
    assert config.name == "risk-agent-v1"
    assert config.window.history_hours == 2_880 and config.window.decision_interval_s == 86_400
    assert config.min_change() == {Param.LTV: 5, Param.LIQUIDATION_THRESHOLD: 5, Param.LIQUIDATION_BONUS: 10,
                                   Param.VARIABLE_RATE_SLOPE1: 5}
    assert config.peg_usd("USDC") == 1.0 and config.peg_usd("WETH") is None


def test_hash_names_the_settings_not_the_whitespace(tmp_path):
    reformatted = write(tmp_path, "\n\n" + TEXT.replace(" = ", "="))
    assert load_config(reformatted).config_hash == load_config().config_hash
    changed = tmp_path / "changed.toml"
    changed.write_text(TEXT.replace("confidence = 0.99", "confidence = 0.995"))
    assert load_config(changed).config_hash != load_config().config_hash
    assert len(load_config().config_hash) == 32


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("history_hours = 2_880", "history_hourz = 2_880"), "unknown key window.history_hourz"),
    (lambda t: t.replace("max_carry_hours = 2\n", ""), "missing key window.max_carry_hours"),
    (lambda t: t.replace("paths = 2_000", 'paths = "many"'), "montecarlo.paths must be an integer"),
    (lambda t: t.replace("confidence = 0.99", "confidence = true"), "collateral.confidence must be a number"),
    (lambda t: t.replace("LTV = 5", "LTVX = 5"), "dead_band.LTVX is not a parameter"),
    (lambda t: t.replace("USDC = 1.0", "USDC = -1.0"), "pegged.USDC must be a positive price"),
    (lambda t: t.replace("confidence = 0.99", "confidence = 1.5"), "confidences must lie strictly between 0 and 1"),
    (lambda t: t.replace("[window]", "[window"), "not valid TOML"),
])
def test_bad_configs_are_refused_with_the_key_named(tmp_path, edit, message):
    with pytest.raises(StrategyConfigError, match=message):
        load_config(write(tmp_path, edit(TEXT)))


def test_missing_file_and_directory_are_named(tmp_path):
    with pytest.raises(StrategyConfigError, match="not found"):
        load_config(tmp_path / "absent.toml")
    with pytest.raises(StrategyConfigError, match="is a directory"):
        load_config(tmp_path)


def test_the_config_file_is_part_of_the_measured_image():
    paths = [f.path for f in measure().files]
    assert "strategies/config/risk-agent-v1.toml" in paths
