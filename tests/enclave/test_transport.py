"""The enclave API's transport: addresses, vsock (served and reached if this kernel offers
the loopback CID, otherwise refused in words), and the one HTTP framing code path over
TCP and Unix sockets (the hardening tests attack the same code over TCP)."""

from __future__ import annotations

import random
import socket
import threading

import pytest

from enclave.errors import EnclaveUnavailableError, TransportError
from enclave.transport import VSOCK_CID_ANY, VSOCK_CID_LOCAL, Address, HttpError, ServerConnection, listen, request


@pytest.mark.parametrize(("text", "expected"), [
    ("http://127.0.0.1:8080", Address("tcp", host="127.0.0.1", port=8080)),
    ("tcp://localhost:1", Address("tcp", host="localhost", port=1)),
    ("unix:///run/enclave.sock", Address("unix", path="/run/enclave.sock")),
    ("vsock://16:5005", Address("vsock", cid=16, port=5005)),
    ("vsock://any:5005", Address("vsock", cid=VSOCK_CID_ANY, port=5005)),
])
def test_addresses_parse_and_print_back(text, expected):
    assert Address.parse(text) == expected
    assert Address.parse(str(expected)) == expected


@pytest.mark.parametrize(("text", "words"), [
    ("ftp://host:1", "use http://HOST:PORT, unix:///PATH or vsock://CID:PORT"),
    ("http://127.0.0.1", "needs host and port"),
    ("vsock://sixteen:5005", "invalid literal for int()"),
    ("unix://", "needs a path"),
])
def test_bad_addresses_are_refused_in_words(text, words):
    with pytest.raises(TransportError, match="enclave address") as raised:
        Address.parse(text)
    assert words in str(raised.value)


def _echo_server(listener: socket.socket) -> threading.Thread:
    """Answers one request with its own method, path and body, through ServerConnection."""

    def serve() -> None:
        sock, _ = listener.accept()
        connection = ServerConnection(sock)
        head = connection.read_head(16_384, 5)
        body = connection.read_body(int(head.headers.get("content-length", "0")), 5)
        connection.send(200, f"{head.method} {head.path} ".encode() + body, "text/plain")
        connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("family", ["tcp", "unix"])
def test_one_request_over_tcp_and_unix_sockets(family, tmp_path):
    address = Address.parse("http://127.0.0.1:0" if family == "tcp" else f"unix://{tmp_path}/api.sock")
    listener, bound = listen(address)
    try:
        thread = _echo_server(listener)
        response = request(bound, "POST", "/decide", body=b"payload", headers={"Content-Type": "text/plain"}, timeout_s=5)
        thread.join(timeout=5)
        assert (response.status, response.body) == (200, b"POST /decide payload")
        assert response.headers["connection"] == "close"
    finally:
        listener.close()


def test_vsock_is_served_if_the_kernel_offers_loopback_else_refused_in_words():
    """vsock_loopback (CID 1) lets one machine be both ends; without it, binding CID 1
    fails and the refusal must say what is missing rather than fall back to another socket."""
    port = random.randint(20_000, 60_000)
    address = Address("vsock", cid=VSOCK_CID_LOCAL, port=port)
    try:
        listener, bound = listen(address)
    except TransportError as error:
        assert str(error).startswith(f"cannot listen on vsock://1:{port}: ")
        assert str(error).endswith("(no vsock transport or loopback CID in this kernel)")
        with pytest.raises(EnclaveUnavailableError, match=rf"^enclave at vsock://1:{port} (is not answering|timed out)"):
            request(address, "GET", "/health", timeout_s=2)
        return
    try:
        thread = _echo_server(listener)
        response = request(bound, "GET", "/health", timeout_s=5)
        thread.join(timeout=5)
        assert (response.status, response.body) == (200, b"GET /health ")
    finally:
        listener.close()


def test_listening_on_a_port_in_use_is_refused_in_words():
    listener, bound = listen(Address.parse("http://127.0.0.1:0"))
    try:
        with pytest.raises(TransportError, match=rf"^cannot listen on http://127\.0\.0\.1:{bound.port}: Address already in use$"):
            listen(Address.parse(f"http://127.0.0.1:{bound.port}"))
    finally:
        listener.close()


def test_unix_socket_that_nobody_serves(tmp_path):
    with pytest.raises(EnclaveUnavailableError, match=r"is not answering \(/health: No such file or directory\)"):
        request(Address.parse(f"unix://{tmp_path}/missing.sock"), "GET", "/health", timeout_s=2)


def test_server_that_hangs_up_without_an_answer(tmp_path):
    listener, bound = listen(Address.parse(f"unix://{tmp_path}/rude.sock"))

    def hang_up() -> None:
        sock, _ = listener.accept()
        sock.recv(1024)
        sock.close()

    thread = threading.Thread(target=hang_up, daemon=True)
    thread.start()
    try:
        with pytest.raises(EnclaveUnavailableError, match=r"is not answering \(/health: no complete answer\)"):
            request(bound, "GET", "/health", timeout_s=5)
    finally:
        thread.join(timeout=5)
        listener.close()


def test_answer_shorter_than_its_content_length_is_refused(tmp_path):
    listener, bound = listen(Address.parse(f"unix://{tmp_path}/short.sock"))

    def short_answer() -> None:
        sock, _ = listener.accept()
        sock.recv(1024)
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        sock.close()

    thread = threading.Thread(target=short_answer, daemon=True)
    thread.start()
    try:
        with pytest.raises(EnclaveUnavailableError, match=r"answer cut short"):
            request(bound, "GET", "/health", timeout_s=5)
    finally:
        thread.join(timeout=5)
        listener.close()


def test_header_deadline_counts_the_whole_header_not_each_byte():
    """A socket pair stands in for a client that sent half a request line: read_head gives
    up after its 0.3 s deadline with 408."""
    server_side, client_side = socket.socketpair()
    try:
        client_side.sendall(b"GET /hea")
        with pytest.raises(HttpError) as raised:
            ServerConnection(server_side).read_head(16_384, 0.3)
        assert (raised.value.status, raised.value.message) == (408, "request headers not received within 0.3 s")
    finally:
        server_side.close()
        client_side.close()

