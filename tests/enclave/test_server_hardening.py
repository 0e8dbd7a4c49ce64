"""Attacks on the real enclave process (python -m enclave.server, started as the agent
starts it, with a client token): nesting bombs in JSON and CBOR, oversize bodies, slow
clients, a flood, wrong credentials and every kind of malformed request. Each asserts the
status and the error text, and that the process still answers /health with the same key."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import cbor2
import pytest

from enclave.client import EnclaveClient, start_enclave
from enclave.errors import EnclaveAnswerError, EnclaveUnavailableError
from enclave.limits import DEFAULT_MAX_BODY_BYTES

TOKEN = "test-token-" + "7" * 32
HEADER_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 1.0
WORKERS = 2

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def hardened(tmp_path_factory):
    """Default size and depth limits, short deadlines and 2 workers so the slow-client and
    flood tests run in seconds."""
    dev_ca_dir = tmp_path_factory.mktemp("dev-ca")
    process = start_enclave(dev_ca_dir=dev_ca_dir, token=TOKEN,
                            extra_args=("--header-timeout-s", str(HEADER_TIMEOUT_S), "--body-timeout-s", str(BODY_TIMEOUT_S),
                                        "--workers", str(WORKERS)))
    process.test_dev_ca_dir = dev_ca_dir
    yield process
    process.stop()


@dataclass(frozen=True)
class Answer:
    status: int
    error: str | None
    body: bytes
    elapsed_s: float
    head: bytes = b""


def exchange(process, raw: bytes, *, timeout_s: float = 10.0, read: bool = True) -> Answer:
    """Sends `raw` on a fresh connection and reads the whole answer."""
    port = int(process.url.rsplit(":", 1)[1])
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        try:
            sock.sendall(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return read_answer(sock, started)


def read_answer(sock: socket.socket, started: float) -> Answer:
    received = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head else 0
    try:
        error = json.loads(body).get("error") if body else None
    except (ValueError, AttributeError):
        error = None
    return Answer(status, error, body, time.perf_counter() - started, head)


def post(path: str, body: bytes, *, content_type: str | None = "application/json", token: str | None = TOKEN,
         extra: str = "") -> bytes:
    headers = f"POST {path} HTTP/1.1\r\nHost: enclave\r\nContent-Length: {len(body)}\r\n"
    if content_type:
        headers += f"Content-Type: {content_type}\r\n"
    if token:
        headers += f"Authorization: Bearer {token}\r\n"
    return (headers + extra + "\r\n").encode() + body


def get(target: str, *, token: str | None = TOKEN, extra: str = "") -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return f"GET {target} HTTP/1.1\r\nHost: enclave\r\n{auth}{extra}\r\n".encode()


def assert_same_enclave(process) -> None:
    answer = exchange(process, get("/health", token=None))
    assert answer.status == 200
    assert json.loads(answer.body)["address"] == process.address
    assert process.process.poll() is None


# --- nesting bombs ---------------------------------------------------------------------------

def test_200_kb_of_nested_json_brackets_is_refused_and_the_key_survives(hardened):
    """This request used to overflow the C stack (py_ecc raises the recursion limit to
    100 000) and kill the process with SIGSEGV, losing its key."""
    answer = exchange(hardened, post("/decide", b"[" * 200_000))
    assert (answer.status, answer.error) == (400, "body refused before decoding: JSON nested deeper than 32 levels")
    assert_same_enclave(hardened)


def test_json_nested_exactly_at_the_limit_reaches_the_decision_seam(hardened):
    """32 levels pass the pre-scan and reach the decision, which takes only canonical CBOR
    (415); 33 are refused by the pre-scan."""
    at_limit = exchange(hardened, post("/decide", b"[" * 32 + b"]" * 32))
    assert (at_limit.status, at_limit.error) == (415, "decision inputs must be application/cbor (the canonical encoding)")
    over = exchange(hardened, post("/decide", b"[" * 33 + b"]" * 33))
    assert (over.status, over.error) == (400, "body refused before decoding: JSON nested deeper than 32 levels")


@pytest.mark.parametrize(("name", "bomb"), [("arrays", b"\x81" * 200_000 + b"\x00"), ("indefinite arrays", b"\x9f" * 200_000),
                                            ("maps", b"\xa1\x00" * 100_000 + b"\x00"), ("tags", b"\xc6" * 200_000 + b"\x00")],
                         ids=["arrays", "indefinite arrays", "maps", "tags"])  # not the 200 kB bombs: the id is in an env var
def test_nested_cbor_bombs_are_refused_before_decoding(hardened, name, bomb):
    answer = exchange(hardened, post("/decide", bomb, content_type="application/cbor"))
    assert (answer.status, answer.error) == (400, "body refused before decoding: CBOR nested deeper than 32 levels")
    assert_same_enclave(hardened)


def test_cbor_nested_exactly_at_the_limit_reaches_the_decoder(hardened):
    """32 nested arrays pass the pre-scan and are decoded (then refused as not the inputs map)."""
    answer = exchange(hardened, post("/decide", b"\x81" * 31 + b"\x80", content_type="application/cbor"))
    assert (answer.status, answer.error) == (400, "inputs is not a map")


def test_cbor_with_trailing_bytes_is_refused(hardened):
    answer = exchange(hardened, post("/decide", cbor2.dumps({"chain_id": 1}) + b"\x00", content_type="application/cbor"))
    assert (answer.status, answer.error) == (400, "body refused before decoding: 1 bytes follow the CBOR item")


# --- size ------------------------------------------------------------------------------------

def test_body_one_byte_over_the_limit_is_refused_from_its_header(hardened):
    """Refused on Content-Length alone, before a byte of the body is read."""
    length = DEFAULT_MAX_BODY_BYTES + 1
    head = (f"POST /decide HTTP/1.1\r\nContent-Type: application/json\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()
    answer = exchange(hardened, head)
    assert (answer.status, answer.error) == (413, f"body of {length} bytes is over the limit of {DEFAULT_MAX_BODY_BYTES} bytes")
    assert answer.elapsed_s < 1.0


def test_body_exactly_at_the_limit_is_read_and_decoded(hardened):
    """4 MiB of CBOR (one byte string: 5 header bytes and 4 MiB - 5 of content) is accepted by
    the size check and reaches the decision inputs parser."""
    body = cbor2.dumps(b"x" * (DEFAULT_MAX_BODY_BYTES - 5))
    assert len(body) == DEFAULT_MAX_BODY_BYTES
    answer = exchange(hardened, post("/decide", body, content_type="application/cbor"), timeout_s=30)
    assert (answer.status, answer.error) == (400, "inputs is not a map")


def test_an_oversize_body_actually_sent_gets_the_answer_not_a_reset(hardened):
    """A client that sends all 5 MiB anyway still reads the 413 (the server drains before
    closing), through the project's own client code path."""
    from enclave.transport import Address, request

    response = request(Address.parse(hardened.url), "POST", "/decide", body=b"[" * (5 * 1024 * 1024),
                       headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}, timeout_s=30)
    assert (response.status, response.error_message()) == (413, "body of 5242880 bytes is over the limit of 4194304 bytes")
    assert_same_enclave(hardened)


def test_expect_100_continue_is_answered_only_for_an_accepted_head(hardened):
    """curl sends `Expect: 100-continue` before large bodies: the server says 100 once the
    head passes every check, then reads the body; an oversize head gets 413 and no 100."""
    port = int(hardened.url.rsplit(":", 1)[1])
    body = b"[" * 1000
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(post("/decide", body, extra="Expect: 100-continue\r\n")[:-len(body)])  # the head alone
        assert sock.recv(64) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        answer = read_answer(sock, time.perf_counter())
    assert (answer.status, answer.error) == (400, "body refused before decoding: JSON nested deeper than 32 levels")
    oversize = post("/decide", b"").replace(b"Content-Length: 0", f"Content-Length: {DEFAULT_MAX_BODY_BYTES + 1}".encode())
    refused = exchange(hardened, oversize.replace(b"\r\n\r\n", b"\r\nExpect: 100-continue\r\n\r\n"))
    assert refused.status == 413
    assert b"100 Continue" not in refused.head


# --- slow clients ----------------------------------------------------------------------------

def test_client_sending_headers_one_byte_at_a_time_is_dropped(hardened):
    """Slowloris: a byte every 0.2 s never finishes the headers; the whole-request deadline
    (1 s here) ends it, whatever the pace of the bytes. The client stops sending as soon as
    the answer is readable."""
    port = int(hardened.url.rsplit(":", 1)[1])
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for byte in b"GET /health HTTP/1.1\r\nX-Slow: " + b"a" * 100:
            if select.select([sock], [], [], 0.2)[0]:
                break  # the server has answered
            sock.send(bytes([byte]))
        answered_after_s = time.perf_counter() - started
        answer = read_answer(sock, started)
    assert (answer.status, answer.error) == (408, "request headers not received within 1 s")
    assert HEADER_TIMEOUT_S <= answered_after_s < HEADER_TIMEOUT_S + 2.0  # margin for a loaded 2-core CI machine
    assert_same_enclave(hardened)


def test_client_that_never_finishes_its_body_is_dropped(hardened):
    port = int(hardened.url.rsplit(":", 1)[1])
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(post("/decide", b"{").replace(b"Content-Length: 1", b"Content-Length: 100"))
        answer = read_answer(sock, started)
    assert (answer.status, answer.error) == (408, "request body not received within 1 s")
    assert answer.elapsed_s < BODY_TIMEOUT_S + 2.0  # margin for a loaded 2-core CI machine


def test_client_that_connects_and_says_nothing_is_dropped(hardened):
    port = int(hardened.url.rsplit(":", 1)[1])
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        answer = read_answer(sock, started)
    assert (answer.status, answer.error) == (408, "request headers not received within 1 s")


# --- flood -----------------------------------------------------------------------------------

def test_flood_beyond_the_worker_pool_gets_503_at_once(hardened):
    """Two silent connections hold both workers; 20 more requests each get 503 within
    half a second; once the silent ones time out, /health answers again with the same key."""
    port = int(hardened.url.rsplit(":", 1)[1])
    holders = [socket.create_connection(("127.0.0.1", port)) for _ in range(WORKERS)]
    try:
        for holder in holders:
            holder.sendall(b"GET /health HTTP/1.1\r\n")  # headers never finished
        time.sleep(0.1)
        answers: list[Answer] = []
        lock = threading.Lock()

        def one() -> None:
            answer = exchange(hardened, get("/health", token=None))
            with lock:
                answers.append(answer)

        threads = [threading.Thread(target=one) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [a.status for a in answers] == [503] * 20
        assert {a.error for a in answers} == {"enclave busy: 2 requests in progress; retry shortly"}
        assert max(a.elapsed_s for a in answers) < 0.5
    finally:
        for holder in holders:
            holder.close()
    time.sleep(HEADER_TIMEOUT_S)
    assert_same_enclave(hardened)


def hold_workers(hardened) -> list[socket.socket]:
    """Both workers held by connections whose headers never finish (the server drops each
    after HEADER_TIMEOUT_S)."""
    port = int(hardened.url.rsplit(":", 1)[1])
    holders = [socket.create_connection(("127.0.0.1", port)) for _ in range(WORKERS)]
    for holder in holders:
        holder.sendall(b"GET /health HTTP/1.1\r\n")
    # Held once a probe is turned away (a loaded machine may take longer than any fixed sleep
    # to hand the holders to the workers); a probe served meanwhile frees its worker at once.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as probe:
            probe.sendall(b"GET /health HTTP/1.1\r\nHost: enclave\r\nConnection: close\r\n\r\n")
            status_line = probe.recv(4096).split(b"\r\n", 1)[0]
        if b" 503 " in status_line:
            return holders
        time.sleep(0.05)
    raise AssertionError("the enclave's workers were not held within 10 s")


def test_the_client_retries_a_busy_enclave_after_its_retry_after(hardened):
    """Workers held, released 0.3 s later: the client's first try gets 503 (Retry-After: 1),
    it waits 1 s and the second try is served: attested, after at least 0.9 s."""
    from enclave.attestation import TrustAnchors
    from enclave.nsm import DevCa

    holders = hold_workers(hardened)
    threading.Timer(0.3, lambda: [h.close() for h in holders]).start()
    anchors = TrustAnchors().with_root(DevCa.load_or_create(hardened.test_dev_ca_dir).root_pem)
    client = EnclaveClient(hardened.url, hardened.measurement, anchors, token=TOKEN)
    started = time.monotonic()
    assert client.attest().enclave_address == hardened.address
    assert time.monotonic() - started >= 0.9
    time.sleep(HEADER_TIMEOUT_S)


def test_a_client_out_of_retries_reports_the_busy_answer(hardened, monkeypatch):
    """With one try only, a held enclave is reported by its own words."""
    from enclave import client as client_module
    from enclave.attestation import TrustAnchors

    monkeypatch.setattr(client_module, "BUSY_ATTEMPTS", 1)
    holders = hold_workers(hardened)
    try:
        client = EnclaveClient(hardened.url, hardened.measurement, TrustAnchors(), token=TOKEN)
        with pytest.raises(EnclaveAnswerError) as refused:
            client.attest()
        assert str(refused.value) == ("enclave refused /attestation (503): enclave busy: 2 requests in progress; "
                                      "retry shortly")
    finally:
        for holder in holders:
            holder.close()
    time.sleep(HEADER_TIMEOUT_S)


# --- authentication --------------------------------------------------------------------------

@pytest.mark.parametrize(("headers", "error"), [
    ("", "missing bearer token (Authorization: Bearer <token>)"),
    ("Authorization: Basic dXNlcjpwYXNz\r\n", "missing bearer token (Authorization: Bearer <token>)"),
    ("Authorization: Bearer wrong-token-000000000000\r\n", "bearer token does not match"),
    (f"Authorization: Bearer {TOKEN[:-1]}\r\n", "bearer token does not match"),
])
def test_wrong_or_missing_credentials_are_refused(hardened, headers, error):
    for raw in (get(f"/attestation?nonce={'ab' * 32}", token=None, extra=headers),
                post("/decide", b"{}", token=None, extra=headers)):
        answer = exchange(hardened, raw)
        assert (answer.status, answer.error) == (401, error)
        assert b'\r\nWWW-Authenticate: Bearer realm="enclave"' in answer.head


def test_the_right_token_is_served_and_health_needs_none(hardened):
    from enclave.attestation import TrustAnchors

    attestation = exchange(hardened, get(f"/attestation?nonce={'ab' * 32}"))
    assert attestation.status == 200 and attestation.body[:1] == b"\x84"  # an untagged COSE_Sign1
    assert exchange(hardened, get("/health", token=None)).status == 200
    client = EnclaveClient(hardened.url, hardened.measurement, TrustAnchors(), token="wrong-token-000000000000")
    with pytest.raises(EnclaveAnswerError, match=r"enclave refused /attestation \(401\): bearer token does not match"):
        client.attest()


def test_start_without_a_token_is_refused_unless_dev(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "RISK_AGENT_ENCLAVE_TOKEN"}
    result = subprocess.run([sys.executable, "-m", "enclave.server", "--dev-ca-dir", str(tmp_path)], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip() == ("enclave: no client token: give --token-file or RISK_AGENT_ENCLAVE_TOKEN "
                                     "(or --dev for local development)")


def test_short_token_and_dev_with_nitro_are_refused(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("short\n")
    short = subprocess.run([sys.executable, "-m", "enclave.server", "--token-file", str(token_file)],
                           capture_output=True, text=True, timeout=60)
    assert (short.returncode, short.stderr.strip()) == (2, "enclave: client token is 5 characters; at least 16 required")
    nitro_dev = subprocess.run([sys.executable, "-m", "enclave.server", "--backend", "nitro", "--dev"],
                               capture_output=True, text=True, timeout=60)
    assert (nitro_dev.returncode, nitro_dev.stderr.strip()) == (
        2, "enclave: --dev (no client authentication) is for the local back end only")


def test_token_from_a_file(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    started = subprocess.Popen([sys.executable, "-m", "enclave.server", "--token-file", str(token_file),
                                "--dev-ca-dir", str(tmp_path / "ca")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready = json.loads(started.stdout.readline())
        port = ready["port"]
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(get(f"/attestation?nonce={'cd' * 8}"))
            assert read_answer(sock, time.perf_counter()).status == 200
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(get(f"/attestation?nonce={'cd' * 8}", token="x" * 40))
            assert read_answer(sock, time.perf_counter()).error == "bearer token does not match"
    finally:
        started.terminate()
        started.wait(timeout=10)
        started.stdout.close()
        started.stderr.close()


# --- malformed requests ----------------------------------------------------------------------

MALFORMED = [
    ("wrong method on /decide", b"PUT /decide HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405, "/decide takes POST, not PUT"),
    ("GET /decide", get("/decide"), 405, "/decide takes POST, not GET"),
    ("POST /health", post("/health", b"{}"), 405, "/health takes GET, not POST"),
    ("unknown path", get("/admin"), 404, "unknown path /admin"),
    ("lower-case method", b"get /health HTTP/1.1\r\n\r\n", 400, "malformed request line"),
    ("no HTTP version", b"GET /health\r\n\r\n", 400, "malformed request line"),
    ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400, "malformed request line"),
    ("header without colon", b"GET /health HTTP/1.1\r\nBroken header\r\n\r\n", 400, "malformed header line"),
    ("obsolete line folding", b"GET /health HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n", 400, "malformed header line"),
    ("headers over 16 KiB", b"GET /health HTTP/1.1\r\nX-Big: " + b"a" * 17_000 + b"\r\n\r\n", 431,
     "request line and headers longer than 16384 bytes"),
    ("no content type", post("/decide", b"{}", content_type=None), 415,
     "Content-Type must be application/json or application/cbor, not missing"),
    ("form content type", post("/decide", b"a=1", content_type="application/x-www-form-urlencoded"), 415,
     "Content-Type must be application/json or application/cbor, not application/x-www-form-urlencoded"),
    ("no content length", f"POST /decide HTTP/1.1\r\nContent-Type: application/json\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
     .encode(), 411, "Content-Length required"),
    ("negative content length", post("/decide", b"").replace(b"Content-Length: 0", b"Content-Length: -5"), 400,
     "Content-Length '-5' is not a byte count"),
    ("two content lengths", post("/decide", b"{}", extra="Content-Length: 2\r\n"), 400, "duplicate content-length header"),
    ("chunked body", post("/decide", b"", extra="Transfer-Encoding: chunked\r\n"), 400,
     "Transfer-Encoding is not accepted; send the body with Content-Length"),
    ("empty body", post("/decide", b""), 400, "empty body: send the decision inputs"),
    ("body longer than its length", post("/decide", b"{}") + b"GET /health HTTP/1.1\r\n\r\n", 400,
     "more bytes than Content-Length (one request per connection)"),
    ("GET with a body", get("/health", extra="Content-Length: 3\r\n") + b"abc", 400, "GET /health takes no body"),
    ("missing nonce", get("/attestation"), 400, "one nonce=HEX query parameter required (a fresh random value per attestation)"),
    ("empty nonce", get("/attestation?nonce="), 400, "one nonce=HEX query parameter required (a fresh random value per attestation)"),
    ("two nonces", get("/attestation?nonce=ab&nonce=cd"), 400, "one nonce=HEX query parameter required (a fresh random value per attestation)"),
    ("non-hex nonce", get("/attestation?nonce=zz"), 400, "nonce must be hex"),
    ("odd-length nonce", get("/attestation?nonce=abc"), 400, "nonce must be hex"),
    ("nonce of 513 bytes", get("/attestation?nonce=" + "ab" * 513), 400, "nonce longer than 512 bytes"),
    ("unknown query parameter", get("/attestation?nonce=ab&debug=1"), 400, "unknown query parameters ['debug']"),
    ("query without =", get("/attestation?nonce"), 400, "malformed query string"),
    # JSON passes the transport's checks but the decision takes only canonical CBOR.
    ("JSON decision inputs", post("/decide", b'{"chain_id": 1}'), 415, "decision inputs must be application/cbor (the canonical encoding)"),
    ("CBOR that is not a map", post("/decide", cbor2.dumps([1, 2]), content_type="application/cbor"), 400,
     "inputs is not a map"),
    ("CBOR map of the wrong shape", post("/decide", cbor2.dumps({"chain_id": 1}), content_type="application/cbor"), 400,
     "inputs.version is missing"),
]


@pytest.mark.parametrize(("raw", "status", "error"), [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED])
def test_every_malformed_request_gets_a_4xx_json_error(hardened, raw, status, error):
    answer = exchange(hardened, raw)
    assert answer.status == status
    if error.startswith("prefix:"):  # the decision module's own words follow (owned and worded there)
        assert answer.error.startswith(error.removeprefix("prefix:"))
    else:
        assert answer.error == error


def test_nonce_of_exactly_512_bytes_is_served(hardened):
    answer = exchange(hardened, get("/attestation?nonce=" + "ab" * 512))
    assert answer.status == 200
    assert cbor2.loads(cbor2.loads(answer.body)[2])["nonce"] == b"\xab" * 512


def test_after_all_the_attacks_the_same_enclave_answers(hardened):
    assert_same_enclave(hardened)


def test_a_stopped_enclave_is_reported_unavailable(tmp_path):
    process = start_enclave(dev_ca_dir=tmp_path)
    process.stop()
    with pytest.raises(EnclaveUnavailableError, match=r"enclave at http://127\.0\.0\.1:\d+ is not answering \(/attestation: "
                                                      r"Connection refused\)"):
        EnclaveClient(process.url, process.measurement, None).attest()
