"""The enclave image and its measurement.

The image is the exact list of files the enclave runs: the strategies package (code and
model configuration), the enclave package, and the update struct it signs. Its measurement
is SHA-384 over a canonical manifest, one line per file sorted by path:
`<path>\\t<size>\\t<sha384 hex>\\n`, as PCR0 is a hash of a Nitro image. Same files, same
measurement on any machine; one changed byte, another measurement."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
IMAGE_ENTRIES = ("strategies", "enclave", "chain/update.py")
INCLUDED_SUFFIXES = (".py", ".json", ".toml")


@dataclass(frozen=True)
class ImageFile:
    path: str
    size: int
    sha384_hex: str


@dataclass(frozen=True)
class Measurement:
    files: tuple[ImageFile, ...]

    @property
    def manifest(self) -> bytes:
        return "".join(f"{f.path}\t{f.size}\t{f.sha384_hex}\n" for f in self.files).encode()

    @property
    def digest(self) -> bytes:
        """48 bytes: the PCR0 value."""
        return hashlib.sha384(self.manifest).digest()

    @property
    def hex(self) -> str:
        return self.digest.hex()


def image_files(root: Path = PROJECT_ROOT, entries: tuple[str, ...] = IMAGE_ENTRIES) -> list[Path]:
    files: list[Path] = []
    for entry in entries:
        path = root / entry
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files.extend(
                p for p in path.rglob("*")
                if p.is_file() and p.suffix in INCLUDED_SUFFIXES and "__pycache__" not in p.parts
            )
        else:
            raise FileNotFoundError(f"image entry {entry!r} not found under {root}")
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def measure(root: Path = PROJECT_ROOT, entries: tuple[str, ...] = IMAGE_ENTRIES) -> Measurement:
    records = []
    for path in image_files(root, entries):
        content = path.read_bytes()
        records.append(ImageFile(path.relative_to(root).as_posix(), len(content), hashlib.sha384(content).hexdigest()))
    return Measurement(tuple(records))
