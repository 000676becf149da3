"""The wheel installs one package, ``threadline``, and nothing beside it (ADR 0010)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import REPO


def test_the_wheel_holds_only_the_threadline_package_and_its_metadata(tmp_path: Path) -> None:
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    built = subprocess.run(
        [*pip_wheel, "-q", "-w", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("threadline-*.whl")

    names = zipfile.ZipFile(wheel).namelist()

    top_level = {name.split("/")[0] for name in names}
    assert top_level == {"threadline", wheel.name.split("-py")[0] + ".dist-info"}
    for layer in ("domain", "application", "adapters"):
        assert f"threadline/{layer}/__init__.py" in names
    assert "threadline/adapters/cli/main.py" in names
    assert not [n for n in names if n.startswith(("threadline/tests", "threadline/bench"))]
    entry_points = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith("entry_points.txt"))
    )
    assert b"threadline = threadline.adapters.cli.main:main" in entry_points
