"""How the enclave API's bytes travel: HTTP/1.1 over a stream socket of any family.

Loopback TCP in local mode, AF_VSOCK inside a Nitro enclave (the parent instance reaches
the enclave by its CID), a Unix socket where a test or a sidecar wants one. The server and
the client here speak one small, strict subset of HTTP/1.1 — one request per connection,
`Content-Length` bodies only, `Connection: close` — over all three, so the code that frames
requests, enforces deadlines and size limits is the same whatever the socket.

Addresses: `http://HOST:PORT` (or `tcp://`), `unix:///PATH`, `vsock://CID:PORT` (CID
`any` to listen on every CID)."""

from __future__ import annotations

import errno
import os
import re
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from enclave.errors import EnclaveUnavailableError, TransportError

VSOCK_CID_ANY = 0xFFFFFFFF
VSOCK_CID_LOCAL = 1  # the loopback CID (vsock_loopback), where the kernel offers it
_REQUEST_LINE = re.compile(r"^([A-Z]{1,16}) (/[!-~]*) HTTP/1\.[01]$")
_STATUS_LINE = re.compile(r"^HTTP/1\.[01] (\d{3})(?: .*)?$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
SINGLE_HEADERS = ("content-length", "content-type", "authorization", "transfer-encoding", "host")
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
           408: "Request Timeout", 411: "Length Required", 413: "Content Too Large", 415: "Unsupported Media Type",
           431: "Request Header Fields Too Large", 500: "Internal Server Error", 501: "Not Implemented",
           503: "Service Unavailable"}


@dataclass(frozen=True)
class Address:
    """Where an enclave listens: family `tcp`, `unix` or `vsock`."""

    family: str
    host: str = ""
    port: int = 0
    path: str = ""
    cid: int = 0

    @classmethod
    def parse(cls, text: str) -> Address:
        parts = urlsplit(text)
        try:
            if parts.scheme in ("http", "tcp"):
                if not parts.hostname or parts.port is None:
                    raise ValueError("needs host and port")
                return cls("tcp", host=parts.hostname, port=parts.port)
            if parts.scheme == "unix":
                if not parts.path:
                    raise ValueError("needs a path")
                return cls("unix", path=parts.path)
            if parts.scheme == "vsock":
                cid_text, _, port_text = parts.netloc.partition(":")
                cid = VSOCK_CID_ANY if cid_text == "any" else int(cid_text)
                return cls("vsock", cid=cid, port=int(port_text))
        except ValueError as error:
            raise TransportError(f"enclave address {text!r}: {error}") from None
        raise TransportError(f"enclave address {text!r}: use http://HOST:PORT, unix:///PATH or vsock://CID:PORT")

    def __str__(self) -> str:
        if self.family == "tcp":
            return f"http://{self.host}:{self.port}"
        if self.family == "unix":
            return f"unix://{self.path}"
        return f"vsock://{'any' if self.cid == VSOCK_CID_ANY else self.cid}:{self.port}"

    def _socket(self) -> socket.socket:
        if self.family == "vsock":
            if not hasattr(socket, "AF_VSOCK"):
                raise TransportError("this platform has no AF_VSOCK sockets")
            return socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
        family = socket.AF_UNIX if self.family == "unix" else socket.AF_INET6 if ":" in self.host else socket.AF_INET
        return socket.socket(family, socket.SOCK_STREAM)

    def _sockaddr(self) -> object:
        return {"tcp": (self.host, self.port), "unix": self.path, "vsock": (self.cid, self.port)}[self.family]


def listen(address: Address, backlog: int = 128) -> tuple[socket.socket, Address]:
    """A listening socket and the address it is bound to (the real port when 0 was asked)."""
    sock = address._socket()
    try:
        if address.family == "tcp":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address._sockaddr())
        sock.listen(backlog)
    except OSError as error:
        sock.close()
        hint = " (no vsock transport or loopback CID in this kernel)" if address.family == "vsock" else ""
        raise TransportError(f"cannot listen on {address}: {os.strerror(error.errno) if error.errno else error}{hint}") from None
    if address.family == "tcp":
        return sock, Address("tcp", host=address.host, port=sock.getsockname()[1])
    if address.family == "vsock":
        return sock, Address("vsock", cid=address.cid, port=sock.getsockname()[1])
    return sock, address


class HttpError(Exception):
    """A request the server answers with `status` and `{"error": message}`."""

    def __init__(self, status: int, message: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


class ClientGone(Exception):
    """The peer closed the connection before a whole request arrived: nothing to answer."""


@dataclass(frozen=True)
class RequestHead:
    method: str
    target: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str] = field(repr=False)


class ServerConnection:
    """One accepted connection: reads one request under deadlines, writes one answer."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = bytearray()

    def _recv(self, deadline: float, what: str, timeout_s: float) -> bytes:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise HttpError(408, f"{what} not received within {timeout_s:g} s")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError:
            raise HttpError(408, f"{what} not received within {timeout_s:g} s") from None
        except OSError:
            raise ClientGone from None
        if not chunk:
            raise ClientGone
        return chunk

    def read_head(self, max_bytes: int, timeout_s: float) -> RequestHead:
        deadline = time.monotonic() + timeout_s
        while (end := self._buffer.find(b"\r\n\r\n")) < 0:
            if len(self._buffer) > max_bytes:
                raise HttpError(431, f"request line and headers longer than {max_bytes} bytes")
            self._buffer += self._recv(deadline, "request headers", timeout_s)
        if end > max_bytes:
            raise HttpError(431, f"request line and headers longer than {max_bytes} bytes")
        head = bytes(self._buffer[:end]).decode("latin-1")
        del self._buffer[:end + 4]
        request_line, *header_lines = head.split("\r\n")
        matched = _REQUEST_LINE.match(request_line)
        if matched is None:
            raise HttpError(400, "malformed request line")
        headers: dict[str, str] = {}
        for line in header_lines:
            name, colon, value = line.partition(":")
            if not colon or not _HEADER_NAME.match(name):
                raise HttpError(400, "malformed header line")
            name = name.lower()
            if name in headers and name in SINGLE_HEADERS:
                raise HttpError(400, f"duplicate {name} header")
            headers[name] = value.strip(" \t")
        target = matched.group(2)
        parts = urlsplit(target)
        try:
            query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query), max_num_fields=8)
        except ValueError:
            raise HttpError(400, "malformed query string") from None
        return RequestHead(matched.group(1), target, parts.path, query, headers)

    def read_body(self, length: int, timeout_s: float) -> bytes:
        deadline = time.monotonic() + timeout_s
        while len(self._buffer) < length:
            self._buffer += self._recv(deadline, "request body", timeout_s)
        if len(self._buffer) > length:
            raise HttpError(400, "more bytes than Content-Length (one request per connection)")
        body = bytes(self._buffer)
        self._buffer.clear()
        return body

    def send_continue(self) -> None:
        """The interim answer to `Expect: 100-continue`, once the head has been accepted."""
        try:
            self.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        except OSError:
            pass

    def send(self, status: int, body: bytes, content_type: str, headers: tuple[tuple[str, str], ...] = (),
             timeout_s: float = 10.0) -> None:
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}", f"Content-Type: {content_type}",
                 f"Content-Length: {len(body)}", "Connection: close", *(f"{k}: {v}" for k, v in headers)]
        self.sock.settimeout(timeout_s)  # a client that never reads its answer is dropped
        try:
            self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        except OSError:
            pass  # gone or too slow to read: nothing more to do for it

    def close(self, linger_s: float = 1.0, linger_bytes: int = 8 * 1024 * 1024) -> None:
        """Half-close, then read what the client is still sending for a moment, so a client
        refused before its body was read sees the answer rather than a reset."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + linger_s
            drained = 0
            while drained < linger_bytes and (remaining := deadline - time.monotonic()) > 0:
                self.sock.settimeout(remaining)
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                drained += len(chunk)
        except OSError:
            pass
        finally:
            self.sock.close()


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def error_message(self) -> str:
        """The server's `{"error": ...}` text, or the start of whatever it sent."""
        import json

        try:
            return str(json.loads(self.body)["error"])
        except (ValueError, KeyError, TypeError):
            return self.body[:200].decode("utf-8", "replace")


def request(address: Address, method: str, target: str, *, body: bytes = b"", headers: dict[str, str] | None = None,
            timeout_s: float = 120.0, max_response_bytes: int = 64 * 1024 * 1024) -> Response:
    """One request, one response; `EnclaveUnavailableError` if the enclave cannot be reached,
    times out, or hangs up without a whole answer."""
    deadline = time.monotonic() + timeout_s
    host = address.host if address.family == "tcp" else "enclave"
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Connection: close", f"Content-Length: {len(body)}",
             *(f"{k}: {v}" for k, v in (headers or {}).items())]
    wire = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
    sock = address._socket()
    try:
        sock.settimeout(timeout_s)
        sock.connect(address._sockaddr())
        try:
            sock.sendall(wire)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early (e.g. 413) and closed: read what it said
        received = bytearray()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            sock.settimeout(remaining)
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                if received:
                    break
                raise
            if not chunk:
                break
            received += chunk
            if len(received) > max_response_bytes:
                raise EnclaveUnavailableError(f"enclave at {address} sent more than {max_response_bytes} bytes")
    except TimeoutError:
        raise EnclaveUnavailableError(f"enclave at {address} timed out ({target.split('?')[0]})") from None
    except OSError as error:
        detail = os.strerror(error.errno) if error.errno else type(error).__name__
        if address.family == "vsock" and error.errno in (errno.ENODEV, errno.EADDRNOTAVAIL, errno.ENETUNREACH):
            detail += " (no vsock transport to that CID on this machine)"
        raise EnclaveUnavailableError(f"enclave at {address} is not answering ({target.split('?')[0]}: {detail})") from None
    finally:
        sock.close()
    return _parse_response(bytes(received), address, target)


def _parse_response(raw: bytes, address: Address, target: str) -> Response:
    head, separator, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    matched = _STATUS_LINE.match(lines[0]) if separator else None
    if matched is None:
        raise EnclaveUnavailableError(f"enclave at {address} is not answering ({target.split('?')[0]}: no complete answer)")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) != len(body)):
        raise EnclaveUnavailableError(f"enclave at {address} is not answering ({target.split('?')[0]}: answer cut short)")
    return Response(int(matched.group(1)), headers, body)
