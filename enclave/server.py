"""The enclave process: always a separate OS process, serving on loopback.

At start it measures its own image, generates a secp256k1 key in memory (never written,
logged or returned) and binds it to the measurement through its attestation back end.
`GET /health`, `GET /attestation?nonce=HEX` (a CBOR document), `POST /decide` (canonical
inputs in, recommendation and signed updates out). One decision at a time.

Run: python -m enclave.server --port 0 [--backend local|nitro] [--dev-ca-dir DIR]
It prints one JSON line when ready: {"port", "address", "measurement"}.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from eth_account import Account
from eth_keys import keys

from chain.update import sign_update
from enclave.decision import InputsError, decide_canonical
from enclave.image import PROJECT_ROOT, measure
from enclave.nsm import make_nsm
from strategies.types import canonical_json

MAX_BODY_BYTES = 64 * 1024 * 1024
MAX_NONCE_BYTES = 512


class Enclave:
    """The state that lives only inside the process."""

    def __init__(self, backend: str, dev_ca_dir: Path | None, image_root: Path) -> None:
        self.measurement = measure(image_root).digest
        self._account = Account.create()
        self.address = self._account.address
        self.public_key = b"\x04" + keys.PrivateKey(self._account.key).public_key.to_bytes()
        self.nsm = make_nsm(backend, f"risk-agent-enclave-{self.address[2:10].lower()}", dev_ca_dir)
        self._decide_lock = threading.Lock()

    def attestation(self, nonce: bytes | None) -> bytes:
        return self.nsm.attest({0: self.measurement, 1: b"\x00" * 48, 2: b"\x00" * 48}, self.public_key,
                               bytes.fromhex(self.address[2:]), nonce)

    def decide(self, body: bytes) -> dict:
        with self._decide_lock:
            inputs, decision = decide_canonical(body, self.address, self.measurement)
            signed = [
                {"update": u.as_json(), "signature": "0x" + sign_update(u, self._account.key, inputs.steward).hex()}
                for u in decision.updates
            ]
        return {
            "inputs_hash": "0x" + decision.inputs_hash.hex(),
            "recommendation": decision.recommendation.to_canonical_json().decode(),
            "updates": signed,
        }


def make_handler(enclave: Enclave):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
            return  # requests are not logged: inputs may be large, and nothing secret leaves anyway

        def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: int, message: str) -> None:
            self._send(status, json.dumps({"error": message}).encode())

        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            url = urlparse(self.path)
            if url.path == "/health":
                self._send(200, json.dumps({"status": "ok", "address": enclave.address,
                                            "measurement": enclave.measurement.hex(),
                                            "backend": enclave.nsm.backend}).encode())
            elif url.path == "/attestation":
                nonce_hex = parse_qs(url.query).get("nonce", [""])[0]
                try:
                    nonce = bytes.fromhex(nonce_hex.removeprefix("0x")) if nonce_hex else None
                except ValueError:
                    return self._error(400, "nonce must be hex")
                if nonce is not None and len(nonce) > MAX_NONCE_BYTES:
                    return self._error(400, f"nonce longer than {MAX_NONCE_BYTES} bytes")
                self._send(200, enclave.attestation(nonce), "application/cbor")
            else:
                self._error(404, "unknown path")

        def do_POST(self) -> None:  # noqa: N802
            if urlparse(self.path).path != "/decide":
                return self._error(404, "unknown path")
            length = int(self.headers.get("Content-Length", "0"))
            if length <= 0 or length > MAX_BODY_BYTES:
                return self._error(400, "body missing or too large")
            try:
                answer = enclave.decide(self.rfile.read(length))
            except InputsError as error:
                return self._error(400, str(error))
            self._send(200, canonical_json(answer))

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="risk-agent enclave process")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--backend", choices=["local", "nitro"], default="local")
    parser.add_argument("--dev-ca-dir", type=Path, default=None)
    parser.add_argument("--image-root", type=Path, default=PROJECT_ROOT)
    args = parser.parse_args(argv)
    enclave = Enclave(args.backend, args.dev_ca_dir, args.image_root)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(enclave))
    print(json.dumps({"port": server.server_address[1], "address": enclave.address,
                      "measurement": enclave.measurement.hex()}), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())
