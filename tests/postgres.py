"""A real PostgreSQL server for tests: initdb + pg_ctl from the machine's PostgreSQL 15
binaries on a free loopback port, run as an unprivileged system user (the server refuses
root), stopped and removed after."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from chain.node import free_loopback_port

SERVER_USER = "riskagent-pg"


def _binary(name: str) -> str | None:
    for candidate in (shutil.which(name), f"/usr/local/bin/{name}", f"/usr/lib/postgresql/15/bin/{name}"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def _ensure_user() -> None:
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", SERVER_USER], check=True, capture_output=True)


class PostgresServer:
    def __init__(self) -> None:
        self.initdb, self.pg_ctl = _binary("initdb"), _binary("pg_ctl")
        if not (self.initdb and self.pg_ctl):
            raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found")
        self.port = free_loopback_port()
        self.root = Path(tempfile.mkdtemp(prefix="risk-agent-pg-"))
        self.data = self.root / "data"

    def _as_server_user(self, *command: str) -> subprocess.CompletedProcess:
        if os.geteuid() == 0:
            _ensure_user()
            return subprocess.run(["runuser", "-u", SERVER_USER, "--", *command], check=True, capture_output=True, text=True)
        return subprocess.run(list(command), check=True, capture_output=True, text=True)

    def start(self) -> str:
        os.chmod(self.root, 0o777)
        self._as_server_user(self.initdb, "-D", str(self.data), "--auth=trust", "-U", "postgres", "--no-sync")
        self._as_server_user(self.pg_ctl, "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "-t", "60",
                             "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        try:
            self._as_server_user(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
