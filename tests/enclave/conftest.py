from __future__ import annotations

import pandas as pd
import pytest

from backtests.data import load_bundled
from backtests.history import decision_inputs
from enclave.attestation import TrustAnchors
from enclave.client import start_enclave
from enclave.decision import DecisionInputs
from strategies.inputs import Anchor
from strategies.params import AAVE_V3_OCT_2023
from enclave.nsm import DevCa

WETH_OCT_2023 = AAVE_V3_OCT_2023["WETH"]


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
    from dataclasses import replace

    inputs = decision_inputs([load_bundled("ETH")], pd.Timestamp(as_of, tz="UTC"), params={"ETH": WETH_OCT_2023},
                             supplied_tokens=500_000, borrowed_tokens=200_000)
    anchor = Anchor(inputs.anchor.block_number, inputs.anchor.block_hash, inputs.anchor.timestamp_s)
    return replace(inputs, chain_id=chain_id, steward=steward, enclave_nonce=nonce, anchor=anchor,
                   assets=(replace(inputs.assets[0], address=asset),))
