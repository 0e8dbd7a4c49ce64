"""Enclave figures for the notes: attestation document build and verify (median, p99), and
the /decide + sign round trip for 1 and 20 assets (one year of hourly history each).

Run by hand: `python benchmarks/enclave_bench.py`."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import requests

from backtests.data import load_bundled
from backtests.history import market_history
from enclave.attestation import TrustAnchors, verify_document
from enclave.client import EnclaveClient, start_enclave
from enclave.decision import DecisionInputs
from enclave.nsm import DevCa
from strategies.bounds import Bounds
from strategies.types import RiskParams

WETH = RiskParams(8_050, 8_300, 10_500, 1_800_000, 1_400_000, 1_500, 8_000, 0, 280, 8_000)


def percentiles(samples: list[float]) -> str:
    ms = np.array(samples) * 1e3
    return f"median {np.median(ms):7.2f} ms  p99 {np.percentile(ms, 99):7.2f} ms  (n={len(ms)})"


def inputs_for(asset_count: int) -> DecisionInputs:
    eth = load_bundled("ETH")
    history = market_history([eth], pd.Timestamp("2021-05-10", tz="UTC"), window_hours=24 * 365, supplied_tokens=5e5, borrowed_tokens=2e5)
    base = history.assets[0]
    assets = tuple(replace(base, symbol=f"ETH{i}") for i in range(asset_count))
    return DecisionInputs(1, "0x" + "11" * 20, 1, {a.symbol: "0x" + f"{i + 1:040x}" for i, a in enumerate(assets)},
                          replace(history, assets=assets), {a.symbol: WETH for a in assets}, {a.symbol: Bounds() for a in assets})


def main() -> None:
    ca_dir = Path(tempfile.mkdtemp())
    anchors = TrustAnchors().with_root(DevCa.load_or_create(ca_dir).root_pem)
    with start_enclave(dev_ca_dir=ca_dir) as process:
        build, verify = [], []
        for _ in range(300):
            nonce = os.urandom(32)
            start = time.perf_counter()
            document = requests.get(f"{process.url}/attestation?nonce={nonce.hex()}", timeout=10).content
            build.append(time.perf_counter() - start)
            start = time.perf_counter()
            verify_document(document, expected_measurement=process.measurement, anchors=anchors, expected_nonce=nonce, max_age_s=60)
            verify.append(time.perf_counter() - start)
        print(f"attestation build (HTTP round trip): {percentiles(build)}")
        print(f"attestation verify:                  {percentiles(verify)}")
        client = EnclaveClient(process.url, process.measurement, anchors)
        client.attest()
        for count, runs in ((1, 10), (20, 3)):
            inputs = inputs_for(count)
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                decision = client.decide(inputs)
                times.append(time.perf_counter() - start)
            print(f"/decide + sign + client checks, {count:>2} asset(s), 1 y hourly: median {statistics.median(times):6.2f} s "
                  f"({len(decision.updates)} signed updates, {len(inputs.canonical_bytes()) / 1e6:.1f} MB of inputs)")


if __name__ == "__main__":
    main()
