"""Attestation back ends. `local`: a development CA (root, intermediate) generated once per
installation and stored, which issues a fresh leaf to each enclave process; trusted only
where the profile says so. `nitro`: the AWS Nitro Secure Module device. The back end is
chosen by configuration and fails closed: no silent fallback from nitro to local."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from enclave.attestation import build_document
from enclave.errors import NsmUnavailableError

NSM_DEVICE = Path("/dev/nsm")
DEFAULT_HOME = Path(os.environ.get("RISK_AGENT_HOME", Path.home() / ".risk-agent"))
LEAF_VALIDITY = timedelta(hours=3)  # as a Nitro instance leaf


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "risk-agent development"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject: str, key, issuer: str, issuer_key, not_before: datetime, lifetime: timedelta, ca: bool) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + lifetime)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    return builder.sign(issuer_key, hashes.SHA384())


@dataclass(frozen=True)
class DevCa:
    """Root and intermediate of the development CA, P-384 as AWS's."""

    root: x509.Certificate
    intermediate: x509.Certificate
    intermediate_key: ec.EllipticCurvePrivateKey

    @property
    def root_pem(self) -> bytes:
        return self.root.public_bytes(serialization.Encoding.PEM)

    @classmethod
    def load_or_create(cls, directory: Path | None = None) -> DevCa:
        directory = directory or DEFAULT_HOME / "dev-ca"
        files = {name: directory / f"{name}.pem" for name in ("root", "intermediate", "intermediate-key")}
        if not all(path.exists() for path in files.values()):
            cls._create(directory, files)
        return cls(
            root=x509.load_pem_x509_certificate(files["root"].read_bytes()),
            intermediate=x509.load_pem_x509_certificate(files["intermediate"].read_bytes()),
            intermediate_key=serialization.load_pem_private_key(files["intermediate-key"].read_bytes(), None),
        )

    @staticmethod
    def _create(directory: Path, files: dict[str, Path]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        now = datetime.now(tz=UTC) - timedelta(minutes=5)
        root_key = ec.generate_private_key(ec.SECP384R1())
        root = _certificate("risk-agent dev root", root_key, "risk-agent dev root", root_key, now, timedelta(days=3650), True)
        intermediate_key = ec.generate_private_key(ec.SECP384R1())
        intermediate = _certificate("risk-agent dev intermediate", intermediate_key, "risk-agent dev root", root_key, now, timedelta(days=1825), True)
        pem = serialization.Encoding.PEM
        key_bytes = intermediate_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        # Written to temporary names and renamed, so a crash never leaves half a CA.
        for name, content in (("root", root.public_bytes(pem)), ("intermediate", intermediate.public_bytes(pem)), ("intermediate-key", key_bytes)):
            temporary = files[name].with_suffix(".tmp")
            temporary.write_bytes(content)
            os.chmod(temporary, 0o600)
            temporary.replace(files[name])
        # The root key is not kept: nothing new is ever signed by the root.


class LocalNsm:
    """Issues Nitro-format documents signed by a per-process leaf of the development CA."""

    backend = "local"

    def __init__(self, ca: DevCa, module_id: str, leaf_validity: timedelta = LEAF_VALIDITY, clock=None) -> None:
        self.ca = ca
        self.module_id = module_id
        self.leaf_validity = leaf_validity
        self._clock = clock or (lambda: datetime.now(tz=UTC))
        self._issue_leaf()

    def _issue_leaf(self) -> None:
        self._leaf_key = ec.generate_private_key(ec.SECP384R1())
        self._leaf = _certificate(self.module_id, self._leaf_key, "risk-agent dev intermediate", self.ca.intermediate_key,
                                  self._clock() - timedelta(seconds=5), self.leaf_validity, False)

    def attest(self, pcrs: dict[int, bytes], public_key: bytes, user_data: bytes | None, nonce: bytes | None) -> bytes:
        now = self._clock()
        if now > self._leaf.not_valid_after_utc - timedelta(minutes=5):
            self._issue_leaf()
        payload = {
            "module_id": self.module_id,
            "digest": "SHA384",
            "timestamp": int(now.timestamp() * 1000),
            "pcrs": pcrs,
            "public_key": public_key,
            "user_data": user_data,
            "nonce": nonce,
        }
        der = serialization.Encoding.DER
        return build_document(payload, self._leaf_key, self._leaf.public_bytes(der),
                              [self.ca.root.public_bytes(der), self.ca.intermediate.public_bytes(der)])


class NitroNsm:
    """The AWS Nitro Secure Module. Inside a Nitro enclave /dev/nsm exists and documents come
    from the hypervisor with the real PCRs; anywhere else this refuses to start."""

    backend = "nitro"

    def __init__(self) -> None:
        if not NSM_DEVICE.exists():
            raise NsmUnavailableError(f"{NSM_DEVICE} not present: not inside an AWS Nitro enclave (use the local back end only in development)")
        try:
            import aws_nsm_interface  # type: ignore[import-not-found]
        except ImportError:
            raise NsmUnavailableError("the nitro back end needs the aws-nsm-interface package inside the enclave image") from None
        self._nsm = aws_nsm_interface
        self._fd = aws_nsm_interface.open_nsm_device()

    def attest(self, pcrs: dict[int, bytes], public_key: bytes, user_data: bytes | None, nonce: bytes | None) -> bytes:
        # PCRs are measured by the hypervisor; the requested ones are ignored by design.
        result = self._nsm.get_attestation_doc(self._fd, user_data=user_data, nonce=nonce, public_key=public_key)
        return result["document"]


def make_nsm(backend: str, module_id: str, dev_ca_dir: Path | None = None):
    if backend == "local":
        return LocalNsm(DevCa.load_or_create(dev_ca_dir), module_id)
    if backend == "nitro":
        return NitroNsm()
    raise NsmUnavailableError(f"unknown attestation back end {backend!r} (local or nitro)")
