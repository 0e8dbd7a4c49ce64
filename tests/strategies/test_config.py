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


def test_the_calibration_tables_load_as_dated_records_and_events():
    """The generated tables: WETH's stress record is the 12 months to 2018-08-17 (Binance ETH,
    sigma 1.42%/h); UST's last depeg starts 2022-05-09 and is still open at the data's end."""
    config = load_config()
    (record,) = config.stress_records_of("WETH")
    assert (record.window_end_s, record.hourly_sigma) == (1_534_482_000, 0.014224)
    ust = config.peg_calibration("UST")
    assert ust.peg == "USD" and ust.events[-1].start_s == 1_652_119_200 and not ust.events[-1].finished
    assert config.peg_calibration("stETH").peg == "WETH" and config.peg_calibration("WETH") is None
    assert len(config.pooled_depeg_events()) == sum(len(config.peg_calibration(s).events) for s in config.depegs)


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
    (lambda t: t.replace("lt_confidence = 0.99", "lt_confidence = true"), "risk_appetite.lt_confidence must be a number"),
    (lambda t: t.replace("LTV = 5", "LTVX = 5"), "dead_band.LTVX is not a parameter"),
    (lambda t: t.replace("USDC = 1.0", "USDC = -1.0"), "pegged.USDC must be a positive price"),
    (lambda t: t.replace("lt_confidence = 0.99", "lt_confidence = 1.0"), r"risk_appetite.lt_confidence must be in \[0.5, 1\)"),
    (lambda t: t.replace("ltv_confidence = 0.95", "ltv_confidence = 0.3"), r"risk_appetite.ltv_confidence must be in"),
    (lambda t: t.replace("min_horizon_hours = 24", "min_horizon_hours = 200"), "min_horizon_hours <= max_horizon_hours"),
    (lambda t: t.replace("ltv_horizon_hours = 24", "ltv_horizon_hours = 0"), "ltv_horizon_hours must be at least 1"),
    (lambda t: t.replace("max_bad_debt_share = 0.0", "max_bad_debt_share = 0.5"), "max_bad_debt_share must be in"),
    (lambda t: t.replace("loosening_share = 0.5", "loosening_share = 0.0"), "loosening_share must be in"),
    (lambda t: t.replace("loosening_margin_bps = 100", "loosening_margin_bps = -1"), "loosening_margin_bps must be >= 0"),
    (lambda t: t.replace("WETH = [[1534482000, 0.014224]]", "WETH = [[1534478400, -0.01]]"),
     "stress_records.WETH must be"),
    (lambda t: t.replace('peg = "USD"\ndepeg_threshold = 0.02\nhistory_start_s = 1538697600',
                         'peg = "USD"\ndepeg_threshold = 2.0\nhistory_start_s = 1538697600'), "depegs.USDC: threshold"),
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
