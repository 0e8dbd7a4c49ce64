"""The service and the enclave keep freed memory between decisions (enclave.memory): a
decision's ~20 MB of encoding buffers are not faulted in again by the next one."""

from __future__ import annotations

import subprocess
import sys

import pytest

from enclave.memory import keep_freed_memory

# 20 MB built in 1 MB steps and copied, like the canonical encoding's growing buffer, twice;
# the minor page faults of the second time are printed.
SECOND_TIME_FAULTS = """
import resource, sys
if sys.argv[1] == "keep":
    from enclave.memory import keep_freed_memory
    assert keep_freed_memory()
def work():
    buffer = bytearray()
    for _ in range(20):
        buffer += b"\\x01" * 1_000_000
    return bytes(buffer)
work()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
work()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def second_time_faults(mode: str) -> int:
    run = subprocess.run([sys.executable, "-c", SECOND_TIME_FAULTS, mode], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return int(run.stdout)


GLIBC = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")


@GLIBC
def test_kept_memory_is_not_faulted_in_again():
    """20 MB are 4,883 pages of 4 KB, two copies about 10,000 faults. With glibc's defaults the
    freed buffers go back to the kernel and the second time faults them in again (measured
    ~9,800); with the thresholds raised, the second time reuses them (measured 0)."""
    assert second_time_faults("keep") < 100
    assert second_time_faults("default") > 4_000


@GLIBC
def test_setting_it_twice_is_harmless():
    assert keep_freed_memory() is True
    assert keep_freed_memory() is True
