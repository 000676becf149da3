"""A live session whose store fails mid-session loses no saved prompt and leaves no gap.

``threadline session start`` runs as a user runs it (a subprocess fed prompts on stdin)
and the store is made to fail under it, for real:

- SQLite made read-only: ``chattr +i`` on the database and its WAL. As root, file modes
  do not stop writes, and a file already open for writing cannot be made read-only by a
  mode or a read-only remount (``mount -o remount,ro`` is refused while a file is open
  for writing: EBUSY). The immutable flag is checked on every write, open or not: the
  session's next write to the WAL fails (SQLite: ``disk I/O error``), a new connection
  is read-only. The shared-memory file stays writable: SQLite writes it through
  ``mmap``, and an immutable ``-shm`` kills the writer with SIGBUS.
- SQLite's write lock held by another process past the lock timeout: a transient fault.
- PostgreSQL stopped and started again while a prompt waits to be saved (a private
  server, ``postgres_cluster``): a transient fault.
- PostgreSQL refusing the session's role the right to insert: a permanent fault.

A transient fault is retried until it passes and every prompt is kept; a permanent one
ends the session at once with an ``Error`` event, one line on stderr and exit status 3.
Either way the events are read back through the store's API: every prompt saved before
the fault is there, the thread's versions run 1, 2, 3, ... without a gap, and
``threadline session resume`` continues the thread.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID, uuid4

import psycopg
import pytest
from conftest import REPO, cli_command, cli_env, db_path, query, run_cli, store_write_lock
from postgres_cluster import PrivateCluster

from threadline.adapters.store import open_store
from threadline.domain.session import Session

CWD = "/srv/app"
LOCK_TIMEOUT = 1
"""Seconds a try waits for SQLite's write lock (30 in real use)."""
OUTAGE_SECONDS = 2.0
"""How long the PostgreSQL server is down while a prompt waits to be saved."""


class LiveSession:
    """``threadline session start|resume`` with a pipe for prompts; stderr read as it comes."""

    def __init__(self, home: Path, *args: str, url: str | None = None) -> None:
        env = cli_env(home, {"THREADLINE_DATABASE_URL": url} if url else None)
        self.process = subprocess.Popen(
            cli_command("session", *args, "--cwd", CWD, lock_timeout=LOCK_TIMEOUT),
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stderr: list[str] = []
        assert self.process.stderr is not None
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        assert self.process.stdout is not None
        configured = self.process.stdout.readline()
        assert configured, f"no SessionConfigured: {''.join(self.stderr)}"
        self.configured: dict[str, Any] = json.loads(configured)
        self.thread_id = UUID(self.configured["session_id"])

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line)

    def prompt(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def wait_for_stderr(self, words: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any(words in line for line in self.stderr):
            assert self.process.poll() is None, f"exited: {''.join(self.stderr)}"
            assert time.monotonic() < deadline, f"never said {words!r}: {self.stderr}"
            time.sleep(0.02)

    def ended(self, close_input: bool, timeout: float = 90) -> tuple[int, list[dict[str, Any]]]:
        """The exit status and the events after ``SessionConfigured``. With ``close_input``
        false the session must end by itself, its standard input still open."""
        assert self.process.stdin is not None and self.process.stdout is not None
        if close_input:
            self.process.stdin.close()
        status = self.process.wait(timeout=timeout)
        events = [json.loads(line) for line in self.process.stdout.read().splitlines()]
        self._reader.join(timeout=10)
        if not close_input:
            self.process.stdin.close()
        return status, events


def saved_thread(home: Path, url: str | None, thread_id: UUID) -> tuple[list[int], list[str]]:
    """The thread's stored event versions and its prompts, through the store's API."""
    store = open_store(str(home), url)
    try:
        events = list(store.app.events.get(thread_id))
    finally:
        store.close()
    prompts = [
        part
        for event in events
        if isinstance(event, Session.ItemsRecorded)  # type: ignore[attr-defined]
        for item in event.items
        if item.type == "user" and not item.meta
        for part in item.parts
    ]
    return [event.originator_version for event in events], prompts


def wait_until_saved(read: Callable[[], list[str]], prompt: str, timeout: float = 30) -> None:
    """Until the store holds ``prompt``: the session has acknowledged it (saved it)."""
    deadline = time.monotonic() + timeout
    while prompt not in read():
        assert time.monotonic() < deadline, f"{prompt!r} was never saved"
        time.sleep(0.05)


def assert_no_gap(versions: list[int]) -> None:
    assert versions == list(range(1, len(versions) + 1)), versions


def resume(home: Path, thread_id: UUID, prompt: str, url: str | None = None) -> dict[str, Any]:
    live = LiveSession(home, "resume", str(thread_id), url=url)
    live.prompt(prompt)
    status, events = live.ended(close_input=True)
    assert status == 0, live.stderr
    assert [e["type"] for e in events] == ["ShutdownComplete"], events
    return live.configured


def assert_one_clear_line(live: LiveSession, store: str) -> None:
    stderr = "".join(live.stderr)
    assert "Traceback" not in stderr, stderr
    assert stderr.splitlines()[-1].startswith(
        f"threadline: the session ended: the store in {store} failed: "
    ), stderr
    assert f"`threadline session resume {live.thread_id}` continues it" in stderr


# -- SQLite ---------------------------------------------------------------------


@contextmanager
def immutable(*paths: Path) -> Iterator[None]:
    """The files cannot be written, by anyone, through any descriptor (root and
    CAP_LINUX_IMMUTABLE, on a filesystem with the flag); skips the test where refused."""
    done = subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True, text=True)
    if done.returncode != 0:
        subprocess.run(["chattr", "-i", *map(str, paths)], capture_output=True)
        pytest.skip(f"cannot make a file immutable here: {done.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *map(str, paths)], check=True)


def sqlite_prompts(home: Path, thread_id: UUID) -> Callable[[], list[str]]:
    return lambda: saved_thread(home, None, thread_id)[1]


def test_a_store_made_read_only_mid_session_ends_it_and_keeps_every_saved_prompt(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    live = LiveSession(home, "start")
    live.prompt("first")
    live.prompt("second")
    wait_until_saved(sqlite_prompts(home, live.thread_id), "second")
    database = db_path(home)

    with immutable(database, Path(f"{database}-wal")):
        live.prompt("third: never saved")
        status, events = live.ended(close_input=False)  # it ends by itself

        assert status == 3
        assert [e["type"] for e in events] == ["Error", "ShutdownComplete"]
        assert events[0]["message"] == (
            "failed to record items: disk I/O error; the session ends, its last 1 item "
            "(position 3) not saved; the thread keeps everything before them and can be resumed"
        )
        assert_one_clear_line(live, str(database))
        # Still there while the store is read-only (a reader that does not open it to write).
        rows = query(
            home,
            "SELECT originator_version FROM stored_events WHERE originator_id = ? ORDER BY 1",
            (live.thread_id.hex,),
        )
        assert_no_gap([version for (version,) in rows])

    versions, prompts = saved_thread(home, None, live.thread_id)
    assert prompts == ["first", "second"]
    assert_no_gap(versions)
    assert len(versions) == len(rows)

    configured = resume(home, live.thread_id, "fourth")

    assert [m["parts"] for m in configured["initial_messages"] if not m.get("meta")] == [
        ["first"],
        ["second"],
    ]
    versions, prompts = saved_thread(home, None, live.thread_id)
    assert prompts == ["first", "second", "fourth"]
    assert_no_gap(versions)


def test_a_write_lock_held_mid_session_is_waited_out_and_every_prompt_is_kept(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    live = LiveSession(home, "start")
    live.prompt("before")
    wait_until_saved(sqlite_prompts(home, live.thread_id), "before")

    with store_write_lock(home):
        live.prompt("while locked")
        live.wait_for_stderr("database is locked; retry 2 of up to 30 s")
    live.prompt("after")
    status, events = live.ended(close_input=True)

    assert status == 0, live.stderr
    assert [e["type"] for e in events] == ["ShutdownComplete"]
    versions, prompts = saved_thread(home, None, live.thread_id)
    assert prompts == ["before", "while locked", "after"]
    assert_no_gap(versions)
    configured = resume(home, live.thread_id, "resumed")
    assert ["while locked"] in [m["parts"] for m in configured["initial_messages"]]
    assert saved_thread(home, None, live.thread_id)[1][-1] == "resumed"


# -- PostgreSQL -------------------------------------------------------------------


def test_a_postgresql_server_restarted_mid_session_loses_no_prompt(tmp_path: Path) -> None:
    cluster = PrivateCluster()
    cluster.start()
    try:
        home = tmp_path / "home"
        live = LiveSession(home, "start", url=cluster.url)
        live.prompt("before")
        wait_until_saved(lambda: saved_thread(home, cluster.url, live.thread_id)[1], "before")

        cluster.halt()
        live.prompt("while the server is down")
        time.sleep(OUTAGE_SECONDS)  # its save starts 0.1 s after the prompt, and waits
        cluster.start()
        live.prompt("after")
        status, events = live.ended(close_input=True)

        assert status == 0, live.stderr
        assert [e["type"] for e in events] == ["ShutdownComplete"]
        assert "Traceback" not in "".join(live.stderr)
        versions, prompts = saved_thread(home, cluster.url, live.thread_id)
        assert prompts == ["before", "while the server is down", "after"]
        assert_no_gap(versions)
        resume(home, live.thread_id, "resumed", url=cluster.url)
        versions, prompts = saved_thread(home, cluster.url, live.thread_id)
        assert prompts[-2:] == ["after", "resumed"]
        assert_no_gap(versions)
    finally:
        cluster.stop()


def as_role(url: str, role: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{role}@{parts.hostname}:{parts.port or 5432}"))


def test_a_role_that_loses_its_insert_privilege_mid_session_ends_it_cleanly(
    tmp_path: Path, postgres_server: Any
) -> None:
    url = postgres_server.fresh_database()
    home = tmp_path / "home"
    made = run_cli("threads", home=home, env={"THREADLINE_DATABASE_URL": url})
    assert made.returncode == 0, made.stderr  # the schema, made by its owner
    role = f"threadline_live_{uuid4().hex[:12]}"
    admin = psycopg.connect(url, autocommit=True)
    try:
        admin.execute(f"CREATE ROLE {role} LOGIN")
        admin.execute(f"GRANT CREATE ON DATABASE {urlsplit(url).path[1:]} TO {role}")
        admin.execute(f"GRANT USAGE, CREATE ON SCHEMA threadline TO {role}")
        admin.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA threadline TO {role}")
        admin.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA threadline TO {role}")
        live = LiveSession(home, "start", url=as_role(url, role))
        live.prompt("first")
        wait_until_saved(lambda: saved_thread(home, url, live.thread_id)[1], "first")

        admin.execute(f"REVOKE INSERT ON threadline.threadline_events FROM {role}")
        live.prompt("second: never saved")
        status, events = live.ended(close_input=False)

        assert status == 3
        assert [e["type"] for e in events] == ["Error", "ShutdownComplete"]
        assert events[0]["message"].startswith(
            "failed to record items: permission denied for table threadline_events; "
            "the session ends, its last 1 item (position 2) not saved"
        )
        assert_one_clear_line(live, as_role(url, role))
        versions, prompts = saved_thread(home, url, live.thread_id)
        assert prompts == ["first"]
        assert_no_gap(versions)

        admin.execute(f"GRANT INSERT ON threadline.threadline_events TO {role}")
        resume(home, live.thread_id, "third", url=as_role(url, role))
        versions, prompts = saved_thread(home, url, live.thread_id)
        assert prompts == ["first", "third"]
        assert_no_gap(versions)
    finally:
        admin.execute(f"DROP OWNED BY {role}")
        admin.execute(f"DROP ROLE IF EXISTS {role}")
        admin.close()
