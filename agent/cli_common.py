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


def check_writable_file(path: Path, default: Path | None = None) -> None:
    """A file the command will write: not a directory, and its directory must exist (nothing is
    created silently elsewhere), unless it is the command's own default (e.g. var/demo.sqlite),
    whose directory the command creates when it writes (`make_parent`)."""
    if path.is_dir():
        raise fail(f"{path} is a directory, not a file")
    if not path.parent.exists() and path != default:
        raise fail(f"directory {path.parent} does not exist")


def make_parent(path: Path) -> Path:
    """Creates the directory of a checked output file, right before writing it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


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


# ------------------------------------------------------------------ databases

DATABASE_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg")
PG_CONNECT_TIMEOUT_S = 5


def database_target(db: str, option: str = "--db") -> str:
    """A --db value as the store takes it: a SQLite file path (a sqlite:/// URL becomes its
    path, so read-only opening applies) or a PostgreSQL URL with a connect timeout, so an
    unreachable server fails in seconds instead of hanging."""
    if "://" not in db:
        if not db.strip():
            raise fail(f"{option} is empty: give a SQLite file path or a postgresql:// URL")
        return db
    scheme = db.split("://", 1)[0]
    if scheme not in DATABASE_SCHEMES:
        raise fail(f"{option} {db!r}: unknown database URL scheme {scheme!r} (give a SQLite file path, "
                   "sqlite:///PATH or postgresql://USER@HOST:PORT/NAME)")
    if scheme == "sqlite":
        path = db.removeprefix("sqlite:///")
        if not path or path == db:
            raise fail(f"{option} {db!r}: a SQLite URL is sqlite:///PATH")
        return path
    if "connect_timeout=" not in db:
        db += ("&" if "?" in db else "?") + f"connect_timeout={PG_CONNECT_TIMEOUT_S}"
    return db


def shown_url(target: str) -> str:
    """The database as messages name it (without the timeout we added)."""
    return target.replace(f"?connect_timeout={PG_CONNECT_TIMEOUT_S}", "").replace(
        f"&connect_timeout={PG_CONNECT_TIMEOUT_S}", "")


def read_only_engine(db: str, option: str = "--db"):
    """For `status`, `verify`, `report` and `dashboard`: never migrated, never written; a
    missing, unreadable, foreign or other-revision database is one line (DatabaseError)."""
    from agent.store import DatabaseError, open_read_only

    target = database_target(db, option)
    try:
        return open_read_only(target)
    except DatabaseError as error:
        raise DatabaseError(shown_url(str(error))) from None


def writable_engine(db: str, *, upgrade_older: bool = False, option: str = "--db"):
    """For commands that write a database (`backtest --db`, `db-upgrade`): a new file (its
    directory must exist) or an empty database is created at this schema; an agent database
    at this revision is used; an older one only by `db-upgrade`; anything else is refused
    before a single byte is written (never migrate someone else's database)."""
    from agent.store import SCHEMA_REVISION, DatabaseError, make_engine

    target = database_target(db, option)
    shown = shown_url(target)
    if "://" not in target:
        path = Path(target)
        check_writable_file(path)
        if not path.exists() or path.stat().st_size == 0:
            return make_engine(target)
    tables, revision = probe_database(target)
    if tables and ("proposal" not in tables or revision is None):
        raise DatabaseError(f"database {shown} is not a risk-agent database (it has other tables); give a new file")
    if tables and revision != SCHEMA_REVISION and not upgrade_older:
        raise DatabaseError(f"database {shown} is at schema revision {revision}; this version writes {SCHEMA_REVISION} "
                            f"(run `risk-agent db-upgrade --db {shown}` first)")
    return make_engine(target)


def probe_database(target: str) -> tuple[frozenset[str], str | None]:
    """(table names, alembic revision or None), read without writing (SQLite mode=ro)."""
    from agent.store import probe, read_only_engine

    engine = read_only_engine(target)
    try:
        return probe(engine, shown_url(target))
    finally:
        engine.dispose()


# ------------------------------------------------------------------ option values


def parse_list(text: str, option: str) -> tuple[str, ...]:
    """'a, b,c' -> ('a', 'b', 'c'); an empty list is refused by name."""
    items = tuple(part.strip() for part in text.split(",") if part.strip())
    if not items:
        raise fail(f"{option} is empty: give at least one value (comma-separated)")
    return items


def parse_day(text: str, option: str) -> str:
    """A UTC day as YYYY-MM-DD (checked: 2020-02-30 is refused)."""
    from datetime import date

    try:
        return date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise fail(f"{option} {text!r} is not a date (YYYY-MM-DD)") from None


def read_root_certificate(path: Path, option: str = "--trust-dev-root") -> bytes:
    """A root certificate file (PEM, or DER) as its bytes, checked to be one: the verifier
    would otherwise take any bytes as a DER root and fail later with a confusing reason."""
    from cryptography import x509

    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise fail(f"{option} {path} is a directory, not a certificate file") from None
    except OSError as error:
        raise fail(f"{option} {path} cannot be read ({error.strerror or type(error).__name__})") from None
    try:
        if data.lstrip().startswith(b"-----"):
            x509.load_pem_x509_certificate(data)
        else:
            x509.load_der_x509_certificate(data)
    except ValueError:
        raise fail(f"{option} {path} is not a certificate (PEM or DER)") from None
    return data
