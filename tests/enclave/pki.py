"""Certificate chains and documents for verifier tests: a test root we choose to trust, and
knobs for every way a chain or a document can be wrong. Nothing here verifies anything;
the verifier under test does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from enclave.attestation import TrustAnchors

VECTORS = Path(__file__).resolve().parents[3] / "shared" / "vectors"
AWS_VECTORS = ("nitro_oyster_2024-12-13.bin", "nitro_oyster_pcr16_2025-04-29.bin", "nitro_oyster_verifier_2024-08-07.bin")
DOCUMENT_TIME = datetime(2026, 1, 1, tzinfo=UTC)
DOCUMENT_TIME_MS = int(DOCUMENT_TIME.timestamp() * 1000)
DER = serialization.Encoding.DER
PCR0 = bytes(range(48))
P384_KEY = ec.generate_private_key(ec.SECP384R1())  # one spare key for documents whose signature must not matter


def make_key(kind: str = "p384"):
    if kind == "p384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(kind)


@dataclass(frozen=True)
class Issued:
    certificate: x509.Certificate
    key: object

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(DER)


def name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "verifier tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def issue(common_name: str, issuer: Issued | None, *, ca: bool | None, key=None, not_before: datetime | None = None,
          lifetime: timedelta = timedelta(hours=3), hash_algorithm=hashes.SHA384(), path_length: int | None = None,
          key_usage: x509.KeyUsage | None = None, issuer_name: x509.Name | None = None, signing_key=None) -> Issued:
    """A certificate for `common_name` signed by `issuer` (self-signed if None). `ca=None`
    leaves out basicConstraints; `issuer_name` and `signing_key` override what the issuer
    would put, for forgeries."""
    key = key or make_key()
    not_before = not_before or DOCUMENT_TIME - timedelta(hours=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(common_name))
        .issuer_name(issuer_name or (issuer.certificate.subject if issuer else name(common_name)))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + lifetime)
    )
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True)
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=True)
    signer = signing_key or (issuer.key if issuer else key)
    return Issued(builder.sign(signer, hash_algorithm), key)


def key_usage(*, cert_sign: bool = False, digital_signature: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=digital_signature, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign, crl_sign=cert_sign,
                         encipher_only=False, decipher_only=False)


def payload_fields(**overrides) -> dict:
    fields = {"module_id": "i-test-enc0001", "digest": "SHA384", "timestamp": DOCUMENT_TIME_MS,
              "pcrs": {0: PCR0, 1: b"\x00" * 48, 2: b"\x00" * 48}, "public_key": b"\x04" + b"\x11" * 64,
              "user_data": None, "nonce": b"\x22" * 32}
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not _ABSENT}


_ABSENT = object()
ABSENT = _ABSENT  # pass as a field value to leave the field out


def sign_cose(protected: bytes, payload: bytes, key) -> bytes:
    """The 96-byte ES384 signature over Sig_structure, as the NSM makes it."""
    to_sign = cbor2.dumps(["Signature1", protected, b"", payload])
    signer = key if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp384r1" else P384_KEY
    r, s = decode_dss_signature(signer.sign(to_sign, ec.ECDSA(hashes.SHA384())))
    return r.to_bytes(48, "big") + s.to_bytes(48, "big")


def cose(protected: bytes, payload: bytes, key, unprotected: object = None) -> bytes:
    """An untagged COSE_Sign1 over exactly these protected and payload bytes."""
    return cbor2.dumps([protected, {} if unprotected is None else unprotected, payload, sign_cose(protected, payload, key)])


PROTECTED_ES384 = bytes.fromhex("a1013822")  # {1: -35}


class TestPki:
    """A root (trusted through `anchors`), an intermediate and leaves, P-384 and SHA-384
    like AWS's, all valid at `at` (DOCUMENT_TIME unless given)."""

    __test__ = False

    def __init__(self, at: datetime = DOCUMENT_TIME) -> None:
        self.at = at
        self.root = issue("test root", None, ca=True, lifetime=timedelta(days=3650),
                          not_before=at - timedelta(days=30), key_usage=key_usage(cert_sign=True))
        self.intermediate = issue("test intermediate", self.root, ca=True, lifetime=timedelta(days=365),
                                  not_before=at - timedelta(days=10), key_usage=key_usage(cert_sign=True))
        self.anchors = TrustAnchors().with_root(self.root.der)

    def leaf(self, issuer: Issued | None = None, **options) -> Issued:
        options.setdefault("not_before", self.at - timedelta(hours=1))
        options.setdefault("ca", False)
        options.setdefault("key_usage", key_usage(digital_signature=True))
        return issue("test leaf", issuer or self.intermediate, **options)

    def document(self, *, leaf: Issued | None = None, chain: list[Issued] | None = None, cabundle: list[bytes] | None = None,
                 **fields) -> bytes:
        leaf = leaf or self.leaf()
        bundle = cabundle if cabundle is not None else [c.der for c in (chain or [self.root, self.intermediate])]
        payload = cbor2.dumps({**payload_fields(**fields), "certificate": leaf.der, "cabundle": bundle})
        return cose(PROTECTED_ES384, payload, leaf.key)

    def raw_payload_document(self, payload: bytes, *, protected: bytes = PROTECTED_ES384, unprotected: object = None) -> bytes:
        """A document whose payload is these exact bytes, validly signed by a leaf of this PKI."""
        return cose(protected, payload, self.leaf_for_raw.key, unprotected)

    @property
    def leaf_for_raw(self) -> Issued:
        if not hasattr(self, "_leaf_for_raw"):
            self._leaf_for_raw = self.leaf()
        return self._leaf_for_raw

    def raw_payload(self, **fields) -> dict:
        """Payload fields (with certificate and cabundle) for `raw_payload_document`."""
        chain = {"certificate": self.leaf_for_raw.der, "cabundle": [self.root.der, self.intermediate.der]}
        chain.update({k: fields.pop(k) for k in list(fields) if k in chain})
        return {**payload_fields(**fields), **chain}


def aws_document(name: str) -> bytes:
    return (VECTORS / name).read_bytes()


def aws_payload(document: bytes) -> dict:
    return cbor2.loads(cbor2.loads(document)[2])
