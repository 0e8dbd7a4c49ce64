"""Enclave figures for the notes: attestation document build and verify (p50, p99), and the
/decide + sign round trip for 1 and 20 assets with one year of hourly prints each (the
synthetic market of `decide_bench.py`), split into what the round trip is made of: the
client's encoding, the enclave's decoding with its canonical-form check (a re-encoding),
the decision itself, and the rest (HTTP, signing, the client's checks).

Run by hand: `python benchmarks/enclave_bench.py [--runs 5]`."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests

from decide_bench import AS_OF_S, Market, summary, timed
from enclave.attestation import TrustAnchors, verify_document
from enclave.client import EnclaveClient, start_enclave
from enclave.nsm import DevCa
from strategies.config import default_config
from strategies.decision import recommend
from strategies.inputs import decode_inputs


def percentiles(samples: list[float]) -> str:
    ms = np.array(samples) * 1e3
    return f"p50 {np.median(ms):7.2f} ms  p99 {np.percentile(ms, 99):7.2f} ms  (n={len(ms)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--attestations", type=int, default=300)
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; load {os.getloadavg()[0]:.1f}")
    ca_dir = Path(tempfile.mkdtemp())
    anchors = TrustAnchors().with_root(DevCa.load_or_create(ca_dir).root_pem)
    with start_enclave(dev_ca_dir=ca_dir) as process:
        build, verify = [], []
        for _ in range(args.attestations):
            nonce = os.urandom(32)
            started = time.perf_counter()
            document = requests.get(f"{process.url}/attestation?nonce={nonce.hex()}", timeout=10).content
            build.append(time.perf_counter() - started)
            started = time.perf_counter()
            verify_document(document, expected_measurement=process.measurement, anchors=anchors, expected_nonce=nonce,
                            max_age_s=60)
            verify.append(time.perf_counter() - started)
        print(f"attestation build (HTTP round trip): {percentiles(build)}")
        print(f"attestation verify:                  {percentiles(verify)}")
        client = EnclaveClient(process.url, process.measurement, anchors)
        client.attest()
        config = default_config()
        for count in (1, 20):
            inputs = Market(count).inputs_at(AS_OF_S)
            body = inputs.canonical_bytes()
            print(f"-- {count} asset(s), 1 y of hourly prints, {len(body) / 1e6:.1f} MB of canonical inputs")
            print(summary("client: encode", timed(inputs.canonical_bytes, args.runs)))
            print(summary("enclave: decode + canonical check", timed(lambda body=body: decode_inputs(body), args.runs)))
            print(summary("decision (recommend, in process)", timed(lambda inputs=inputs: recommend(inputs, config),
                                                                     args.runs)))
            decision = client.decide(inputs)
            print(summary(f"/decide + sign + client checks ({len(decision.updates)} updates)",
                          timed(lambda inputs=inputs: client.decide(inputs), args.runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
