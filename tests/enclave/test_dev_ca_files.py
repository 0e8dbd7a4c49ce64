"""The development CA's files: created 0600 in a 0700 directory, and existing ones checked
(a key others could read is refused; a directory others could write is refused, since its
files may have been swapped; a directory others could merely read is tightened)."""

from __future__ import annotations

import os
import stat

import pytest

from enclave.errors import KeyFileError
from enclave.nsm import DevCa

FILES = ("root.pem", "intermediate.pem", "intermediate-key.pem")


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_ca_directory_is_0700_and_every_file_0600(tmp_path):
    directory = tmp_path / "home" / "dev-ca"
    DevCa.load_or_create(directory)
    assert mode(directory) == 0o700
    assert {name: mode(directory / name) for name in FILES} == {name: 0o600 for name in FILES}
    assert sorted(p.name for p in directory.iterdir()) == sorted(FILES)  # no temporary file left behind


def test_files_are_0600_even_under_a_permissive_umask(tmp_path):
    previous = os.umask(0)
    try:
        DevCa.load_or_create(tmp_path / "dev-ca")
    finally:
        os.umask(previous)
    assert mode(tmp_path / "dev-ca") == 0o700
    assert mode(tmp_path / "dev-ca" / "intermediate-key.pem") == 0o600


def test_existing_directory_readable_by_others_is_tightened(tmp_path):
    directory = tmp_path / "dev-ca"
    first = DevCa.load_or_create(directory)
    os.chmod(directory, 0o755)
    again = DevCa.load_or_create(directory)
    assert mode(directory) == 0o700
    assert again.root == first.root  # the same CA, not a new one


def test_existing_directory_writable_by_others_is_refused(tmp_path):
    directory = tmp_path / "dev-ca"
    DevCa.load_or_create(directory)
    os.chmod(directory, 0o777)
    with pytest.raises(KeyFileError) as raised:
        DevCa.load_or_create(directory)
    assert str(raised.value) == (f"{directory} is writable by group or others (mode 0777): its CA files may have been "
                                 "replaced; delete it to make a new development CA")


def test_key_file_readable_by_others_is_refused(tmp_path):
    directory = tmp_path / "dev-ca"
    DevCa.load_or_create(directory)
    os.chmod(directory / "intermediate-key.pem", 0o644)
    with pytest.raises(KeyFileError) as raised:
        DevCa.load_or_create(directory)
    assert str(raised.value) == (f"{directory / 'intermediate-key.pem'} is readable or writable by group or others "
                                 "(mode 0644): the key may have leaked; delete the directory to make a new development CA")


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a directory to another user")
def test_directory_of_another_user_is_refused(tmp_path):
    directory = tmp_path / "dev-ca"
    directory.mkdir(mode=0o700)
    os.chown(directory, 12345, -1)
    with pytest.raises(KeyFileError, match=rf"^{directory} belongs to uid 12345, not this user; refusing to keep a CA key there$"):
        DevCa.load_or_create(directory)


def test_enclave_process_creates_its_ca_with_these_modes(tmp_path):
    """Through the real server process, as the agent starts it."""
    from enclave.client import start_enclave

    directory = tmp_path / "fresh" / "dev-ca"
    process = start_enclave(dev_ca_dir=directory)
    process.stop()
    assert mode(directory) == 0o700
    assert mode(directory / "intermediate-key.pem") == 0o600
