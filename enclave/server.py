"""The enclave process: always a separate OS process, serving on loopback TCP (local mode),
vsock (Nitro) or a Unix socket.

At start it generates a secp256k1 key in memory (never written, logged or returned) and
binds it to its measurement through its attestation back end: the manifest hash for the
local back end, the PCR0 the NSM reports for nitro. `GET /health`,
`GET /attestation?nonce=HEX` (a CBOR document), `POST /decide` (inputs in, recommendation
and signed updates out). One decision at a time.

Hostile clients: a request must arrive within the header and body deadlines, its body is
at most `--max-body-bytes` and nested at most `--max-depth` deep (checked by an iterative
scan before any decoder runs), at most `--workers` requests are served at once (the rest get
503 at once), and every malformed request gets a 4xx `{"error": ...}`. Outside `--dev`,
`/attestation` and `/decide` need `Authorization: Bearer <token>`, the token read from
`--token-file` or RISK_AGENT_ENCLAVE_TOKEN; the process refuses to start without one.

Run: python -m enclave.server [--listen http://127.0.0.1:0 | unix:///PATH | vsock://any:5005]
     [--backend local|nitro] [--dev-ca-dir DIR] [--token-file FILE | --dev] [limits...]
It prints one JSON line when ready: {"url", "port", "address", "measurement"}.
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
import queue
import socket
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from enclave.errors import EnclaveError
from enclave.image import PROJECT_ROOT, measure
from enclave.limits import NestingError, RequestLimits, check_cbor_nesting, check_json_nesting
from enclave.memory import keep_freed_memory
from enclave.transport import Address, ClientGone, HttpError, RequestHead, ServerConnection, listen

MAX_NONCE_BYTES = 512
TOKEN_ENV = "RISK_AGENT_ENCLAVE_TOKEN"
MIN_TOKEN_CHARS = 16
JSON = "application/json"
CBOR = "application/cbor"
BUSY_QUEUE = 64


class Enclave:
    """The state that lives only inside the process: the key, the back end, the measurement.

    The decision code (strategies, models) and the signing libraries are imported here, not
    at module level, so a misconfigured start is refused in a fraction of a second rather
    than after seconds of imports."""

    def __init__(self, nsm) -> None:
        from eth_account import Account
        from eth_keys import keys

        from enclave import decision

        self._decision = decision
        self.nsm = nsm
        self.measurement: bytes = nsm.measurement
        self._account = Account.create()
        self.address = self._account.address
        self.public_key = b"\x04" + keys.PrivateKey(self._account.key).public_key.to_bytes()
        self._decide_lock = threading.Lock()

    @classmethod
    def start(cls, backend: str, dev_ca_dir: Path | None, image_root: Path) -> Enclave:
        """Local: PCR0 is the manifest hash of the image files. Nitro: PCR0 is what the NSM
        reports (the hash of the enclave image file), and the manifest is not consulted."""
        from enclave.nsm import make_nsm

        manifest = (lambda: measure(image_root).digest) if backend == "local" else None
        return cls(make_nsm(backend, dev_ca_dir=dev_ca_dir, manifest_measurement=manifest))

    def attestation(self, nonce: bytes | None) -> bytes:
        return self.nsm.attest(public_key=self.public_key, user_data=bytes.fromhex(self.address[2:]), nonce=nonce)

    def decide(self, body: bytes, content_type: str) -> bytes:
        """THE SEAM: the request body in, the answer's bytes (canonical JSON) out, or
        `HttpError(4xx)` for inputs that cannot be decided on. The size and nesting limits
        have already been enforced on `body`; this is the only place that decodes it. The body
        is the canonical CBOR of `DecisionInputs`; any other encoding is refused (one decision,
        one inputs hash)."""
        from chain.update import sign_update
        from strategies.types import canonical_json

        if content_type != CBOR:
            raise HttpError(415, "decision inputs must be application/cbor (the canonical encoding)")
        with self._decide_lock:
            try:
                inputs, decision = self._decision.decide_canonical(body, self.address, self.measurement)
            except self._decision.InputsError as error:
                raise HttpError(400, str(error)) from None
            signed = [
                {"update": u.as_json(), "signature": "0x" + sign_update(u, self._account.key, inputs.steward).hex()}
                for u in decision.updates
            ]
        return canonical_json({
            "inputs_hash": "0x" + decision.inputs_hash.hex(),
            "recommendation": decision.recommendation.to_canonical_json().decode(),
            "updates": signed,
        })


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = JSON
    headers: tuple[tuple[str, str], ...] = ()


def error_body(message: str) -> bytes:
    return json.dumps({"error": message}).encode()


class EnclaveApi:
    """Routing, authentication and validation of one request; no sockets here."""

    ROUTES = {"/health": "GET", "/attestation": "GET", "/decide": "POST"}

    def __init__(self, enclave: Enclave, limits: RequestLimits, token: str | None) -> None:
        self.enclave = enclave
        self.limits = limits
        self._token = token.encode() if token is not None else None

    def body_length(self, head: RequestHead) -> int:
        """Everything decidable from the head, in order (path, method, auth, media type,
        length); returns how many body bytes to read, or raises `HttpError`."""
        method = self.ROUTES.get(head.path)
        if method is None:
            raise HttpError(404, f"unknown path {head.path}")
        if head.method != method:
            raise HttpError(405, f"{head.path} takes {method}, not {head.method}", (("Allow", method),))
        if head.path != "/health":
            self._authenticate(head)
        if "transfer-encoding" in head.headers:
            raise HttpError(400, "Transfer-Encoding is not accepted; send the body with Content-Length")
        length_text = head.headers.get("content-length")
        if head.method == "GET":
            if length_text not in (None, "0"):
                raise HttpError(400, f"GET {head.path} takes no body")
            return 0
        media_type = head.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type not in (JSON, CBOR):
            raise HttpError(415, f"Content-Type must be {JSON} or {CBOR}, not {media_type or 'missing'}")
        if length_text is None:
            raise HttpError(411, "Content-Length required")
        if not length_text.isdigit() or len(length_text) > 12:
            raise HttpError(400, f"Content-Length {length_text[:20]!r} is not a byte count")
        length = int(length_text)
        if length == 0:
            raise HttpError(400, "empty body: send the decision inputs")
        if length > self.limits.max_body_bytes:
            raise HttpError(413, f"body of {length} bytes is over the limit of {self.limits.max_body_bytes} bytes")
        return length

    def _authenticate(self, head: RequestHead) -> None:
        if self._token is None:
            return  # --dev: local development only
        challenge = (("WWW-Authenticate", 'Bearer realm="enclave"'),)
        scheme, _, given = head.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given:
            raise HttpError(401, "missing bearer token (Authorization: Bearer <token>)", challenge)
        if not hmac.compare_digest(given.strip().encode(), self._token):
            raise HttpError(401, "bearer token does not match", challenge)

    def respond(self, head: RequestHead, body: bytes) -> Reply:
        if head.path == "/health":
            return Reply(200, json.dumps({"status": "ok", "address": self.enclave.address,
                                          "measurement": self.enclave.measurement.hex(),
                                          "backend": self.enclave.nsm.backend}).encode())
        if head.path == "/attestation":
            return Reply(200, self.enclave.attestation(self._nonce(head)), CBOR)
        media_type = head.headers["content-type"].split(";")[0].strip().lower()
        try:
            if media_type == JSON:
                check_json_nesting(body, self.limits.max_depth)
            else:
                check_cbor_nesting(body, self.limits.max_depth)
        except NestingError as error:
            raise HttpError(400, f"body refused before decoding: {error}") from None
        return Reply(200, self.enclave.decide(body, media_type))

    @staticmethod
    def _nonce(head: RequestHead) -> bytes:
        unknown = set(head.query) - {"nonce"}
        if unknown:
            raise HttpError(400, f"unknown query parameters {sorted(unknown)}")
        values = head.query.get("nonce", [])
        if len(values) != 1 or not values[0]:
            raise HttpError(400, "one nonce=HEX query parameter required (a fresh random value per attestation)")
        text = values[0].removeprefix("0x")
        if len(text) > 2 * MAX_NONCE_BYTES:
            raise HttpError(400, f"nonce longer than {MAX_NONCE_BYTES} bytes")
        try:
            return bytes.fromhex(text)
        except ValueError:
            raise HttpError(400, "nonce must be hex") from None


class EnclaveServer:
    """Accepts connections and serves each on a bounded pool of `limits.workers` threads;
    a connection that finds every worker busy gets 503 from a separate responder."""

    def __init__(self, api: EnclaveApi, listener: socket.socket, limits: RequestLimits) -> None:
        self.api = api
        self.listener = listener
        self.limits = limits
        self._slots = threading.BoundedSemaphore(limits.workers)
        self._pool = ThreadPoolExecutor(max_workers=limits.workers, thread_name_prefix="enclave-worker")
        self._busy: queue.Queue[socket.socket | None] = queue.Queue(maxsize=BUSY_QUEUE)
        self._stopping = threading.Event()
        self._busy_thread = threading.Thread(target=self._answer_busy, name="enclave-busy", daemon=True)

    def serve_forever(self) -> None:
        self._busy_thread.start()
        self.listener.settimeout(0.5)
        while not self._stopping.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stopping.is_set():
                    break
                continue
            connection.settimeout(self.limits.header_timeout_s)
            if self._slots.acquire(blocking=False):
                self._pool.submit(self._serve, connection)
            else:
                try:
                    self._busy.put_nowait(connection)
                except queue.Full:
                    connection.close()

    def shutdown(self) -> None:
        self._stopping.set()
        try:
            self._busy.put_nowait(None)
        except queue.Full:
            pass  # the responder is a daemon thread: it dies with the process
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.listener.close()

    def _serve(self, sock: socket.socket) -> None:
        connection = ServerConnection(sock)
        try:
            reply = self._handle(connection)
            if reply is not None:
                connection.send(reply.status, reply.body, reply.content_type, reply.headers, self.limits.body_timeout_s)
        finally:
            connection.close()
            self._slots.release()

    def _handle(self, connection: ServerConnection) -> Reply | None:
        try:
            head = connection.read_head(self.limits.max_header_bytes, self.limits.header_timeout_s)
            length = self.api.body_length(head)
            if length and head.headers.get("expect", "").lower() == "100-continue":
                connection.send_continue()  # curl waits for this before sending a large body
            body = connection.read_body(length, self.limits.body_timeout_s) if length else b""
            return self.api.respond(head, body)
        except ClientGone:
            return None
        except HttpError as error:
            return Reply(error.status, error_body(error.message), JSON, error.headers)
        except Exception as error:  # noqa: BLE001 - one bad request must not take the enclave (and its key) down
            print(f"enclave: internal error answering a request: {type(error).__name__}", file=sys.stderr, flush=True)
            return Reply(500, error_body(f"internal error ({type(error).__name__})"))

    def _answer_busy(self) -> None:
        message = error_body(f"enclave busy: {self.limits.workers} requests in progress; retry shortly")
        while (sock := self._busy.get()) is not None:
            connection = ServerConnection(sock)
            connection.send(503, message, JSON, (("Retry-After", "1"),), timeout_s=1.0)
            connection.close(linger_s=0.2)


def read_token(token_file: Path | None) -> str | None:
    """The client token from a file (first line) or the environment; None if neither."""
    if token_file is not None:
        try:
            lines = token_file.read_text().strip().splitlines()
        except OSError as error:
            raise EnclaveError(f"cannot read --token-file {token_file}: {error.strerror}") from None
        token = lines[0].strip() if lines else ""
    else:
        token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        return None
    if len(token) < MIN_TOKEN_CHARS:
        raise EnclaveError(f"client token is {len(token)} characters; at least {MIN_TOKEN_CHARS} required")
    return token


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    defaults = RequestLimits()
    parser = argparse.ArgumentParser(description="risk-agent enclave process")
    parser.add_argument("--listen", default=None, help="http://127.0.0.1:PORT, unix:///PATH or vsock://CID:PORT")
    parser.add_argument("--port", type=int, default=0, help="shorthand for --listen http://127.0.0.1:PORT")
    parser.add_argument("--backend", choices=["local", "nitro"], default="local")
    parser.add_argument("--dev-ca-dir", type=Path, default=None)
    parser.add_argument("--image-root", type=Path, default=PROJECT_ROOT)
    parser.add_argument("--token-file", type=Path, default=None, help=f"client bearer token (else ${TOKEN_ENV})")
    parser.add_argument("--dev", action="store_true", help="serve without client authentication (local back end only)")
    parser.add_argument("--max-body-bytes", type=int, default=defaults.max_body_bytes)
    parser.add_argument("--max-depth", type=int, default=defaults.max_depth)
    parser.add_argument("--max-header-bytes", type=int, default=defaults.max_header_bytes)
    parser.add_argument("--header-timeout-s", type=float, default=defaults.header_timeout_s)
    parser.add_argument("--body-timeout-s", type=float, default=defaults.body_timeout_s)
    parser.add_argument("--workers", type=int, default=defaults.workers)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    keep_freed_memory()
    try:
        limits = RequestLimits(args.max_body_bytes, args.max_depth, args.max_header_bytes, args.header_timeout_s,
                               args.body_timeout_s, args.workers)
        token = read_token(args.token_file)
        if args.dev and args.backend != "local":
            raise EnclaveError("--dev (no client authentication) is for the local back end only")
        if token is None and not args.dev:
            raise EnclaveError(f"no client token: give --token-file or {TOKEN_ENV} (or --dev for local development)")
        address = Address.parse(args.listen or f"http://127.0.0.1:{args.port}")
        enclave = Enclave.start(args.backend, args.dev_ca_dir, args.image_root)
        listener, bound = listen(address)
    except (EnclaveError, ValueError) as error:
        print(f"enclave: {error}", file=sys.stderr, flush=True)
        return 2
    server = EnclaveServer(EnclaveApi(enclave, limits, None if args.dev else token), listener, limits)
    print(json.dumps({"url": str(bound), "port": bound.port, "address": enclave.address,
                      "measurement": enclave.measurement.hex(), "backend": enclave.nsm.backend}), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
