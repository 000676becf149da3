"""Large freed blocks go back to the system once the import's processes ask for it."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

FREE_TWENTY_BLOCKS = """
import sys
from threadline.adapters.freed_memory import give_back_large_blocks

if sys.argv[1] == "give back":
    assert give_back_large_blocks()
def resident() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096
first = b"x" * (8 << 20)
del first  # a large block freed: glibc's own threshold rises past the blocks below
blocks = [b"x" * (2 << 20) for _ in range(20)]
pin = b"y" * 100_000  # lives on above them
before = resident()
del blocks
print((before - resident()) >> 20)
"""


def freed_mib(mode: str) -> int:
    run = subprocess.run(
        [sys.executable, "-c", FREE_TWENTY_BLOCKS, mode],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(run.stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc")
def test_blocks_freed_go_back_to_the_system_at_once() -> None:
    assert freed_mib("as it was") < 10  # glibc keeps them in its heap
    assert freed_mib("give back") >= 35  # 40 MiB freed
