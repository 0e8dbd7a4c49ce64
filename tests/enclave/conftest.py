from __future__ import annotations

import pandas as pd
import pytest

from backtests.data import load_bundled
from backtests.history import market_history
from enclave.attestation import TrustAnchors
from enclave.client import start_enclave
from enclave.decision import DecisionInputs
from enclave.nsm import DevCa
from strategies.bounds import Bounds
from strategies.types import RiskParams

WETH_OCT_2023 = RiskParams(8_050, 8_300, 10_500, 1_800_000, 1_400_000, 1_500, 8_000, 0, 280, 8_000)


@pytest.fixture(scope="session")
def dev_ca_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("dev-ca")


@pytest.fixture(scope="session")
def anchors(dev_ca_dir) -> TrustAnchors:
    return TrustAnchors().with_root(DevCa.load_or_create(dev_ca_dir).root_pem)


@pytest.fixture(scope="session")
def enclave_process(dev_ca_dir):
    process = start_enclave(dev_ca_dir=dev_ca_dir)
    yield process
    process.stop()


def eth_inputs(as_of: str = "2020-03-12 12:00", *, chain_id: int = 31337, steward: str = "0x" + "11" * 20,
               asset: str = "0x" + "22" * 20, nonce: int = 1) -> DecisionInputs:
    history = market_history([load_bundled("ETH")], pd.Timestamp(as_of, tz="UTC"),
                             supplied_tokens=500_000, borrowed_tokens=200_000)
    return DecisionInputs(chain_id, steward, nonce, {"ETH": asset}, history, {"ETH": WETH_OCT_2023}, {"ETH": Bounds()})
