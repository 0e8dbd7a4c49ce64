"""A JSON-RPC proxy in front of a node, for injecting faults from the test's side: the node
"goes down" (503 to every call), or the steward's `submit` transaction is held either before
it reaches the node or after the node has mined it (its answer never comes back), so a test
can kill the service at exactly that moment."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
import rlp
from eth_utils import function_signature_to_4byte_selector

SUBMIT_SELECTOR = function_signature_to_4byte_selector(
    "submit((address,uint256,address,uint8[],uint256[],uint256,uint256,bytes32,uint256,uint256,bytes32,bytes),bytes)"
)


def _calldata(raw_hex: str) -> bytes:
    """The calldata of a signed raw transaction: EIP-2718 typed (type 1: field 6, type 2:
    field 7 of the RLP list after the type byte) or legacy (field 5)."""
    raw = bytes.fromhex(raw_hex.removeprefix("0x"))
    if raw and raw[0] <= 0x7F:
        fields = rlp.decode(raw[1:])
        return bytes(fields[7 if raw[0] == 2 else 6])
    return bytes(rlp.decode(raw)[5])


class RpcProxy:
    """`mode`: "forward", "down", "hold-submit-before" or "hold-submit-after"."""

    def __init__(self, target_url: str) -> None:
        self.target_url = target_url
        self.mode = "forward"
        self.held = threading.Event()  # set once a submit has been held
        self._release = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def do_POST(self) -> None:  # noqa: N802 - stdlib name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if proxy.mode == "down":
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                is_submit = proxy._is_submit(body)
                if is_submit and proxy.mode == "hold-submit-before":
                    proxy.held.set()
                    proxy._release.wait()
                    return
                answer = requests.post(proxy.target_url, data=body, headers={"Content-Type": "application/json"}, timeout=60)
                if is_submit and proxy.mode == "hold-submit-after":
                    proxy.held.set()
                    proxy._release.wait()
                    return
                self.send_response(answer.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def _is_submit(body: bytes) -> bool:
        try:
            request = json.loads(body)
        except ValueError:
            return False
        calls = request if isinstance(request, list) else [request]
        return any(c.get("method") == "eth_sendRawTransaction" and _calldata(c["params"][0])[:4] == SUBMIT_SELECTOR
                   for c in calls if isinstance(c, dict))

    def close(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()
