#!/usr/bin/env python3
"""A/B of two Threadline checkouts' imports on one tree, interleaved (this machine is noisy).

    python bench/ab_import.py TREE A_PYTHON:A_MODULE B_PYTHON:B_MODULE [--rounds N] [--noop N]

Each side is a Python and the CLI module it runs, e.g. an older checkout
``/tmp/base/.venv/bin/python:adapters.cli.main`` against this one's
``.venv/bin/python:threadline.adapters.cli.main``. Per round, each side imports TREE
into a fresh home (wall and CPU of the process, from ``os.wait4``); then each side
re-imports the unchanged tree ``--noop`` times, interleaved. Prints medians.

Each side runs with ``-P``: without it ``-m`` puts the working directory first on
``sys.path``, and run from a checkout both sides import that checkout's ``threadline``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time


def run(command: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one process."""
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        raise SystemExit(f"failed ({status}): {' '.join(command)}")
    return time.perf_counter() - started, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("tree")
    parser.add_argument("sides", nargs=2, metavar="PYTHON:MODULE")
    parser.add_argument("--rounds", type=int, default=3, help="fresh imports per side")
    parser.add_argument("--noop", type=int, default=20, help="unchanged re-imports per side")
    args = parser.parse_args()
    scratch = tempfile.mkdtemp(prefix="threadline-ab-")
    sides = {}
    for i, side in enumerate(args.sides):
        python, module = side.rsplit(":", 1)
        sides[f"{'AB'[i]} {module}"] = (python, module, os.path.join(scratch, f"home-{i}"))
    figures: dict[str, dict[str, list[float]]] = {
        name: {"wall": [], "cpu": [], "noop wall": [], "noop cpu": []} for name in sides
    }
    try:
        for _ in range(args.rounds):
            for name, (python, module, home) in sides.items():
                shutil.rmtree(home, ignore_errors=True)
                wall, cpu = run([python, "-P", "-m", module, "--home", home, "import", args.tree])
                figures[name]["wall"].append(wall)
                figures[name]["cpu"].append(cpu)
        for _ in range(args.noop):
            for name, (python, module, home) in sides.items():
                wall, cpu = run([python, "-P", "-m", module, "--home", home, "import", args.tree])
                figures[name]["noop wall"].append(wall)
                figures[name]["noop cpu"].append(cpu)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"medians; load {os.getloadavg()[0]:.1f}; {args.rounds} imports, {args.noop} no-ops")
    for name, f in figures.items():
        print(
            f"{name}: import {statistics.median(f['wall']):.2f} s wall,"
            f" {statistics.median(f['cpu']):.2f} s CPU; unchanged re-import"
            f" {statistics.median(f['noop wall']) * 1000:.0f} ms wall,"
            f" {statistics.median(f['noop cpu']) * 1000:.0f} ms CPU"
        )


if __name__ == "__main__":
    main()
