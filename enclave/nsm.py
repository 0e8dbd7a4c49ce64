"""Attestation back ends. `local`: a development CA (root, intermediate) generated once per
installation and stored, which issues a fresh leaf to each enclave process; PCR0 is the
manifest measurement of the image files; trusted only where the profile says so. `nitro`:
the AWS Nitro Secure Module, spoken to at its ioctl boundary; PCR0 is the hash of the
enclave image file as the NSM reports it, never our manifest. The back end is chosen by
configuration and fails closed: no silent fallback from nitro to local."""

from __future__ import annotations

import ctypes
import fcntl
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from enclave import strict_cbor
from enclave.attestation import AttestationDocument, build_document, read_document
from enclave.errors import AttestationError, KeyFileError, NsmError, NsmUnavailableError

NSM_DEVICE = Path("/dev/nsm")
DEFAULT_HOME = Path(os.environ.get("RISK_AGENT_HOME", Path.home() / ".risk-agent"))
LEAF_VALIDITY = timedelta(hours=3)  # as a Nitro instance leaf
ZERO_PCR = b"\x00" * 48


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


def _private_directory(directory: Path) -> None:
    """Creates `directory` 0700, or checks an existing one: writable by others means its
    files may have been replaced (refused); merely readable by others is tightened."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    status = directory.stat()
    if status.st_uid != os.getuid():
        raise KeyFileError(f"{directory} belongs to uid {status.st_uid}, not this user; refusing to keep a CA key there")
    if status.st_mode & 0o022:
        raise KeyFileError(f"{directory} is writable by group or others (mode {stat.S_IMODE(status.st_mode):04o}): its CA "
                           "files may have been replaced; delete it to make a new development CA")
    if status.st_mode & 0o077:
        os.chmod(directory, 0o700)


def _check_private_file(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyFileError(f"{path} is readable or writable by group or others (mode {mode:04o}): the key may have "
                           "leaked; delete the directory to make a new development CA")


def _write_private(path: Path, content: bytes) -> None:
    """Written 0600 from the first byte (no window where another user could read it), to a
    temporary name and renamed, so a crash never leaves half a file."""
    temporary = path.with_suffix(".tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)
    temporary.replace(path)


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
        _private_directory(directory)
        if not all(path.exists() for path in files.values()):
            cls._create(files)
        for path in files.values():
            _check_private_file(path)
        return cls(
            root=x509.load_pem_x509_certificate(files["root"].read_bytes()),
            intermediate=x509.load_pem_x509_certificate(files["intermediate"].read_bytes()),
            intermediate_key=serialization.load_pem_private_key(files["intermediate-key"].read_bytes(), None),
        )

    @staticmethod
    def _create(files: dict[str, Path]) -> None:
        now = datetime.now(tz=UTC) - timedelta(minutes=5)
        root_key = ec.generate_private_key(ec.SECP384R1())
        root = _certificate("risk-agent dev root", root_key, "risk-agent dev root", root_key, now, timedelta(days=3650), True)
        intermediate_key = ec.generate_private_key(ec.SECP384R1())
        intermediate = _certificate("risk-agent dev intermediate", intermediate_key, "risk-agent dev root", root_key, now, timedelta(days=1825), True)
        pem = serialization.Encoding.PEM
        key_bytes = intermediate_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        for name, content in (("root", root.public_bytes(pem)), ("intermediate", intermediate.public_bytes(pem)), ("intermediate-key", key_bytes)):
            _write_private(files[name], content)
        # The root key is not kept: nothing new is ever signed by the root.


class LocalNsm:
    """Issues Nitro-format documents signed by a per-process leaf of the development CA;
    PCR0 is the manifest measurement of the image (PCR1 and PCR2 zero)."""

    backend = "local"

    def __init__(self, ca: DevCa, module_id: str, measurement: bytes, leaf_validity: timedelta = LEAF_VALIDITY,
                 clock=None) -> None:
        self.ca = ca
        self.module_id = module_id
        self.measurement = measurement
        self.leaf_validity = leaf_validity
        self._clock = clock or (lambda: datetime.now(tz=UTC))
        self._issue_leaf()

    def _issue_leaf(self) -> None:
        self._leaf_key = ec.generate_private_key(ec.SECP384R1())
        self._leaf = _certificate(self.module_id, self._leaf_key, "risk-agent dev intermediate", self.ca.intermediate_key,
                                  self._clock() - timedelta(seconds=5), self.leaf_validity, False)

    def attest(self, *, public_key: bytes, user_data: bytes | None, nonce: bytes | None) -> bytes:
        now = self._clock()
        if now > self._leaf.not_valid_after_utc - timedelta(minutes=5):
            self._issue_leaf()
        payload = {
            "module_id": self.module_id,
            "digest": "SHA384",
            "timestamp": int(now.timestamp() * 1000),
            "pcrs": {0: self.measurement, 1: ZERO_PCR, 2: ZERO_PCR},
            "public_key": public_key,
            "user_data": user_data,
            "nonce": nonce,
        }
        der = serialization.Encoding.DER
        return build_document(payload, self._leaf_key, self._leaf.public_bytes(der),
                              [self.ca.root.public_bytes(der), self.ca.intermediate.public_bytes(der)])


# The NSM driver's one ioctl (linux/nsm.h): _IOWR(0x0A, 0, struct nsm_raw), where nsm_raw is
# {request: {addr, len}, response: {addr, len}} of u64s. The request is a CBOR-encoded
# `Request` of aws-nitro-enclaves-nsm-api, the response a CBOR `Response`: serde's external
# tagging, so a unit variant is a bare string ("DescribeNSM") and a struct variant a one-key map.
NSM_IOCTL_MAGIC = 0x0A
NSM_REQUEST_MAX_BYTES = 0x1000
NSM_RESPONSE_MAX_BYTES = 0x3000


class NsmRaw(ctypes.Structure):
    _fields_ = [("request_addr", ctypes.c_uint64), ("request_len", ctypes.c_uint64),
                ("response_addr", ctypes.c_uint64), ("response_len", ctypes.c_uint64)]


def _iowr(magic: int, number: int, size: int) -> int:
    """Linux _IOWR: direction read|write (3) in bits 30-31, size in 16-29, type in 8-15."""
    return (3 << 30) | (size << 16) | (magic << 8) | number


NSM_IOCTL_RAW = _iowr(NSM_IOCTL_MAGIC, 0, ctypes.sizeof(NsmRaw))  # 0xC0200A00

IoctlFunction = Callable[[int, int, NsmRaw], object]


@dataclass(frozen=True)
class NsmDescription:
    version: tuple[int, int, int]
    module_id: str
    max_pcrs: int
    locked_pcrs: tuple[int, ...]
    digest: str


class NsmDevice:
    """Requests to the NSM through its device file. `ioctl` and `open_device` are injectable
    so the exact bytes crossing the boundary can be tested without /dev/nsm."""

    def __init__(self, path: Path = NSM_DEVICE, *, ioctl: IoctlFunction = fcntl.ioctl,
                 open_device: Callable[[str, int], int] = os.open) -> None:
        try:
            self.fd = open_device(str(path), os.O_RDWR)
        except OSError as error:
            raise NsmUnavailableError(f"cannot open {path}: {os.strerror(error.errno) if error.errno else error} "
                                      "(not inside an AWS Nitro enclave)") from None
        self._ioctl = ioctl

    def call(self, request: object) -> object:
        """One request/response exchange; the decoded response (`NsmError` on any failure)."""
        encoded = strict_cbor.encode(request)
        if len(encoded) > NSM_REQUEST_MAX_BYTES:
            raise NsmError(f"NSM request of {len(encoded)} bytes is over the device's {NSM_REQUEST_MAX_BYTES}")
        request_buffer = ctypes.create_string_buffer(encoded, len(encoded))
        response_buffer = ctypes.create_string_buffer(NSM_RESPONSE_MAX_BYTES)
        message = NsmRaw(ctypes.addressof(request_buffer), len(encoded), ctypes.addressof(response_buffer),
                         NSM_RESPONSE_MAX_BYTES)
        try:
            self._ioctl(self.fd, NSM_IOCTL_RAW, message)
        except OSError as error:
            raise NsmError(f"NSM ioctl failed: {os.strerror(error.errno) if error.errno else error}") from None
        if message.response_len > NSM_RESPONSE_MAX_BYTES:
            raise NsmError(f"NSM reported a {message.response_len}-byte response for a {NSM_RESPONSE_MAX_BYTES}-byte buffer")
        try:
            return strict_cbor.decode(response_buffer.raw[:message.response_len], max_depth=4)
        except strict_cbor.CborError as error:
            raise NsmError(f"NSM response is not CBOR: {error}") from None

    def _answer(self, request: object, variant: str) -> dict:
        response = self.call(request)
        if isinstance(response, dict) and set(response) == {"Error"}:
            raise NsmError(f"NSM refused {variant}: {response['Error']}")
        if not isinstance(response, dict) or set(response) != {variant} or not isinstance(response[variant], dict):
            raise NsmError(f"NSM answered {variant} with {response!r:.80}")
        return response[variant]

    def describe_nsm(self) -> NsmDescription:
        body = self._answer("DescribeNSM", "DescribeNSM")
        try:
            description = NsmDescription(
                version=(body["version_major"], body["version_minor"], body["version_patch"]),
                module_id=body["module_id"], max_pcrs=body["max_pcrs"],
                locked_pcrs=tuple(body["locked_pcrs"]), digest=body["digest"],
            )
        except (KeyError, TypeError):
            raise NsmError(f"NSM DescribeNSM answer lacks fields: {sorted(body)}") from None
        if not isinstance(description.module_id, str) or not isinstance(description.digest, str):
            raise NsmError("NSM DescribeNSM answer has fields of the wrong types")
        return description

    def describe_pcr(self, index: int) -> tuple[bool, bytes]:
        body = self._answer({"DescribePCR": {"index": index}}, "DescribePCR")
        locked, data = body.get("lock"), body.get("data")
        if not isinstance(locked, bool) or not isinstance(data, bytes):
            raise NsmError(f"NSM DescribePCR answer is malformed: {sorted(body)}")
        return locked, data

    def attestation(self, *, public_key: bytes | None, user_data: bytes | None, nonce: bytes | None) -> bytes:
        body = self._answer({"Attestation": {"user_data": user_data, "nonce": nonce, "public_key": public_key}}, "Attestation")
        document = body.get("document")
        if not isinstance(document, bytes):
            raise NsmError("NSM Attestation answer has no document")
        return document


class NitroNsm:
    """The AWS Nitro Secure Module. PCR0 (the enclave image file's hash) comes from the NSM
    at start and must be locked; each document's PCR0 must equal it."""

    backend = "nitro"

    def __init__(self, device: NsmDevice | None = None) -> None:
        if device is None:
            if not NSM_DEVICE.exists():
                raise NsmUnavailableError(f"{NSM_DEVICE} not present: not inside an AWS Nitro enclave "
                                          "(use the local back end only in development)")
            device = NsmDevice()
        self.device = device
        description = device.describe_nsm()
        if description.digest != "SHA384":
            raise NsmError(f"NSM registers use {description.digest}; this verifier expects SHA384")
        locked, pcr0 = device.describe_pcr(0)
        if not locked or len(pcr0) != 48:
            raise NsmError(f"PCR0 is {'locked' if locked else 'not locked'} and {len(pcr0)} bytes: not a measured enclave image")
        self.module_id = description.module_id
        self.measurement = pcr0

    def attest(self, *, public_key: bytes, user_data: bytes | None, nonce: bytes | None) -> bytes:
        # PCRs are measured by the hypervisor; nothing we send can change them.
        document = self.device.attestation(public_key=public_key, user_data=user_data, nonce=nonce)
        try:
            parsed: AttestationDocument = read_document(document)
        except AttestationError as error:
            raise NsmError(f"NSM returned an unreadable attestation document: {error.reason}") from None
        if parsed.pcrs[0] != self.measurement:
            raise NsmError("NSM document's PCR0 differs from the PCR0 it reported at start")
        return document


def make_nsm(backend: str, *, dev_ca_dir: Path | None = None, manifest_measurement: Callable[[], bytes] | None = None,
             nsm_device: NsmDevice | None = None):
    """The configured back end or `NsmUnavailableError`: never another one instead."""
    if backend == "local":
        if manifest_measurement is None:
            raise NsmUnavailableError("the local back end needs the image's manifest measurement")
        return LocalNsm(DevCa.load_or_create(dev_ca_dir), f"risk-agent-local-{os.urandom(4).hex()}", manifest_measurement())
    if backend == "nitro":
        return NitroNsm(nsm_device)
    raise NsmUnavailableError(f"unknown attestation back end {backend!r} (local or nitro)")
