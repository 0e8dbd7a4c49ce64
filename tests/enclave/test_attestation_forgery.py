"""The forged chain under the real AWS root, without ../shared/data: the AWS Nitro root the
verifier ships (enclave/aws_nitro_root_g1.pem) copied into the bundle, an attacker CA that
names it as issuer, and a leaf with any PCR0. The issuer-signature check alone refuses it;
with the attacker CA honestly self-named it is refused as not leading to a trusted root.
(tests/enclave/test_attestation_chain.py has the same attack built on a real AWS document.)"""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from enclave.attestation import AWS_NITRO_ROOT_PEM, TrustAnchors, verify_document
from enclave.errors import AttestationError
from tests.enclave.pki import DOCUMENT_TIME_MS, TestPki, issue, key_usage

ANY_PCR0 = b"\xaa" * 48


def aws_root() -> x509.Certificate:
    return x509.load_pem_x509_certificate(AWS_NITRO_ROOT_PEM)


def refusal(document: bytes) -> tuple[str, str]:
    with pytest.raises(AttestationError) as raised:
        verify_document(document, expected_measurement=ANY_PCR0, anchors=TrustAnchors(), now_ms=DOCUMENT_TIME_MS)
    return raised.value.code, raised.value.reason


def test_an_attacker_ca_naming_the_aws_root_fails_the_issuer_signature_check():
    root = aws_root()
    attacker_ca = issue("attacker CA", None, ca=True, issuer_name=root.subject, key_usage=key_usage(cert_sign=True))
    leaf = issue("attacker leaf", attacker_ca, ca=False, key_usage=key_usage(digital_signature=True))
    forged = TestPki().document(leaf=leaf, cabundle=[root.public_bytes(serialization.Encoding.DER), attacker_ca.der],
                                pcrs={0: ANY_PCR0})
    assert refusal(forged) == ("issuer-signature", "certificate 'CN=attacker CA,O=verifier tests' is not signed by its "
                                                   "issuer 'CN=aws.nitro-enclaves,OU=AWS,O=Amazon,C=US'")


def test_an_attacker_ca_under_its_own_name_leads_to_no_trusted_root():
    attacker_root = issue("attacker root", None, ca=True, key_usage=key_usage(cert_sign=True))
    leaf = issue("attacker leaf", attacker_root, ca=False, key_usage=key_usage(digital_signature=True))
    forged = TestPki().document(leaf=leaf, cabundle=[attacker_root.der], pcrs={0: ANY_PCR0})
    assert refusal(forged) == ("untrusted-root", "certificate chain does not lead to a trusted root")
