"""Read-model tables in the store's SQLite file: the DDL, FTS5 search and reset.

The writes are ``read_model_recorder.ReadModelRecorder``'s, the queries
``sqlite_queries``'.
"""

from __future__ import annotations

import sqlite3
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from eventsourcing.sqlite import SQLiteCursor, SQLiteTrackingRecorder

from threadline.adapters.persistence.read_model_recorder import ReadModelRecorder, usage_tables
from threadline.adapters.persistence.read_models import TABLES, TRACKING_PREFIX
from threadline.adapters.persistence.sqlite_lines import SQLiteSourceLines
from threadline.application.history import SourceLines
from threadline.application.row_changes import InsertSearch
from threadline.application.search_words import index_text

DDL = {
    "threads": [
        """CREATE TABLE IF NOT EXISTS threads (
            thread_id TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            title_source TEXT NOT NULL,
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
            archived INTEGER NOT NULL DEFAULT 0,
            conversation_id TEXT,
            continued_from TEXT,
            forked_from TEXT)""",
        # The thread list's two orders (read_models.thread_list_sql).
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
        # Each conversation's thread (ConversationRegistered), for the thread's row.
        """CREATE TABLE IF NOT EXISTS conversations (
            thread_id TEXT PRIMARY KEY,
            conversation_id TEXT NOT NULL,
            conversation_index TEXT NOT NULL UNIQUE) WITHOUT ROWID""",
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
            version INTEGER,
            gone INTEGER NOT NULL DEFAULT 0,
            diverged_from TEXT,
            this_ends_at TEXT,
            other_ends_at TEXT)""",
        "CREATE INDEX IF NOT EXISTS ledger_by_path ON ledger (source_path)",
    ],
}

DDL["usage"] = usage_tables("TEXT", "INTEGER")
DDL["search"] = [
    # No index on thread_id: only a rewrite (rare) deletes by it, and a scan of ~100k
    # rows costs less than keeping an index during a rebuild. ``chars``: the length of the
    # indexed text, by which matches rank (shortest first; ADR 0015).
    """CREATE TABLE IF NOT EXISTS search_items (
        id INTEGER PRIMARY KEY,
        thread_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        role TEXT NOT NULL,
        pieces BLOB NOT NULL,
        chars INTEGER NOT NULL)""",
    # Contentless: the index keeps no copy of the ~100 MB of text; a query cuts its
    # snippets from each item's pieces (JSON: short texts as they are, long ones as
    # references into source lines, ~17 MB for the many-lines fixture). A row deleted
    # from search_items leaves its words in here, unreachable (a query joins
    # search_items), and ids are never given twice (the next id is past the index's
    # highest). ``detail=none``: which rows hold a word, not where nor how often (a
    # quarter of the size, ~15 % less CPU; ADR 0015): a query is every word's tokens,
    # ranked by the item's length.
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_text USING fts5("
    "text, content = '', detail = none, tokenize = 'unicode61 remove_diacritics 2')",
]

CONFIGURE = {
    # FTS5 gathers terms in memory up to this many bytes (default 1 MiB) before it
    # writes a segment: far fewer segments to write and merge (ADR 0007).
    "search": [f"INSERT INTO search_text (search_text, rank) VALUES ('hashsize', {64 << 20})"],
}
"""Run once on tables just made (not on every open, like the CREATE statements)."""


class SQLiteReadModels(ReadModelRecorder, SQLiteTrackingRecorder):
    tables = TABLES | {"search": ("search_text", "search_items")}

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            *(stmt for stmts in DDL.values() for stmt in stmts),
        ]

    def configure_new_tables(self, c: SQLiteCursor) -> None:
        for stmts in CONFIGURE.values():
            for stmt in stmts:
                c.execute(stmt)

    def insert_search(self, c: SQLiteCursor, rows: Iterator[InsertSearch]) -> None:
        """Rows of ``search_items`` and the index's, under the same new ids. The index is
        given each text with its CJK runs as their bigrams (``index_text``)."""
        items = list(rows)
        c.execute("SELECT rowid FROM search_text ORDER BY rowid DESC LIMIT 1")
        last = c.fetchone()
        first = (last[0] if last else 0) + 1
        c.executemany(
            "INSERT INTO search_items (id, thread_id, position, role, pieces, chars)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [(first + i, *row[:4], len(row.text)) for i, row in enumerate(items)],
        )
        c.executemany(
            "INSERT INTO search_text (rowid, text) VALUES (?, ?)",
            [(first + i, index_text(row.text)) for i, row in enumerate(items)],
        )

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
                for table in self.tables[name]:
                    c.execute(f"DROP TABLE IF EXISTS {table}")
                for stmt in (*DDL[name], *CONFIGURE.get(name, ())):
                    c.execute(stmt)
                c.execute(
                    "DELETE FROM tracking WHERE application_name = ?", (TRACKING_PREFIX + name,)
                )
