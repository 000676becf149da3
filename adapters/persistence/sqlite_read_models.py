"""Read-model tables in the store's SQLite file: schema and writes (queries: sqlite_queries)."""

from __future__ import annotations

import sqlite3
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteCursor, SQLiteTrackingRecorder

from threadline.adapters.persistence import usage_tables
from threadline.adapters.persistence.sqlite_lines import SQLiteSourceLines
from threadline.adapters.persistence.sqlite_queries import SCHEMA_VERSION, TRACKING_PREFIX
from threadline.application.history import SourceLines
from threadline.application.projections import LEDGER_COLUMNS, SUMMARY_COLUMNS, THREAD_COLUMNS, Op

TABLES = {
    "threads": [
        """CREATE TABLE IF NOT EXISTS threads (
            thread_id TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            preview TEXT NOT NULL,
            first_user_message TEXT NOT NULL,
            source_agent TEXT NOT NULL,
            source_path TEXT NOT NULL,
            source_session_id TEXT,
            agent_id TEXT,
            cwd TEXT,
            git_branch TEXT,
            git_sha TEXT,
            git_origin TEXT,
            models TEXT NOT NULL,
            created_at TEXT,
            updated_at TEXT,
            item_count INTEGER NOT NULL DEFAULT 0,
            parent_thread_id TEXT,
            spawned_by_call_id TEXT,
            archived INTEGER NOT NULL DEFAULT 0)""",
        # The thread list's two orders (application/read_queries.py, thread_list_sql).
        "CREATE INDEX IF NOT EXISTS threads_by_updated"
        " ON threads (coalesce(updated_at, created_at, ''), thread_id)",
        "CREATE INDEX IF NOT EXISTS threads_by_created"
        " ON threads (coalesce(created_at, updated_at, ''), thread_id)",
        "CREATE INDEX IF NOT EXISTS threads_by_parent ON threads (parent_thread_id)",
        """CREATE TABLE IF NOT EXISTS spawns (
            parent_thread_id TEXT NOT NULL,
            agent_id TEXT NOT NULL,
            call_id TEXT NOT NULL,
            PRIMARY KEY (parent_thread_id, agent_id)) WITHOUT ROWID""",
    ],
    "history": [
        """CREATE TABLE IF NOT EXISTS history (
            thread_id TEXT NOT NULL,
            position INTEGER NOT NULL,
            type TEXT NOT NULL,
            timestamp TEXT,
            notification_id INTEGER NOT NULL,
            item_index INTEGER NOT NULL,
            PRIMARY KEY (thread_id, position)) WITHOUT ROWID""",
    ],
    "ledger": [
        """CREATE TABLE IF NOT EXISTS ledger (
            import_id TEXT PRIMARY KEY,
            source_agent TEXT NOT NULL,
            source_path TEXT NOT NULL,
            thread_id TEXT,
            size INTEGER,
            mtime_ns INTEGER,
            sha256 TEXT,
            consumed_bytes INTEGER,
            consumed_lines INTEGER,
            items INTEGER,
            outcome TEXT,
            problems INTEGER,
            recorded_at TEXT,
            version INTEGER)""",
        "CREATE INDEX IF NOT EXISTS ledger_by_path ON ledger (source_path)",
    ],
}

TABLES["search"] = [
    # No index on thread_id: only a rewrite (rare) deletes by it, and a scan of ~100k
    # rows costs less than keeping an index during a rebuild.
    """CREATE TABLE IF NOT EXISTS search_items (
        id INTEGER PRIMARY KEY,
        thread_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        role TEXT NOT NULL,
        pieces BLOB NOT NULL)""",
    # Contentless: the index keeps no copy of the ~100 MB of text; a query cuts its
    # snippets from each item's pieces (JSON: short texts as they are, long ones as
    # references into source lines, ~17 MB for the many-lines fixture). A row deleted
    # from search_items leaves its words in here, unreachable (a query checks its best
    # rows against search_items), and ids are never given twice (the next id is past
    # the index's highest).
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_text USING fts5("
    "text, content = '', tokenize = 'unicode61 remove_diacritics 2')",
]

CONFIGURE = {
    # FTS5 gathers terms in memory up to this many bytes (default 1 MiB) before it
    # writes a segment: far fewer segments to write and merge (ADR 0007).
    "search": [f"INSERT INTO search_text (search_text, rank) VALUES ('hashsize', {64 << 20})"],
}
"""Run once on tables just made (not on every open, like the CREATE statements)."""

TABLE_NAMES = {
    "threads": ("threads", "spawns"),
    "history": ("history",),
    "ledger": ("ledger",),
    "search": ("search_text", "search_items"),
}

SQL: dict[str, str] = {
    "thread_insert": f"INSERT INTO threads ({', '.join(THREAD_COLUMNS)}) VALUES "
    f"({', '.join(':' + c for c in THREAD_COLUMNS)})",
    "thread_summary": f"UPDATE threads SET {', '.join(f'{c} = :{c}' for c in SUMMARY_COLUMNS)}"
    " WHERE thread_id = :thread_id",
    "thread_count_add": "UPDATE threads SET item_count = item_count + ? WHERE thread_id = ?",
    "thread_count_reset": "UPDATE threads SET item_count = 0 WHERE thread_id = ?",
    "thread_spawned_by": "UPDATE threads SET spawned_by_call_id = ?"
    " WHERE parent_thread_id = ? AND agent_id = ? AND spawned_by_call_id IS NULL",
    "thread_find_spawning_call": "UPDATE threads SET spawned_by_call_id = ("
    "SELECT call_id FROM spawns WHERE spawns.parent_thread_id = threads.parent_thread_id"
    " AND spawns.agent_id = threads.agent_id)"
    " WHERE thread_id = ? AND spawned_by_call_id IS NULL AND agent_id IS NOT NULL",
    "spawn_insert": "INSERT OR IGNORE INTO spawns (parent_thread_id, agent_id, call_id)"
    " VALUES (?, ?, ?)",
    "history_insert": "INSERT INTO history"
    " (thread_id, position, type, timestamp, notification_id, item_index)"
    " VALUES (?, ?, ?, ?, ?, ?)",
    "history_clear": "DELETE FROM history WHERE thread_id = ?",
    "ledger_touch": "UPDATE ledger SET mtime_ns = ? WHERE import_id = ?",
    "ledger_insert": "INSERT INTO ledger (import_id, source_agent, source_path)"
    " VALUES (:import_id, :source_agent, :source_path)",
    "ledger_record": f"UPDATE ledger SET {', '.join(f'{c} = :{c}' for c in LEDGER_COLUMNS)}"
    " WHERE import_id = :import_id",
}
TABLES["usage"], TABLE_NAMES["usage"] = usage_tables.SQLITE_TABLES, usage_tables.NAMES
SQL |= usage_tables.SQLITE_WRITES
_SPECIAL = {"search_insert", "search_clear"}
_MANY = {"history_insert"}
_SCALAR = {"thread_count_reset", "history_clear", "thread_find_spawning_call"}


class SQLiteReadModels(SQLiteTrackingRecorder):
    """The thread list, history and ledger tables, with each projection's position."""

    def create_table(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute("CREATE TABLE IF NOT EXISTS read_model_schema (version INTEGER NOT NULL)")
            c.execute("SELECT max(version) FROM read_model_schema")
            found = c.fetchone()[0]
            if found != SCHEMA_VERSION:
                for tables in TABLE_NAMES.values():
                    for table in tables:
                        c.execute(f"DROP TABLE IF EXISTS {table}")
                c.execute("DELETE FROM read_model_schema")
                c.execute("INSERT INTO read_model_schema VALUES (?)", (SCHEMA_VERSION,))
                self._forget_positions = True
            else:
                self._forget_positions = False
        super().create_table()
        if self._forget_positions:
            with self.datastore.transaction(commit=True) as c:
                for stmts in CONFIGURE.values():
                    for stmt in stmts:
                        c.execute(stmt)
                c.execute(
                    "DELETE FROM tracking WHERE application_name LIKE ?", (TRACKING_PREFIX + "%",)
                )

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            *(stmt for stmts in TABLES.values() for stmt in stmts),
        ]

    # -- writing -------------------------------------------------------------

    def positions(self) -> dict[str, int]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT application_name, notification_id FROM tracking"
                " WHERE application_name LIKE ?",
                (TRACKING_PREFIX + "%",),
            )
            return {r[0].removeprefix(TRACKING_PREFIX): r[1] for r in c.fetchall()}

    def apply(self, ops: list[Op], positions: dict[str, int]) -> None:
        with self.datastore.transaction(commit=True) as c:
            for name, position in positions.items():
                # Refused (IntegrityError, rolling back the rows too) unless it moves forward.
                self._insert_tracking(c, Tracking(TRACKING_PREFIX + name, position))
            _execute(c, ops)

    @contextmanager
    def source_lines(self) -> Iterator[SourceLines]:
        """Source lines read on a read-only connection of their own, closed after the page."""
        path = urllib.parse.quote(self.datastore.pool.db_name)
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            with SQLiteSourceLines(conn) as lines:
                yield lines
        finally:
            conn.close()

    def reset(self, names: Sequence[str]) -> None:
        with self.datastore.transaction(commit=True) as c:
            for name in names:
                # Dropped and made anew: deleting an FTS5 table's rows one by one costs
                # about as much as indexing them.
                for table in TABLE_NAMES[name]:
                    c.execute(f"DROP TABLE IF EXISTS {table}")
                for stmt in (*TABLES[name], *CONFIGURE.get(name, ())):
                    c.execute(stmt)
                c.execute(
                    "DELETE FROM tracking WHERE application_name = ?", (TRACKING_PREFIX + name,)
                )


def _execute(c: SQLiteCursor, ops: list[Op]) -> None:
    """Run the ops in order, batching consecutive runs of the same kind."""
    i = 0
    while i < len(ops):
        name = ops[i][0]
        if name in _SPECIAL:
            _search(c, name, ops[i][1])
            i += 1
            continue
        j = i
        batch: list[Any] = []
        while j < len(ops) and ops[j][0] == name:
            arg = ops[j][1]
            if name in _MANY:
                batch.extend(arg)
            elif name in _SCALAR:
                batch.append((arg,))
            else:
                batch.append(arg)
            j += 1
        c.executemany(SQL[name], batch)
        i = j


def _search(c: SQLiteCursor, name: str, arg: Any) -> None:
    if name == "search_clear":
        # The index keeps the deleted rows' words (a contentless FTS5 table can only
        # forget a row given its text), but they lead to no search_items row any more.
        c.execute("DELETE FROM search_items WHERE thread_id = ?", (arg,))
        return
    c.execute("SELECT rowid FROM search_text ORDER BY rowid DESC LIMIT 1")
    last = c.fetchone()
    first = (last[0] if last else 0) + 1
    c.executemany(
        "INSERT INTO search_items (id, thread_id, position, role, pieces) VALUES (?, ?, ?, ?, ?)",
        [(first + i, *row[:4]) for i, row in enumerate(arg)],
    )
    c.executemany(
        "INSERT INTO search_text (rowid, text) VALUES (?, ?)",
        [(first + i, row[4]) for i, row in enumerate(arg)],
    )
