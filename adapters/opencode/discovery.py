"""Where OpenCode keeps sessions, and finding them.

The data directory (``$XDG_DATA_HOME/opencode``, default ``~/.local/share/opencode``)
holds ``opencode.db`` (SQLite: ``project``, ``session``, ``message``, ``part``) in
current builds and the legacy ``storage/`` JSON tree (``session/<projectID>/
<sessionID>.json``, ``message/<sessionID>/<messageID>.json``, ``part/<messageID>/
<partID>.json``) from before the move to SQLite. A session is one source:

- in the database, ``<canonical opencode.db>#<sessionID>``; its size is the bytes of
  its message and part rows and its mtime the newest ``time_updated`` among them, so
  an unchanged session is skipped without being read;
- in the JSON tree, its session file; size and mtime cover its message and part files.

A session in both (OpenCode copies the tree into the database when it migrates)
is read from the database only.
"""

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple

from threadline.adapters.opencode import AGENT
from threadline.application.sources import Problem, SourceFile

if TYPE_CHECKING:
    import sqlite3

DB_NAME = "opencode.db"
SEPARATOR = "#"


def default_roots(environ: dict[str, str] | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return [os.path.join(base, "opencode")]


class SessionKey(NamedTuple):
    """Where one session's source is: a database and a session id, or a session file.

    A named tuple, not a dataclass: discovery runs on an unchanged re-import, which
    imports nothing it can avoid (ADR 0004)."""

    db: str | None
    session_id: str
    session_file: str | None = None

    @property
    def path(self) -> str:
        if self.db is not None:
            return f"{self.db}{SEPARATOR}{self.session_id}"
        assert self.session_file is not None
        return self.session_file


def parse_source(path: str) -> SessionKey:
    """The session a source path names."""
    if SEPARATOR in os.path.basename(path) and not path.endswith(".json"):
        db, _, session = path.rpartition(SEPARATOR)
        return SessionKey(db=db, session_id=session)
    return SessionKey(
        db=None, session_id=os.path.basename(path).removesuffix(".json"), session_file=path
    )


LOCK_TIMEOUT = 2.0
"""Seconds to wait for a database another process holds locked before giving up on it."""


def connect_read_only(db: str, timeout: float | None = None) -> "sqlite3.Connection":
    """The database opened read-only (OpenCode may be writing it: WAL readers see one
    consistent snapshot per transaction)."""
    import sqlite3

    timeout = LOCK_TIMEOUT if timeout is None else timeout
    uri = "file:" + db.replace("?", "%3f").replace("#", "%23") + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
    conn.row_factory = sqlite3.Row
    return conn


STAT_SQL = """
SELECT s.id AS id,
       max(s.time_updated,
           coalesce((SELECT max(time_updated) FROM message m WHERE m.session_id = s.id), 0),
           coalesce((SELECT max(time_updated) FROM part p WHERE p.session_id = s.id), 0))
         AS updated,
       coalesce((SELECT sum(length(data)) FROM message m WHERE m.session_id = s.id), 0)
       + coalesce((SELECT sum(length(data)) FROM part p WHERE p.session_id = s.id), 0)
         AS size
FROM session s
"""


def db_session_stats(
    conn: "sqlite3.Connection", session_id: str | None = None
) -> dict[str, tuple[int, int]]:
    """session id -> (size, mtime_ns), as discovery and the reader both compute it."""
    sql = STAT_SQL + (" WHERE s.id = ?" if session_id else "")
    rows = conn.execute(sql, (session_id,) if session_id else ()).fetchall()
    return {r["id"]: (int(r["size"] or 0), int(r["updated"] or 0) * 1_000_000) for r in rows}


def tree_session_stat(storage: str, session_file: str, session_id: str) -> tuple[int, int]:
    """(size, mtime_ns) of a JSON-tree session: its file, its messages and their parts."""
    size, mtime = 0, 0
    for path in _tree_files(storage, session_file, session_id):
        try:
            st = os.stat(path)
        except OSError:
            continue
        size += st.st_size
        mtime = max(mtime, st.st_mtime_ns)
    return size, mtime


def tree_dir(storage: str, kind: str, key: str) -> str:
    """``storage/<kind>/<key>``, or the older ``storage/session/<kind>/<key>`` layout."""
    current = os.path.join(storage, kind, key)
    older = os.path.join(storage, "session", kind, key)
    return older if not os.path.isdir(current) and os.path.isdir(older) else current


def _tree_files(storage: str, session_file: str, session_id: str) -> Iterable[str]:
    yield session_file
    messages = tree_dir(storage, "message", session_id)
    for name in _names(messages):
        if name.endswith(".json"):
            yield os.path.join(messages, name)
            parts = tree_dir(storage, "part", name.removesuffix(".json"))
            for part in _names(parts):
                if part.endswith(".json"):
                    yield os.path.join(parts, part)


def _names(directory: str) -> list[str]:
    try:
        return sorted(os.listdir(directory))
    except OSError:
        return []


def recognises(path: str) -> bool:
    """A path shaped like OpenCode's: its data directory (``opencode.db`` or
    ``storage/session/`` in it), the database, one session in it (``opencode.db#ses_…``),
    the ``storage`` tree or a session file in it."""
    path = os.path.abspath(os.path.expanduser(path))
    if os.path.isdir(path):
        return (
            os.path.isfile(os.path.join(path, DB_NAME))
            or os.path.isdir(os.path.join(path, "storage", "session"))
            or (
                os.path.basename(path) == "storage" and os.path.isdir(os.path.join(path, "session"))
            )
        )
    name = os.path.basename(path)
    return (
        name == DB_NAME
        or (SEPARATOR in name and name.rpartition(SEPARATOR)[0].endswith(".db"))
        or (name.endswith(".json") and f"{os.sep}storage{os.sep}session{os.sep}" in path)
    )


def conversation_of(path: str) -> str | None:
    """The conversation a source holds, by OpenCode's own id: its session id (ADR 0011)."""
    return parse_source(path).session_id or None


def is_gone(path: str) -> bool:
    """A location the ledger knows that is no longer there: a session file removed, or a
    session no longer in its database (a database that cannot be read is not gone)."""
    key = parse_source(path)
    if key.db is None:
        return not os.path.lexists(path)
    if not os.path.exists(key.db):
        return True
    import sqlite3

    try:
        conn = connect_read_only(key.db)
        try:
            row = conn.execute("SELECT 1 FROM session WHERE id = ?", (key.session_id,)).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return False
    return row is None


def discover(paths: Iterable[str]) -> tuple[list[SourceFile], list[Problem]]:
    found: dict[str, SourceFile] = {}
    problems: list[Problem] = []
    for given in paths:
        path = os.path.abspath(os.path.expanduser(given))
        if SEPARATOR in os.path.basename(path) and os.path.isfile(path.rpartition(SEPARATOR)[0]):
            key = parse_source(
                os.path.realpath(path.rpartition(SEPARATOR)[0])
                + SEPARATOR
                + path.rpartition(SEPARATOR)[2]
            )
            _db_sessions(key.db or "", found, problems, only=key.session_id)
            continue
        if not os.path.exists(path):
            problems.append(Problem(path, 0, "no such file or directory"))
            continue
        path = os.path.realpath(path)
        if os.path.isfile(path):
            if path.endswith(".json") and f"{os.sep}storage{os.sep}session{os.sep}" in path:
                storage = path.split(f"{os.sep}session{os.sep}")[0]
                _tree_session(storage, path, found)
            else:
                _db_sessions(path, found, problems)
            continue
        db = os.path.join(path, DB_NAME)
        storage = os.path.join(path, "storage") if os.path.basename(path) != "storage" else path
        in_db: set[str] = set()
        if os.path.isfile(db):
            in_db = _db_sessions(db, found, problems)
        elif os.path.lexists(db):
            problems.append(Problem(db, 0, "not a regular file"))
        sessions = os.path.join(storage, "session")
        if os.path.isdir(sessions):
            for project in _names(sessions):
                directory = os.path.join(sessions, project)
                if not os.path.isdir(directory) or project in ("message", "part"):
                    continue  # the older layout keeps messages and parts in session/
                for name in _names(directory):
                    if name.endswith(".json") and name.removesuffix(".json") not in in_db:
                        _tree_session(storage, os.path.join(directory, name), found)
    return sorted(found.values(), key=lambda s: s.path), problems


def _db_sessions(
    db: str, found: dict[str, SourceFile], problems: list[Problem], only: str | None = None
) -> set[str]:
    import sqlite3

    try:
        conn = connect_read_only(db)
        try:
            stats = db_session_stats(conn, only)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        problems.append(Problem(db, 0, f"cannot read the OpenCode database: {exc}"))
        return set()
    for session_id, (size, mtime_ns) in stats.items():
        key = SessionKey(db=db, session_id=session_id)
        found.setdefault(key.path, SourceFile(AGENT, key.path, size, mtime_ns))
    return set(stats)


def _tree_session(storage: str, session_file: str, found: dict[str, SourceFile]) -> None:
    session_id = os.path.basename(session_file).removesuffix(".json")
    size, mtime_ns = tree_session_stat(storage, session_file, session_id)
    found.setdefault(session_file, SourceFile(AGENT, session_file, size, mtime_ns))
