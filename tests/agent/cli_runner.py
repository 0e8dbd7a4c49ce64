"""Running `risk-agent` the way users do, two ways: in this process through `agent.cli.run_cli`
(the console script's own body: same parsing, same one-line errors, same exit codes; fast),
and through the installed console script in a subprocess (proves the entry point)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(sys.executable).with_name("risk-agent")


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str


def run_in_process(argv: list[str], capsys, cwd: Path | None = None) -> Result:
    from agent.cli import run_cli

    capsys.readouterr()
    previous = Path.cwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        code = run_cli([str(a) for a in argv])
    finally:
        os.chdir(previous)
    out, err = capsys.readouterr()
    return Result(code, out, err)


def run_script(argv: list[str], cwd: Path | None = None, env: dict | None = None, timeout: float = 120) -> Result:
    done = subprocess.run([str(SCRIPT), *[str(a) for a in argv]], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout,
                          env={**os.environ, **(env or {})})
    return Result(done.returncode, done.stdout, done.stderr)


def files_under(directory: Path) -> dict[str, tuple[int, int]]:
    """Every file and directory under `directory` with its size and modification time: equal
    before and after means the command wrote nothing there."""
    return {str(p.relative_to(directory)): (p.stat().st_size if p.is_file() else -1, p.stat().st_mtime_ns)
            for p in sorted(directory.rglob("*"))}
