"""What every `risk-agent` command shares: the one-line error, signers for local chains, and
checks on paths the user gives."""

from __future__ import annotations

import os
from pathlib import Path

import typer


def fail(message: str) -> typer.Exit:
    """Prints `error: <message>` on stderr; raise the returned Exit (code 2)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def signer_from_env(w3, key_env: str | None, option: str, dev_index: int = 0):
    """The account whose hex key is in `key_env`; on a local dev chain, dev account `dev_index`."""
    from eth_account import Account

    from chain.deploy import is_local_dev_chain
    from chain.node import dev_accounts

    if key_env:
        key = os.environ.get(key_env)
        if not key:
            raise fail(f"environment variable {key_env} is not set")
        try:
            return Account.from_key(key)
        except (ValueError, TypeError):
            raise fail(f"environment variable {key_env} does not hold a hex private key") from None
    if is_local_dev_chain(w3):
        return dev_accounts(w3)[dev_index]
    raise fail(f"not a local dev chain: give {option} NAME (an environment variable holding the key)")


def check_writable_file(path: Path) -> None:
    """A file the command will write: its directory must exist (nothing is created silently
    elsewhere) and it must not be a directory."""
    if path.is_dir():
        raise fail(f"{path} is a directory, not a file")
    if not path.parent.exists():
        raise fail(f"directory {path.parent} does not exist")


def parse_address(value: str, option: str) -> str:
    from web3 import Web3

    if not Web3.is_address(value):
        raise fail(f"{option} {value!r} is not an address")
    return Web3.to_checksum_address(value)


def parse_hex32(value: str, option: str) -> bytes:
    try:
        raw = bytes.fromhex(value.removeprefix("0x"))
    except ValueError:
        raise fail(f"{option} must be hex") from None
    if len(raw) != 32:
        raise fail(f"{option} must be 32 bytes (64 hex digits)")
    return raw
