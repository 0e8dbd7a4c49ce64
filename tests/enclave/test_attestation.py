"""The verifier against documents from the real enclave process and real AWS Nitro documents:
each tampering or mismatch is rejected with its own reason."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta

import cbor2
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from enclave.attestation import TrustAnchors, build_document, verify_document
from enclave.errors import AttestationError
from enclave.image import IMAGE_ENTRIES, PROJECT_ROOT, measure
from enclave.nsm import DevCa, _certificate

VECTORS = PROJECT_ROOT.parent / "shared" / "vectors"


def fetch(enclave_process, nonce: bytes) -> bytes:
    response = requests.get(f"{enclave_process.url}/attestation?nonce={nonce.hex()}", timeout=10)
    assert response.status_code == 200
    return response.content


def rejected(document: bytes, reason_fragment: str, **kwargs) -> None:
    with pytest.raises(AttestationError) as raised:
        verify_document(document, **kwargs)
    assert reason_fragment in raised.value.reason, raised.value.reason


def test_genuine_document_verifies_and_binds_the_enclave_key(enclave_process, anchors):
    nonce = os.urandom(32)
    verified = verify_document(fetch(enclave_process, nonce), expected_measurement=enclave_process.measurement,
                               anchors=anchors, expected_nonce=nonce, max_age_s=60)
    assert verified.enclave_address == enclave_process.address
    assert verified.measurement == measure().digest
    assert verified.certificate_chain[-1].startswith("CN=risk-agent dev root")


def test_tampered_payload_byte(enclave_process, anchors):
    nonce = b"\x5a" * 32
    document = bytearray(fetch(enclave_process, nonce))
    at = document.find(nonce)
    document[at] ^= 0x01
    rejected(bytes(document), "COSE signature does not verify", expected_measurement=enclave_process.measurement, anchors=anchors)


def test_tampered_signature(enclave_process, anchors):
    document = bytearray(fetch(enclave_process, os.urandom(32)))
    document[-1] ^= 0x01
    rejected(bytes(document), "COSE signature does not verify", expected_measurement=enclave_process.measurement, anchors=anchors)


def test_development_root_not_trusted_by_default(enclave_process):
    rejected(fetch(enclave_process, os.urandom(32)), "trusted root", expected_measurement=enclave_process.measurement)


def test_certificate_from_another_root(enclave_process, tmp_path):
    other = TrustAnchors().with_root(DevCa.load_or_create(tmp_path / "other-ca").root_pem)
    rejected(fetch(enclave_process, os.urandom(32)), "trusted root", expected_measurement=enclave_process.measurement, anchors=other)


def test_expired_certificate(dev_ca_dir, anchors):
    ca = DevCa.load_or_create(dev_ca_dir)
    issued = datetime.now(tz=UTC) - timedelta(hours=5)
    leaf_key = ec.generate_private_key(ec.SECP384R1())
    leaf = _certificate("expired leaf", leaf_key, "risk-agent dev intermediate", ca.intermediate_key, issued, timedelta(hours=3), False)
    der = serialization.Encoding.DER
    document = build_document(
        {"module_id": "m", "digest": "SHA384", "timestamp": int(datetime.now(tz=UTC).timestamp() * 1000),
         "pcrs": {0: b"\x01" * 48}, "public_key": None, "user_data": None, "nonce": None},
        leaf_key, leaf.public_bytes(der), [ca.root.public_bytes(der), ca.intermediate.public_bytes(der)],
    )
    rejected(document, "expired at the document's timestamp", expected_measurement=b"\x01" * 48, anchors=anchors)


def test_a_document_signed_in_this_process_verifies(dev_ca_dir, anchors):
    """`build_document` signs the COSE Sig_structure ["Signature1", protected, b"", payload]
    with the leaf key: the verifier, which rebuilds that structure, accepts it. (The enclave
    process's documents are signed by its own copy of the code, not the one tested here.)"""
    ca = DevCa.load_or_create(dev_ca_dir)
    now = datetime.now(tz=UTC)
    leaf_key = ec.generate_private_key(ec.SECP384R1())
    leaf = _certificate("leaf", leaf_key, "risk-agent dev intermediate", ca.intermediate_key, now - timedelta(hours=1),
                        timedelta(hours=3), False)
    der = serialization.Encoding.DER
    timestamp_ms = int(now.timestamp() * 1000)
    document = build_document(
        {"module_id": "m", "digest": "SHA384", "timestamp": timestamp_ms,
         "pcrs": {0: b"\x01" * 48}, "public_key": None, "user_data": None, "nonce": b"n"},
        leaf_key, leaf.public_bytes(der), [ca.root.public_bytes(der), ca.intermediate.public_bytes(der)],
    )
    verified = verify_document(document, expected_measurement=b"\x01" * 48, anchors=anchors, expected_nonce=b"n")
    assert (verified.module_id, verified.pcrs[0], verified.timestamp_ms) == ("m", b"\x01" * 48, timestamp_ms)


def test_wrong_pcr0_from_one_changed_file(enclave_process, anchors, tmp_path):
    for entry in IMAGE_ENTRIES:
        source = PROJECT_ROOT / entry
        target = tmp_path / entry
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target)
    assert measure(tmp_path).digest == measure().digest  # same files, same measurement
    changed = tmp_path / "strategies" / "collateral.py"
    content = bytearray(changed.read_bytes())
    content[-2] ^= 0x01
    changed.write_bytes(bytes(content))
    other = measure(tmp_path).digest
    assert other != measure().digest
    rejected(fetch(enclave_process, os.urandom(32)), "does not match the expected measurement",
             expected_measurement=other, anchors=anchors)


def test_nonce_mismatch(enclave_process, anchors):
    rejected(fetch(enclave_process, b"\x01" * 32), "nonce does not match",
             expected_measurement=enclave_process.measurement, anchors=anchors, expected_nonce=b"\x02" * 32)


def test_document_older_than_max_age(enclave_process, anchors):
    document = fetch(enclave_process, os.urandom(32))
    timestamp = cbor2.loads(cbor2.loads(document)[2])["timestamp"]
    rejected(document, "old", expected_measurement=enclave_process.measurement, anchors=anchors,
             max_age_s=300, now_ms=timestamp + 301_000)


@pytest.mark.needs_data
@pytest.mark.parametrize("name", ["nitro_oyster_2024-12-13.bin", "nitro_oyster_pcr16_2025-04-29.bin",
                                  "nitro_oyster_verifier_2024-08-07.bin"])
def test_real_aws_nitro_documents(name):
    document = (VECTORS / name).read_bytes()
    payload = cbor2.loads(cbor2.loads(document)[2])
    verified = verify_document(document, expected_measurement=payload["pcrs"][0], max_age_s=60, now_ms=payload["timestamp"])
    assert verified.certificate_chain[-1].startswith("CN=aws.nitro-enclaves")
    assert verified.timestamp_ms == payload["timestamp"]
    # One flipped signature bit, and the same document 40 days on, are refused.
    flipped = bytearray(document)
    flipped[-1] ^= 0x01
    rejected(bytes(flipped), "COSE signature", expected_measurement=payload["pcrs"][0])
    rejected(document, "old", expected_measurement=payload["pcrs"][0], max_age_s=3_600,
             now_ms=payload["timestamp"] + 40 * 86_400_000)


def test_aws_root_is_the_published_one():
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    from enclave.attestation import AWS_NITRO_ROOT_PEM

    fingerprint = x509.load_pem_x509_certificate(AWS_NITRO_ROOT_PEM).fingerprint(hashes.SHA256()).hex().upper()
    assert fingerprint == "641A0321A3E244EFE456463195D606317ED7CDCC3C1756E09893F3C68F79BB5B"


def test_not_a_document():
    rejected(cbor2.dumps({"not": "a COSE_Sign1"}), "not a COSE_Sign1 structure", expected_measurement=None)
    rejected(cbor2.dumps([cbor2.dumps({1: -7}), {}, b"", b"\x00" * 96]), "unsupported algorithm -7", expected_measurement=None)
