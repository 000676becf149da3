"""Shared fixtures for the end-to-end and integration tests.

Everything here is real: transcripts are JSONL files written to a tmp dir in
the shape Claude Code writes them, the store is a real SQLite file in a tmp
Threadline home, and the CLI runs as a subprocess (``python -m
adapters.cli.main``), the way a user runs it.

Tests in a module marked ``both_stores`` run twice: on the SQLite file, and on
a fresh database of a real PostgreSQL server (``$THREADLINE_TEST_POSTGRES_URL``,
default ``postgresql://postgres@127.0.0.1:5432/postgres``, which must allow
``CREATE DATABASE``). The ``home`` fixture sets ``THREADLINE_DATABASE_URL`` for
those, so the CLI and ``open_store`` use it. Without a reachable server they are
skipped with the reason; under ``CI=true`` they fail instead.

Test modules import the helpers below with ``from conftest import ...`` (pytest
puts this directory on ``sys.path``); keep any other conftest.py inside a package
(as ``tests/unit`` is) so that the name stays this module's.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit

import pytest

REPO = Path(__file__).resolve().parents[1]
DB_FILENAME = "threadline.db"
MODEL = "claude-sonnet-4-5-20250929"
RECORDS_NAMESPACE = uuid.UUID("5d1c9a1e-0f3b-4b7a-9c55-0a1b2c3d4e5f")
CWD_ROOT = "/nonexistent-threadline-tests"
"""Transcripts' ``cwd`` lives here: never a directory, so never inside a git repository,
and the branch a thread shows is the one its transcript records."""


# -- running the CLI ----------------------------------------------------------


class CliResult(NamedTuple):
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def cli_env(home: Path | str | None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The CLI's environment for a store: ``THREADLINE_HOME``, and the database URL of a
    home made on PostgreSQL (``home``, ``new_home``)."""
    env = {k: v for k, v in os.environ.items() if k not in ("CLAUDE_CONFIG_DIR", "COLUMNS")}
    env.pop("THREADLINE_HOME", None)
    if home is not None:
        env["THREADLINE_HOME"] = str(home)
        url = _DATABASES.get(Path(home))
        if url is not None:
            env[DATABASE_URL_ENV] = url
    env.update(extra or {})
    return env


_TUNED_CLI = """
import sys
import threadline.adapters.persistence.sqlite as sqlite
import threadline.application.store_faults as store_faults
from threadline.adapters.cli.main import main
timeout, attempts = sys.argv[1:3]
sqlite.LOCK_TIMEOUT_SECONDS = int(timeout) if timeout else sqlite.LOCK_TIMEOUT_SECONDS
store_faults.STORE_ATTEMPTS = int(attempts) if attempts else store_faults.STORE_ATTEMPTS
sys.exit(main(sys.argv[3:]))
"""


def cli_command(
    *args: str, lock_timeout: int | None = None, store_attempts: int | None = None
) -> list[str]:
    """``threadline ARGS``; with a shorter store lock timeout (whole seconds) or fewer store
    attempts when given, so that tests of a busy store do not wait 30 s a try."""
    if lock_timeout is None and store_attempts is None:
        return [sys.executable, "-m", "threadline.adapters.cli.main", *map(str, args)]
    settings = [str(lock_timeout or ""), str(store_attempts or "")]
    return [sys.executable, "-c", _TUNED_CLI, *settings, *map(str, args)]


def run_cli(
    *args: str | os.PathLike[str],
    home: Path | str | None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    preexec_fn: Callable[[], None] | None = None,
    lock_timeout: int | None = None,
    store_attempts: int | None = None,
) -> CliResult:
    """Run ``threadline ARGS`` with ``THREADLINE_HOME=home``; return code, stdout and stderr.

    ``preexec_fn`` runs in the child before the CLI starts (limits, dropped capabilities).
    """
    done = subprocess.run(
        cli_command(*map(str, args), lock_timeout=lock_timeout, store_attempts=store_attempts),
        cwd=REPO,
        env=cli_env(home, env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        preexec_fn=preexec_fn,
    )
    return CliResult(done.returncode, done.stdout, done.stderr)


def store_contents(home: Path) -> dict[str, Any]:
    """Everything a reader sees, through the CLI: the thread list, the ledger (without the
    times it was written) and every thread's items. Equal stores give equal values."""
    threads = run_cli("threads", "--json", home=home)
    ledger = run_cli("ledger", "--json", home=home)
    assert threads.returncode == 0 and ledger.returncode == 0, threads.stderr + ledger.stderr
    entries = [{k: v for k, v in e.items() if k != "recorded_at"} for e in ledger.json()]
    items = {}
    for thread in threads.json():
        shown = run_cli("show", thread["thread_id"], "--json", home=home)
        assert shown.returncode == 0, shown.stderr
        items[thread["thread_id"]] = shown.json()["items"]
    return {"threads": threads.json(), "ledger": entries, "items": items}


@pytest.fixture(name="run_cli")
def run_cli_fixture() -> Callable[..., CliResult]:
    return run_cli


@pytest.fixture
def tmp_path(tmp_path: Path) -> Path:
    """pytest's tmp dir with symlinks resolved: the importer names sources by real path."""
    return tmp_path.resolve()


# -- which store a test runs on -----------------------------------------------

POSTGRES_ADMIN_URL = os.environ.get(
    "THREADLINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
DATABASE_URL_ENV = "THREADLINE_DATABASE_URL"
STORE_KINDS = ("sqlite", "postgres")
_DATABASES: dict[Path, str] = {}
"""Home -> the PostgreSQL database URL of a test that runs on PostgreSQL."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "both_stores: run each test on the SQLite store and on PostgreSQL"
    )
    config.addinivalue_line(
        "markers", "sqlite_only: in a both_stores module, a test of the SQLite file itself"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marked = metafunc.definition.get_closest_marker
    uses_a_store = {"home", "new_home"} & set(metafunc.fixturenames)
    if uses_a_store and marked("both_stores") and not marked("sqlite_only"):
        metafunc.parametrize("store_kind", STORE_KINDS, indirect=True)


@pytest.fixture
def store_kind(request: pytest.FixtureRequest) -> str:
    """``sqlite`` unless the test is parametrised over both stores."""
    return str(getattr(request, "param", "sqlite"))


class _PostgresServer:
    """The test server: one fresh database per test, all dropped at the end of the run."""

    def __init__(self) -> None:
        self.created: list[str] = []
        self.unavailable: str | None = None
        self.admin: Any = None

    def fresh_database(self) -> str:
        import psycopg

        if self.admin is None and self.unavailable is None:
            try:
                self.admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
            except psycopg.Error as exc:
                self.unavailable = " ".join(str(exc).split())
        if self.unavailable is not None:
            reason = f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {self.unavailable}"
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(f"{reason} (under CI=true the PostgreSQL tests must run)")
            pytest.skip(f"{reason} (set THREADLINE_TEST_POSTGRES_URL to run these tests)")
        name = f"threadline_test_{uuid.uuid4().hex[:16]}"
        self.admin.execute(f"CREATE DATABASE {name}")
        self.created.append(name)
        return urlunsplit(urlsplit(POSTGRES_ADMIN_URL)._replace(path="/" + name))

    def drop_all(self) -> None:
        for name in self.created:
            self.admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if self.admin is not None:
            self.admin.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[_PostgresServer]:
    server = _PostgresServer()
    yield server
    server.drop_all()


@pytest.fixture
def database_url(
    store_kind: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> str | None:
    """The PostgreSQL database of a test on PostgreSQL (set in the environment), else None."""
    if store_kind != "postgres":
        monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
        return None
    url = request.getfixturevalue("postgres_server").fresh_database()
    monkeypatch.setenv(DATABASE_URL_ENV, url)
    return str(url)


@pytest.fixture
def home(tmp_path: Path, database_url: str | None) -> Path:
    """A Threadline home that does not exist yet (the CLI creates it); on PostgreSQL, its
    store is the test's fresh database."""
    path = tmp_path / "threadline-home"
    if database_url is not None:
        _DATABASES[path] = database_url
    return path


@pytest.fixture
def new_home(tmp_path: Path, store_kind: str, request: pytest.FixtureRequest) -> Any:
    """Makes more homes, each with a store of its own: ``new_home("home-2")``. On
    PostgreSQL each gets a fresh database (``cli_env`` and ``open_test_store`` use it)."""

    def make(name: str) -> Path:
        path = tmp_path / name
        return store_on_postgres(path, request) if store_kind == "postgres" else path

    return make


def on_postgres(home: Path) -> bool:
    return home in _DATABASES


def store_on_postgres(home: Path, request: pytest.FixtureRequest) -> Path:
    """Make ``home``'s store a fresh PostgreSQL database (for fixtures that make a home)."""
    _DATABASES[home] = request.getfixturevalue("postgres_server").fresh_database()
    return home


def open_test_store(home: Path) -> Any:
    """``open_store`` for the store of ``home``, on whichever kind it was made."""
    from threadline.adapters.store import open_store

    return open_store(str(home), _DATABASES.get(home))


STORE_BFC55EE = REPO / "tests" / "fixtures" / "store-bfc55ee" / DB_FILENAME
"""A store written by an earlier release (commit bfc55ee; ``tests/fixtures/README.md``)."""


def old_store(home: Path) -> Path:
    """``home`` holding the events and blobs bfc55ee wrote (on PostgreSQL: copied into a
    fresh store as they are, its read models empty)."""
    from eventsourcing.persistence import StoredEvent

    if not on_postgres(home):
        home.mkdir(mode=0o700)
        shutil.copyfile(STORE_BFC55EE, home / "threadline.db")
        (home / "threadline.db").chmod(0o600)
        return home
    with sqlite3.connect(f"file:{STORE_BFC55EE}?mode=ro", uri=True) as old:
        events = old.execute(
            "SELECT originator_id, originator_version, topic, state FROM stored_events"
            " ORDER BY rowid"
        ).fetchall()
        blobs = old.execute("SELECT key, data FROM blobs").fetchall()
    store = open_test_store(home)
    try:
        for key, data in blobs:
            assert store.blobs.put(data) == key
        store.app.recorder.insert_events(
            [StoredEvent(uuid.UUID(o), v, topic, state) for o, v, topic, state in events]
        )
    finally:
        store.close()
    return home


def store_described(home: Path) -> str:
    """Where the store of ``home`` is, as Threadline describes it: the URL or the file."""
    return _DATABASES.get(home) or str(home / DB_FILENAME)


# -- reading the store directly -----------------------------------------------


def db_path(home: Path) -> Path:
    return home / DB_FILENAME


def query(home: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows from the store, read-only: its SQLite file, or its PostgreSQL database.

    SQL is written for SQLite; on PostgreSQL ``?`` marks, ``stored_events`` and
    ``rowid`` (the notification id) are translated.
    """
    url = _DATABASES.get(home)
    if url is not None:
        import psycopg

        sql = sql.replace("?", "%s").replace("stored_events", "threadline_events")
        sql = sql.replace("rowid", "notification_id")
        with psycopg.connect(url, options="-c search_path=threadline") as conn:
            return [tuple(r) for r in conn.execute(sql, params).fetchall()]  # type: ignore[arg-type]
    conn = sqlite3.connect(f"file:{db_path(home)}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def stored_events_mark(home: Path) -> tuple[int, int]:
    """(row count, max rowid) of ``stored_events``: anything written moves it."""
    ((count, top),) = query(home, "SELECT count(*), coalesce(max(rowid), 0) FROM stored_events")
    return count, top


def write_progress(home: Path, rowid: int, topic: str) -> tuple[int, int] | None:
    """(events of ``topic`` stored after ``rowid``, blobs stored), to kill a running import at
    a chosen point; None while the store cannot be read without getting in its way."""
    if on_postgres(home):
        try:
            ((saved,),) = query(
                home,
                "SELECT count(*) FROM stored_events WHERE rowid > ? AND topic = ?",
                (rowid, topic),
            )
            ((blobs,),) = query(home, "SELECT count(*) FROM blobs")
        except Exception:  # the tables are not there yet
            return None
        return int(saved), int(blobs)
    if not Path(f"{db_path(home)}-wal").exists():  # not in WAL mode yet: keep out of its way
        return None
    try:
        conn = sqlite3.connect(f"file:{db_path(home)}?mode=ro", uri=True, timeout=0.05)
        try:
            ((saved,),) = conn.execute(
                "SELECT count(*) FROM stored_events WHERE rowid > ? AND topic = ?",
                (rowid, topic),
            ).fetchall()
            ((blobs,),) = conn.execute("SELECT count(*) FROM blobs").fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return int(saved), int(blobs)


def _store_exists(home: Path) -> bool:
    if not on_postgres(home):
        return db_path(home).exists()
    found = query(home, "SELECT count(*) FROM pg_tables WHERE tablename = 'blobs'")
    return bool(found[0][0])


def blob_count(home: Path) -> int:
    if not _store_exists(home):
        return 0
    return int(query(home, "SELECT count(*) FROM blobs")[0][0])


def max_rowid(home: Path) -> int:
    if not _store_exists(home):
        return 0
    return int(query(home, "SELECT coalesce(max(rowid), 0) FROM stored_events")[0][0])


def count_events(home: Path, topic: str) -> int:
    """How many events of this topic the store holds (``module:Class.Event``)."""
    ((count,),) = query(home, "SELECT count(*) FROM stored_events WHERE topic = ?", (topic,))
    return int(count)


def event_topics(home: Path, originator_id: str) -> list[str]:
    """The topics of one aggregate's stored events, in the order they were stored."""
    rows = query(
        home,
        "SELECT topic FROM stored_events WHERE originator_id = ? ORDER BY rowid",
        (uuid.UUID(originator_id).hex,),
    )
    return [topic for (topic,) in rows]


@contextmanager
def store_write_lock(home: Path) -> Iterator[Callable[[], None]]:
    """Hold the store's write lock, as another writer would; yields a function that
    lets it go early (it is let go at the end in any case)."""
    conn = sqlite3.connect(db_path(home), timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("BEGIN EXCLUSIVE")
    lock = threading.Lock()
    held = [True]

    def release() -> None:
        with lock:
            if held[0]:
                conn.rollback()
                conn.close()
                held[0] = False

    try:
        yield release
    finally:
        release()


def table(home: Path, name: str, order_by: str) -> list[tuple[Any, ...]]:
    """Every row of a read-model table, in a stable order."""
    return query(home, f"SELECT * FROM {name} ORDER BY {order_by}")


# -- faults in a child process ---------------------------------------------------

PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 1, 2
_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def without_file_permission_override() -> None:
    """``preexec_fn``: the child (and what it execs) obeys file modes even as root.

    Drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the bounding set (root regains
    only the bounding set on exec) and from this process's sets. A no-op when not root:
    a user obeys file modes already. Exits 97 if the kernel refuses.
    """
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    header, data = _CapHeader(_CAPABILITY_VERSION_3, 0), (_CapData * 2)()
    keep = ~((1 << CAP_DAC_OVERRIDE) | (1 << CAP_DAC_READ_SEARCH)) & 0xFFFFFFFF
    ok = all(libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0 for cap in (1, 2))
    ok = ok and libc.capget(ctypes.byref(header), data) == 0
    for name in ("effective", "permitted", "inheritable"):
        setattr(data[0], name, getattr(data[0], name) & keep)
    if not (ok and libc.capset(ctypes.byref(header), data) == 0):
        os._exit(97)


@functools.cache
def file_modes_bind() -> bool:
    """Whether a child started with ``without_file_permission_override`` really cannot read
    a file of mode 000 here (false where the kernel refuses to drop the capabilities)."""
    with tempfile.TemporaryDirectory() as tmp:
        secret = Path(tmp) / "mode-000"
        secret.write_text("x")
        secret.chmod(0)
        done = subprocess.run(
            ["cat", str(secret)],
            capture_output=True,
            preexec_fn=without_file_permission_override,
            check=False,
        )
    return done.returncode == 1 and b"Permission denied" in done.stderr


needs_file_modes = pytest.mark.skipif(
    not file_modes_bind(),
    reason="cannot make a child process obey file modes here (root, and capabilities "
    "cannot be dropped)",
)


def file_size_limit(max_bytes: int) -> Callable[[], None]:
    """``preexec_fn``: no file the child writes may grow past ``max_bytes`` (a full disk,
    as SQLite sees it: writes past the limit fail with EFBIG instead of killing it)."""

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return limit


# -- writing transcripts ------------------------------------------------------


def jsonl(records: Iterable[dict[str, Any]], newline: str = "\n") -> bytes:
    return "".join(
        json.dumps(r, separators=(",", ":"), ensure_ascii=False) + newline for r in records
    ).encode("utf-8")


def write_transcript(path: Path, records: Iterable[dict[str, Any]]) -> Path:
    """Write ``records`` as a JSONL file (one compact JSON object per line), creating dirs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(jsonl(records))
    return path


def append_transcript(path: Path, records: Iterable[dict[str, Any]]) -> Path:
    with path.open("ab") as f:
        f.write(jsonl(records))
    return path


@pytest.fixture(name="write_transcript")
def write_transcript_fixture() -> Callable[[Path, Iterable[dict[str, Any]]], Path]:
    return write_transcript


def expected_item_count(records: list[dict[str, Any]]) -> int:
    """Items a transcript maps to: one per line, except that a user line gives one
    message for its text plus one item per other block, and an assistant response
    (fragments sharing ``message.id``) gives one message plus one item per
    thinking or tool_use block."""
    count, seen_ids = 0, set()
    for record in records:
        kind = record.get("type")
        if kind == "user":
            content = record["message"]["content"]
            if isinstance(content, str):
                count += 1
            else:
                count += any(b["type"] == "text" for b in content)
                count += sum(b["type"] != "text" for b in content)
        elif kind == "assistant":
            message = record["message"]
            if message["id"] not in seen_ids:
                seen_ids.add(message["id"])
                count += 1
            count += sum(b["type"] != "text" for b in message["content"])
        else:
            count += 1
    return count


def iso(t: datetime) -> str:
    """Claude Code's timestamp style: UTC, millisecond precision, ``Z``."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class Conversation:
    """Builds the records of one Claude Code transcript, chained by uuid/parentUuid.

    Every method appends a record to ``records`` and returns it. Uuids and
    timestamps are deterministic: record n is ``start + n * step``.
    """

    session_id: str
    cwd: str | None = f"{CWD_ROOT}/app"
    git_branch: str | None = "main"
    start: datetime = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    step: timedelta = timedelta(seconds=30)
    is_sidechain: bool = False
    agent_id: str | None = None
    records: list[dict[str, Any]] = field(default_factory=list)
    parent: str | None = None
    _n: int = 0

    def next_uuid(self) -> str:
        self._n += 1
        return str(uuid.uuid5(RECORDS_NAMESPACE, f"{self.session_id}/{self.agent_id}/{self._n}"))

    def envelope(self, kind: str, **extra: Any) -> dict[str, Any]:
        uid = self.next_uuid()
        record: dict[str, Any] = {
            "parentUuid": self.parent,
            "isSidechain": self.is_sidechain,
            "userType": "external",
            "cwd": self.cwd,
            "sessionId": self.session_id,
            "version": "2.1.0",
            "gitBranch": self.git_branch,
            "type": kind,
        }
        if self.cwd is None:
            del record["cwd"]
        if self.git_branch is None:
            del record["gitBranch"]
        if self.agent_id is not None:
            record["agentId"] = self.agent_id
        record.update(extra)
        record["uuid"] = uid
        record["timestamp"] = iso(self.start + self.step * self._n)
        self.parent = uid
        return self.add(record)

    def add(self, record: dict[str, Any]) -> dict[str, Any]:
        self.records.append(record)
        return record

    @property
    def last_timestamp(self) -> str:
        return iso(self.start + self.step * self._n)

    def user(self, content: str | list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return self.envelope("user", message={"role": "user", "content": content}, **extra)

    def assistant(self, *blocks: str | dict[str, Any], message_id: str | None = None) -> dict:
        content = [{"type": "text", "text": b} if isinstance(b, str) else b for b in blocks]
        message = {
            "id": message_id or f"msg_{self.session_id[:8]}_{self._n + 1:04d}",
            "type": "message",
            "role": "assistant",
            "model": MODEL,
            "content": content,
            "stop_reason": "tool_use" if any(b["type"] == "tool_use" for b in content) else None,
            "usage": {"input_tokens": 10, "output_tokens": 20 + self._n},
        }
        return self.envelope("assistant", message=message, requestId=f"req_{self._n + 1:04d}")

    def tool_result(self, call_id: str, output: Any, is_error: bool = False) -> dict[str, Any]:
        block = {"type": "tool_result", "tool_use_id": call_id, "content": output}
        if is_error:
            block["is_error"] = True
        stdout = output if isinstance(output, str) else ""
        return self.user(
            [block],
            toolUseResult={"stdout": stdout, "stderr": "", "interrupted": False},
        )

    def tool_turn(self, name: str, tool_input: dict[str, Any], output: Any) -> str:
        """An assistant tool call and the user line with its result; returns the call id."""
        call_id = f"toolu_{self.session_id[:8]}_{self._n + 1:04d}"
        self.assistant(
            f"Running {name}.",
            {"type": "tool_use", "id": call_id, "name": name, "input": tool_input},
        )
        self.tool_result(call_id, output)
        return call_id

    def summary(self, text: str) -> dict[str, Any]:
        return self.add({"type": "summary", "summary": text, "leafUuid": str(uuid.uuid4())})

    def custom_title(self, title: str) -> dict[str, Any]:
        return self.add(
            {"type": "custom-title", "customTitle": title, "sessionId": self.session_id}
        )

    def write(self, path: Path) -> Path:
        return write_transcript(path, self.records)


def thinking(text: str) -> dict[str, Any]:
    return {"type": "thinking", "thinking": text, "signature": "sig-" + text[:8].replace(" ", "")}


def session_uuid(name: str) -> str:
    return str(uuid.uuid5(RECORDS_NAMESPACE, f"session:{name}"))


def slug(cwd: str) -> str:
    """Claude Code's project directory name for a cwd."""
    return "".join(c if c.isalnum() else "-" for c in cwd)


def long_text(seed: str, chars: int) -> str:
    """A text long enough to be left in its source line (more than 2048 characters)."""
    words = f"{seed} alpha beta gamma delta epsilon zeta eta theta iota kappa".split()
    out: list[str] = []
    size, i = 0, 0
    while size < chars:
        word = words[i % len(words)]
        out.append(word)
        size += len(word) + 1
        i += 1
    return " ".join(out)[:chars]


# -- a small Claude Code tree -------------------------------------------------


@dataclass
class Session:
    name: str
    path: Path
    conversation: Conversation
    title: str
    cwd: str | None
    branch: str | None

    @property
    def records(self) -> list[dict[str, Any]]:
        return self.conversation.records

    @property
    def created(self) -> datetime:
        return min(parse_ts(r["timestamp"]) for r in self.records if "timestamp" in r)

    @property
    def updated(self) -> datetime:
        return max(parse_ts(r["timestamp"]) for r in self.records if "timestamp" in r)


@dataclass
class ClaudeTree:
    """A Claude home (``<root>/.claude``) and the sessions written under it."""

    root: Path
    sessions: list[Session]

    @property
    def claude_home(self) -> Path:
        return self.root / ".claude"

    @property
    def projects(self) -> Path:
        return self.claude_home / "projects"

    def session(self, name: str) -> Session:
        return next(s for s in self.sessions if s.name == name)

    def newest_first(self) -> list[Session]:
        return sorted(self.sessions, key=lambda s: s.updated, reverse=True)


def build_session(
    projects: Path,
    name: str,
    *,
    cwd: str,
    branch: str,
    start: datetime,
    prompts: list[str],
    title: str | None = None,
) -> Session:
    """A session file: a summary line, a snapshot line, then one exchange per prompt."""
    sid = session_uuid(name)
    convo = Conversation(sid, cwd=cwd, git_branch=branch, start=start)
    convo.summary(f"Summary of {name}")
    convo.add({"type": "file-history-snapshot", "messageId": sid, "snapshot": {}})
    for i, prompt in enumerate(prompts):
        convo.user(prompt)
        convo.assistant(
            thinking(f"Thinking about {name} step {i}."),
            f"Answer {i} for {name}.",
            message_id=f"msg_{name}_{i}",
        )
        convo.tool_turn("Bash", {"command": f"ls step-{i}"}, f"file-{i}.txt\n")
        convo.assistant(f"Done with step {i} of {name}.")
    if title:
        convo.custom_title(title)
    path = convo.write(projects / slug(cwd) / f"{sid}.jsonl")
    first = prompts[0]
    return Session(name, path, convo, title or first, cwd, branch)


def make_claude_tree(root: Path) -> ClaudeTree:
    """Three sessions in two projects, written in an order unlike their time order."""
    projects = root / ".claude" / "projects"
    base = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    sessions = [
        build_session(
            projects,
            "middle",
            cwd=f"{CWD_ROOT}/web-app",
            branch="feature/login",
            start=base + timedelta(days=2),
            prompts=["Add a login form to the web app", "Now validate the email field"],
        ),
        build_session(
            projects,
            "oldest",
            cwd=f"{CWD_ROOT}/web-app",
            branch="main",
            start=base,
            prompts=["Fix the flaky date test"],
        ),
        build_session(
            projects,
            "newest",
            cwd=f"{CWD_ROOT}/cli-tool",
            branch="release-2",
            start=base + timedelta(days=5, hours=3),
            prompts=["Explain the release script", "Shorten it", "Add --dry-run"],
            title="Release script tidy-up",
        ),
    ]
    return ClaudeTree(root, sessions)


@pytest.fixture
def claude_tree(tmp_path: Path) -> ClaudeTree:
    return make_claude_tree(tmp_path / "user-home")
