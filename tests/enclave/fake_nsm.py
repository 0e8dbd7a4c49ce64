"""A fake Nitro Secure Module that answers at the ioctl boundary: it is called exactly as
the kernel's NSM driver would be (fd, request code, a `struct nsm_raw` whose iovecs point
into the caller's memory), reads the request bytes from that memory, decodes them with
cbor2 (an independent decoder) and writes its CBOR response back into the caller's
response buffer, setting the response length as the driver does. Documents are signed by
a test CA standing in for AWS's, with the PCR0 of a pretend enclave image file."""

from __future__ import annotations

import ctypes
import errno
import hashlib
from dataclasses import dataclass, field

import cbor2
from cryptography.hazmat.primitives import serialization

from enclave.attestation import build_document
from tests.enclave.pki import DOCUMENT_TIME_MS, TestPki

IMAGE_PCR0 = hashlib.sha384(b"risk-agent enclave image file (EIF)").digest()
EXPECTED_IOCTL = 0xC0200A00  # _IOWR(0x0A, 0, 32): (3 << 30) | (32 << 16) | (0x0A << 8) | 0
FAKE_FD = 7


@dataclass
class FakeNsm:
    pki: TestPki = field(default_factory=TestPki)
    pcr0: bytes = IMAGE_PCR0
    pcr0_locked: bool = True
    digest: str = "SHA384"
    timestamp_ms: int = DOCUMENT_TIME_MS
    document_pcr0: bytes | None = None  # a PCR0 for documents that differs from DescribePCR's
    error_for: dict[str, str] = field(default_factory=dict)  # request name -> NSM ErrorCode
    raw_response: bytes | None = None  # answer these bytes instead of a proper response
    reported_length: int | None = None  # claim this response length instead of the real one
    fail_errno: int | None = None
    requests: list[object] = field(default_factory=list)
    request_bytes: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.leaf = self.pki.leaf()

    def open_device(self, path: str, flags: int) -> int:
        self.opened = (path, flags)
        return FAKE_FD

    def ioctl(self, fd: int, request: int, message) -> int:
        if fd != FAKE_FD or request != EXPECTED_IOCTL:
            raise OSError(errno.ENOTTY, "Inappropriate ioctl for device")
        if self.fail_errno is not None:
            raise OSError(self.fail_errno, "fake NSM failure")
        raw_request = ctypes.string_at(message.request_addr, message.request_len)
        self.request_bytes.append(raw_request)
        decoded = cbor2.loads(raw_request)
        self.requests.append(decoded)
        response = self.raw_response if self.raw_response is not None else cbor2.dumps(self._answer(decoded))
        if len(response) > message.response_len:
            raise OSError(errno.EMSGSIZE, "response larger than the buffer")
        ctypes.memmove(message.response_addr, response, len(response))
        message.response_len = self.reported_length if self.reported_length is not None else len(response)
        return 0

    def _answer(self, request: object) -> object:
        name = request if isinstance(request, str) else next(iter(request))
        if name in self.error_for:
            return {"Error": self.error_for[name]}
        if name == "DescribeNSM":
            return {"DescribeNSM": {"version_major": 1, "version_minor": 0, "version_patch": 0,
                                    "module_id": "i-0123456789abcdef0-enc0123456789abcdef", "max_pcrs": 32,
                                    "locked_pcrs": [0, 1, 2, 3, 4, 8], "digest": self.digest}}
        if name == "DescribePCR":
            index = request["DescribePCR"]["index"]
            return {"DescribePCR": {"lock": self.pcr0_locked, "data": self.pcr0 if index == 0 else bytes(48)}}
        if name == "Attestation":
            body = request["Attestation"]
            der = serialization.Encoding.DER
            document = build_document(
                {"module_id": "i-0123456789abcdef0-enc0123456789abcdef", "digest": "SHA384", "timestamp": self.timestamp_ms,
                 "pcrs": {0: self.document_pcr0 or self.pcr0, 1: bytes(48), 2: bytes(48)},
                 "public_key": body["public_key"], "user_data": body["user_data"], "nonce": body["nonce"]},
                self.leaf.key, self.leaf.certificate.public_bytes(der),
                [self.pki.root.certificate.public_bytes(der), self.pki.intermediate.certificate.public_bytes(der)])
            return {"Attestation": {"document": document}}
        return {"Error": "InvalidOperation"}
