"""Child processes that end with their parent, even when the parent is SIGKILLed (it then
runs no clean-up of its own): the enclave the service starts, the dashboard's Streamlit.

On Linux the child asks the kernel for SIGTERM when its parent dies (prctl
PR_SET_PDEATHSIG), set between fork and exec. The kernel sends it when the *thread* that
forked the child ends, so start long-lived children from a thread that lives as long as the
parent (the main thread, as the service and the CLI do). Elsewhere (macOS) there is no such
call and children are only stopped by the parent's own clean-up."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` for `subprocess.Popen` (None where the platform has no PDEATHSIG)."""
    if not sys.platform.startswith("linux"):
        return None
    parent = os.getpid()

    def arrange() -> None:  # runs in the child, between fork and exec
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            os._exit(70)
        if os.getppid() != parent:  # the parent died before the request: nobody will signal us
            os._exit(70)

    return arrange
