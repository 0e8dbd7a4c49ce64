"""The nitro back end against a fake NSM at the ioctl boundary (there is no /dev/nsm here):
the exact request bytes and ioctl code, PCR0 taken from the NSM and never from our
manifest, documents that verify, and every NSM failure refused (fail closed)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime

import pytest

from enclave.attestation import verify_document
from enclave.errors import NsmError, NsmUnavailableError
from enclave.image import measure
from enclave.limits import RequestLimits
from enclave.nsm import NSM_IOCTL_RAW, NitroNsm, NsmDevice, make_nsm
from enclave.server import Enclave, EnclaveApi, EnclaveServer
from enclave.transport import Address, listen, request
from tests.enclave.fake_nsm import EXPECTED_IOCTL, IMAGE_PCR0, FakeNsm
from tests.enclave.pki import DOCUMENT_TIME_MS, TestPki


def nitro(fake: FakeNsm) -> NitroNsm:
    return NitroNsm(NsmDevice(ioctl=fake.ioctl, open_device=fake.open_device))


def test_ioctl_request_code_is_iowr_0x0a_0_of_the_32_byte_nsm_raw():
    """_IOWR(type 0x0A, nr 0, size 32): direction 3 << 30 = 0xC0000000, size 32 << 16 =
    0x200000, type 0x0A << 8 = 0xA00: 0xC0200A00."""
    assert NSM_IOCTL_RAW == EXPECTED_IOCTL == 0xC0200A00


def test_device_is_opened_read_write_at_dev_nsm():
    fake = FakeNsm()
    nitro(fake)
    assert fake.opened == ("/dev/nsm", os.O_RDWR)


def test_request_bytes_at_the_boundary_are_the_nsm_apis_cbor():
    """serde's external tagging, written out by hand: DescribeNSM is a unit variant (a bare
    text string, 0x6b + 11 letters); DescribePCR {index: 0} is a one-key map holding a map."""
    fake = FakeNsm()
    nitro(fake)
    assert fake.request_bytes[0] == bytes([0x6B]) + b"DescribeNSM"
    assert fake.request_bytes[1] == bytes([0xA1, 0x6B]) + b"DescribePCR" + bytes([0xA1, 0x65]) + b"index" + bytes([0x00])


def test_attestation_request_carries_key_user_data_and_nonce():
    fake = FakeNsm()
    backend = nitro(fake)
    backend.attest(public_key=b"\x04" + b"\x01" * 64, user_data=b"\x02" * 20, nonce=b"\x03" * 32)
    assert fake.requests[-1] == {"Attestation": {"public_key": b"\x04" + b"\x01" * 64, "user_data": b"\x02" * 20,
                                                 "nonce": b"\x03" * 32}}


def test_pcr0_is_the_image_hash_the_nsm_reports_not_the_manifest():
    fake = FakeNsm()
    enclave = Enclave(nitro(fake))
    assert enclave.measurement == IMAGE_PCR0
    assert enclave.measurement != measure().digest
    assert enclave.nsm.backend == "nitro"


def test_enclave_document_from_the_nsm_verifies_and_binds_the_key():
    fake = FakeNsm()
    enclave = Enclave(nitro(fake))
    document = enclave.attestation(b"\x44" * 32)
    verified = verify_document(document, expected_measurement=IMAGE_PCR0, anchors=fake.pki.anchors,
                               expected_nonce=b"\x44" * 32, now_ms=DOCUMENT_TIME_MS)
    assert verified.enclave_address == enclave.address
    assert verified.user_data == bytes.fromhex(enclave.address[2:])


def test_local_back_end_keeps_pcr0_equal_to_the_manifest_measurement(tmp_path):
    backend = make_nsm("local", dev_ca_dir=tmp_path, manifest_measurement=lambda: measure().digest)
    assert backend.measurement == measure().digest


def test_nitro_enclave_served_over_a_unix_socket(tmp_path):
    """The same server and client code as in local mode, over AF_UNIX: /health reports the
    NSM's PCR0 and the client attests the enclave against the NSM's root."""
    from enclave.client import EnclaveClient

    now = datetime.now(tz=UTC)
    fake = FakeNsm(pki=TestPki(at=now), timestamp_ms=int(now.timestamp() * 1000))
    enclave = Enclave(nitro(fake))
    limits = RequestLimits(header_timeout_s=2, body_timeout_s=2, workers=2)
    listener, bound = listen(Address.parse(f"unix://{tmp_path}/enclave.sock"))
    server = EnclaveServer(EnclaveApi(enclave, limits, "unix-socket-token-0123456789"), listener, limits)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        health = request(bound, "GET", "/health", timeout_s=10)
        assert health.status == 200
        assert health.body.decode().count(IMAGE_PCR0.hex()) == 1
        client = EnclaveClient(str(bound), IMAGE_PCR0, fake.pki.anchors, token="unix-socket-token-0123456789")
        assert client.attest().enclave_address == enclave.address
        bomb = request(bound, "POST", "/decide", body=b"[" * 200_000, timeout_s=10,
                       headers={"Content-Type": "application/json", "Authorization": "Bearer unix-socket-token-0123456789"})
        assert (bomb.status, bomb.error_message()) == (400, "body refused before decoding: JSON nested deeper than 32 levels")
    finally:
        server.shutdown()
        thread.join(timeout=5)


# --- fail closed ---------------------------------------------------------------------------

@pytest.mark.parametrize(("fake", "words"), [
    (FakeNsm(error_for={"DescribePCR": "InvalidIndex"}), "NSM refused DescribePCR: InvalidIndex"),
    (FakeNsm(error_for={"DescribeNSM": "InternalError"}), "NSM refused DescribeNSM: InternalError"),
    (FakeNsm(pcr0_locked=False), "PCR0 is not locked and 48 bytes: not a measured enclave image"),
    (FakeNsm(pcr0=bytes(32)), "PCR0 is locked and 32 bytes: not a measured enclave image"),
    (FakeNsm(digest="SHA256"), "NSM registers use SHA256; this verifier expects SHA384"),
    (FakeNsm(fail_errno=errno.EIO), "NSM ioctl failed: Input/output error"),
    (FakeNsm(raw_response=b"\xff\x00"), "NSM response is not CBOR: unexpected break at byte 0"),
    (FakeNsm(raw_response=b"\xa1\x6bDescribeNSM\x01"), "NSM answered DescribeNSM with {'DescribeNSM': 1}"),
    (FakeNsm(reported_length=0x3001), "NSM reported a 12289-byte response for a 12288-byte buffer"),
])
def test_nsm_failures_at_start_are_refused(fake, words):
    with pytest.raises(NsmError) as raised:
        nitro(fake)
    assert str(raised.value) == words


def test_document_whose_pcr0_differs_from_describe_pcr_is_refused():
    fake = FakeNsm(document_pcr0=b"\x99" * 48)
    backend = nitro(fake)
    with pytest.raises(NsmError, match="^NSM document's PCR0 differs from the PCR0 it reported at start$"):
        backend.attest(public_key=b"\x04" + b"\x01" * 64, user_data=None, nonce=None)


def test_attestation_error_from_the_nsm_is_refused():
    fake = FakeNsm(error_for={"Attestation": "InputTooLarge"})
    backend = nitro(fake)
    with pytest.raises(NsmError, match="^NSM refused Attestation: InputTooLarge$"):
        backend.attest(public_key=b"\x04" + b"\x01" * 64, user_data=None, nonce=None)


def test_request_over_the_devices_4_kib_is_refused_before_the_ioctl():
    fake = FakeNsm()
    backend = nitro(fake)
    calls = len(fake.requests)
    with pytest.raises(NsmError, match=r"^NSM request of 4\d\d\d bytes is over the device's 4096$"):
        backend.attest(public_key=b"\x04" * 1024, user_data=b"\x01" * 1500, nonce=b"\x02" * 1600)
    assert len(fake.requests) == calls


def test_no_dev_nsm_here_means_nitro_refuses_to_start():
    assert not os.path.exists("/dev/nsm")
    with pytest.raises(NsmUnavailableError, match=r"^/dev/nsm not present: not inside an AWS Nitro enclave"):
        make_nsm("nitro")


def test_device_that_cannot_be_opened():
    with pytest.raises(NsmUnavailableError, match=r"^cannot open /nonexistent/nsm: No such file or directory"):
        NsmDevice("/nonexistent/nsm")


def test_unknown_back_end_is_refused():
    with pytest.raises(NsmUnavailableError, match=r"^unknown attestation back end 'sgx' \(local or nitro\)$"):
        make_nsm("sgx")


def test_nitro_process_without_nsm_exits_and_never_falls_back_to_local(tmp_path):
    """The real server process with --backend nitro on a machine without /dev/nsm: exit 2,
    the reason on stderr, and no ready line (nothing served, least of all a local enclave)."""
    token = tmp_path / "token"
    token.write_text("nitro-token-0123456789abcdef\n")
    result = subprocess.run([sys.executable, "-m", "enclave.server", "--backend", "nitro", "--token-file", str(token)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip() == ("enclave: /dev/nsm not present: not inside an AWS Nitro enclave "
                                     "(use the local back end only in development)")
