"""A private PostgreSQL server for tests that stop and restart it.

The shared test server (conftest's ``postgres_server``) must stay up for every
other test, so a fault test starts its own cluster from the same Debian
binaries: ``initdb`` into a tmp dir, trust auth, a free port on 127.0.0.1.
PostgreSQL refuses to run as root, so as root it runs as the ``postgres`` user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateCluster:
    """A server of its own in a fresh directory (outside pytest's tmp dirs, which the
    ``postgres`` user cannot enter); ``stop`` removes it."""

    def __init__(self) -> None:
        bin_dir = _bin_dir()
        if bin_dir is None:
            reason = "PostgreSQL's server binaries (pg_ctl, initdb) are not installed"
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(f"{reason}; under CI=true they must be")
            pytest.skip(reason)
        self.bin = bin_dir
        self.root = root = Path(tempfile.mkdtemp(prefix="threadline-pg-"))
        self.data = root / "data"
        self.port = _free_port()
        self.log = root / "server.log"
        self.user: str | None = None
        if os.geteuid() == 0:
            self.user = "postgres"
            pwd.getpwnam(self.user)
        if self.user:
            shutil.chown(root, self.user)
            root.chmod(0o700)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        command: Sequence[str] = [str(self.bin / tool), *args]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} failed: {done.stderr.strip()}")

    def _ctl(self, action: str, *extra: str) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.root}"
            " -c fsync=off"
        )
        self._run(
            "pg_ctl", action, "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", *extra
        )

    def start(self) -> None:
        self._ctl("start")

    def halt(self) -> None:
        """Stop the server (closing every connection at once), keeping its data: ``start``
        starts it again."""
        self._ctl("stop", "-m", "fast")

    def restart(self) -> None:
        """Stop (closing every connection at once) and start again."""
        self._ctl("restart", "-m", "fast")

    def stop(self) -> None:
        try:
            self._ctl("stop", "-m", "immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
