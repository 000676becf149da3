"""Choosing the PostgreSQL store, and what a user sees when it cannot be reached."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from conftest import REPO, ClaudeTree, cli_command, cli_env, run_cli

from threadline.adapters.cli.common import EXIT_FAILED


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    "command",
    [("import", "{tree}"), ("threads",), ("search", "word"), ("ledger",), ("rebuild",)],
    ids=lambda c: c[0],
)
def test_an_unreachable_database_is_one_clear_line_that_never_shows_the_password(
    command: tuple[str, ...], claude_tree: ClaudeTree, tmp_path: Path
) -> None:
    url = f"postgresql://alice:pa55-w0rd@127.0.0.1:{closed_port()}/threadline"
    args = [a.format(tree=claude_tree.claude_home) for a in command]

    result = run_cli("--database-url", url, *args, home=tmp_path / "home")

    assert result.returncode == EXIT_FAILED, result.stderr
    assert "pa55-w0rd" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("threadline: cannot open the store in postgresql://alice:***@127.0.0.1:")
    assert "Connection refused" in line or "connection failed" in line


def test_the_database_url_flag_selects_postgresql_over_the_home_file(
    claude_tree: ClaudeTree, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("postgres_server").fresh_database()
    home = tmp_path / "home"

    imported = run_cli("--database-url", url, "import", claude_tree.claude_home, home=home)
    listed = run_cli("--database-url", url, "threads", "--json", home=home)
    on_sqlite = run_cli("threads", "--json", home=home)

    assert imported.returncode == 0, imported.stderr
    assert len(listed.json()) == len(claude_tree.sessions)
    assert not (home / "threadline.db").exists() or on_sqlite.json() == []


def test_a_role_that_may_not_create_the_store_is_told_so_and_nothing_is_written(
    claude_tree: ClaudeTree, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    server = request.getfixturevalue("postgres_server")
    url = server.fresh_database()
    role = f"threadline_noperm_{os.getpid()}"
    server.admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'n0-perm-pw'")
    try:
        parts = urlsplit(url)
        as_role = urlunsplit(
            parts._replace(netloc=f"{role}:n0-perm-pw@{parts.hostname}:{parts.port}")
        )

        result = run_cli(
            "--database-url", as_role, "import", claude_tree.claude_home, home=tmp_path
        )

        assert result.returncode == EXIT_FAILED, result.stderr
        [line] = result.stderr.strip().splitlines()
        assert "permission denied" in line
        assert "n0-perm-pw" not in line and f"{role}:***@" in line
        with psycopg.connect(url) as conn:
            found = conn.execute(
                "SELECT count(*) FROM pg_namespace WHERE nspname = 'threadline'"
            ).fetchone()
        assert found == (0,)
    finally:
        server.admin.execute(f"DROP ROLE {role}")


def test_project_follow_is_woken_by_a_save_at_once_not_after_its_interval(
    claude_tree: ClaudeTree, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("postgres_server").fresh_database()
    home = tmp_path / "home"
    first, second, *_ = claude_tree.sessions
    assert run_cli("--database-url", url, "import", first.path, home=home).returncode == 0
    follower = subprocess.Popen(
        cli_command("--database-url", url, "project", "--follow", "--interval", "600"),
        cwd=REPO,
        env=cli_env(home),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stderr is not None
        assert "projected" in follower.stderr.readline()  # caught up; now waiting 600 s
        # The import catches up the eager read models itself; search is the follower's.
        assert run_cli("--database-url", url, "import", second.path, home=home).returncode == 0
        saved = time.monotonic()
        indexed = 0
        while indexed < 2 and time.monotonic() - saved < 20:
            time.sleep(0.05)
            with psycopg.connect(url) as conn:
                row = conn.execute(
                    "SELECT count(DISTINCT thread_id) FROM threadline.search_items"
                ).fetchone()
            indexed = row[0] if row else 0
        woken_after = time.monotonic() - saved
        follower.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        _, stderr = follower.communicate(timeout=30)
        stopped_after = time.monotonic() - signalled
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()

    assert indexed == 2, f"not indexed {woken_after:.1f} s after the save"
    assert woken_after < 20
    assert follower.returncode == 0, stderr
    assert stopped_after < 5, f"SIGTERM took {stopped_after:.1f} s"
