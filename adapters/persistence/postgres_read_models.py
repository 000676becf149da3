"""Read-model tables in the PostgreSQL store: the DDL, bulk COPY, ``tsvector`` search, reset.

The writes are ``read_model_recorder.ReadModelRecorder``'s, the queries
``postgres_queries``'. PostgreSQL's own tools: COPY for the bulk rows, and a
``tsvector`` column with a GIN index for full-text search. Text columns sort
bytewise (``COLLATE "C"``), as SQLite's do, so that both stores page the thread
list alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from psycopg import Cursor
from psycopg.sql import SQL

from threadline.adapters.persistence.postgres import PostgresBlobStore
from threadline.adapters.persistence.postgres_connection import SCHEMA
from threadline.adapters.persistence.read_model_recorder import (
    ReadModelRecorder,
    usage_tables,
    write_statements,
)
from threadline.adapters.persistence.read_models import TRACKING_PREFIX
from threadline.application.history import SourceLines
from threadline.application.row_changes import InsertHistory, InsertSearch, RowChange

TEXT = 'TEXT COLLATE "C"'
SEARCH_CHUNK_CHARS = 65536
"""Search text is indexed in rows of at most this many characters: a ``tsvector``
holds at most 1 MB, and a tool output can be far longer."""
WORD_BREAK_WINDOW = 1024
"""A row ends at the last character that is not a letter or digit within this many
characters of its limit (so no word is cut in two), else at the limit."""

DDL = {
    "threads": [
        f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.threads (
            thread_id {TEXT} PRIMARY KEY,
            title {TEXT} NOT NULL,
            title_source {TEXT} NOT NULL,
            preview {TEXT} NOT NULL,
            first_user_message {TEXT} NOT NULL,
            source_agent {TEXT} NOT NULL,
            source_path {TEXT} NOT NULL,
            source_session_id {TEXT},
            agent_id {TEXT},
            cwd {TEXT},
            git_branch {TEXT},
            git_sha {TEXT},
            git_origin {TEXT},
            models {TEXT} NOT NULL,
            created_at {TEXT},
            updated_at {TEXT},
            item_count BIGINT NOT NULL DEFAULT 0,
            parent_thread_id {TEXT},
            spawned_by_call_id {TEXT},
            archived INTEGER NOT NULL DEFAULT 0,
            conversation_id {TEXT},
            continued_from {TEXT},
            forked_from {TEXT})""",
        f"CREATE INDEX IF NOT EXISTS threads_by_updated"
        f" ON {SCHEMA}.threads ((coalesce(updated_at, created_at, '')), thread_id)",
        f"CREATE INDEX IF NOT EXISTS threads_by_created"
        f" ON {SCHEMA}.threads ((coalesce(created_at, updated_at, '')), thread_id)",
        f"CREATE INDEX IF NOT EXISTS threads_by_parent ON {SCHEMA}.threads (parent_thread_id)",
        f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.spawns (
            parent_thread_id {TEXT} NOT NULL,
            agent_id {TEXT} NOT NULL,
            call_id {TEXT} NOT NULL,
            PRIMARY KEY (parent_thread_id, agent_id))""",
        f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.conversations (
            thread_id {TEXT} PRIMARY KEY,
            conversation_id {TEXT} NOT NULL,
            conversation_index {TEXT} NOT NULL UNIQUE)""",
    ],
    "history": [
        f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.history (
            thread_id {TEXT} NOT NULL,
            position BIGINT NOT NULL,
            type {TEXT} NOT NULL,
            timestamp {TEXT},
            notification_id BIGINT NOT NULL,
            item_index INTEGER NOT NULL,
            PRIMARY KEY (thread_id, position))""",
    ],
    "ledger": [
        f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.ledger (
            import_id {TEXT} PRIMARY KEY,
            source_agent {TEXT} NOT NULL,
            source_path {TEXT} NOT NULL,
            thread_id {TEXT},
            size BIGINT,
            mtime_ns BIGINT,
            sha256 {TEXT},
            consumed_bytes BIGINT,
            consumed_lines BIGINT,
            items BIGINT,
            outcome {TEXT},
            problems BIGINT,
            recorded_at {TEXT},
            version BIGINT,
            gone INTEGER NOT NULL DEFAULT 0,
            diverged_from {TEXT},
            this_ends_at {TEXT},
            other_ends_at {TEXT})""",
        f"CREATE INDEX IF NOT EXISTS ledger_by_path ON {SCHEMA}.ledger (source_path)",
    ],
    "usage": usage_tables(TEXT, "BIGINT", f"{SCHEMA}."),
    "search": [
        f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.search_items (
            thread_id {TEXT} NOT NULL,
            position BIGINT NOT NULL,
            chunk INTEGER NOT NULL,
            chunks INTEGER NOT NULL,
            role {TEXT} NOT NULL,
            text TEXT NOT NULL,
            tsv TSVECTOR GENERATED ALWAYS AS (
                to_tsvector('simple', regexp_replace(text, '[^[:alnum:]]+', ' ', 'g'))) STORED,
            PRIMARY KEY (thread_id, position, chunk))""",
        f"CREATE INDEX IF NOT EXISTS search_items_tsv ON {SCHEMA}.search_items USING gin (tsv)",
        # The few items of several rows, for a query whose words are in different rows.
        f"CREATE INDEX IF NOT EXISTS search_items_tsv_long ON {SCHEMA}.search_items"
        " USING gin (tsv) WHERE chunks > 1",
    ],
}


class PostgresReadModels(ReadModelRecorder, PostgresTrackingRecorder):
    mark = "%s"
    prefix = f"{SCHEMA}."
    statements = write_statements(mark, prefix)

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.tracking_table = f"{SCHEMA}.{self.tracking_table_name}"
        self.sql_create_statements.extend(
            SQL(statement).format()  # type: ignore[arg-type]
            for statements in DDL.values()
            for statement in statements
        )

    def values(self, changes: Iterable[RowChange]) -> list[Sequence[Any]]:
        """PostgreSQL text cannot hold NUL; the event keeps the exact value, the row drops it."""
        return [
            tuple(v.replace("\x00", "") if isinstance(v, str) else v for v in change)
            for change in changes
        ]

    def insert_history(self, c: Cursor[Any], rows: Iterator[InsertHistory]) -> None:
        columns = ", ".join(InsertHistory._fields)
        with c.copy(f"COPY {SCHEMA}.history ({columns}) FROM STDIN") as cp:
            for row in self.values(rows):
                cp.write_row(row)

    def insert_search(self, c: Cursor[Any], rows: Iterator[InsertSearch]) -> None:
        """Index each item's text (the projection resolved it), in rows of at most
        ``SEARCH_CHUNK_CHARS`` cut between words; the text is kept, for snippets."""
        copy_sql = (
            f"COPY {SCHEMA}.search_items (thread_id, position, chunk, chunks, role, text)"
            " FROM STDIN"
        )
        with c.copy(copy_sql) as cp:
            for thread_id, position, role, _pieces, text in self.values(rows):
                pieces = search_chunks(text)
                for chunk, piece in enumerate(pieces):
                    cp.write_row((thread_id, position, chunk, len(pieces), role, piece))

    @contextmanager
    def source_lines(self) -> Iterator[SourceLines]:
        """Source lines read from the blob table, a few pages cached, for one page."""
        yield SourceLines(PostgresBlobStore(self.datastore), cached_pages=8)

    def reset(self, names: Sequence[str]) -> None:
        with self.datastore.transaction(commit=True) as c:
            # The positions' rows first, as ``apply`` locks them: a catch-up running
            # meanwhile waits for the reset instead of deadlocking with it.
            c.execute(
                f"SELECT 1 FROM {self.tracking_table} WHERE application_name = ANY(%s)"
                " ORDER BY application_name FOR UPDATE",
                ([TRACKING_PREFIX + n for n in names],),
            )
            for name in names:
                for table in self.tables[name]:
                    c.execute(f"TRUNCATE {SCHEMA}.{table}")
                c.execute(
                    f"DELETE FROM {self.tracking_table} WHERE application_name = %s",
                    (TRACKING_PREFIX + name,),
                )


def search_chunks(text: str) -> list[str]:
    """``text`` in pieces of at most ``SEARCH_CHUNK_CHARS``, each ending after a character
    that is not a letter or digit where one is near its end (the index splits words there)."""
    if len(text) <= SEARCH_CHUNK_CHARS:
        return [text] if text else []
    pieces = []
    start = 0
    while len(text) - start > SEARCH_CHUNK_CHARS:
        end = start + SEARCH_CHUNK_CHARS
        for cut in range(end - 1, end - 1 - WORD_BREAK_WINDOW, -1):
            if not text[cut].isalnum():
                end = cut + 1
                break
        pieces.append(text[start:end])
        start = end
    pieces.append(text[start:])
    return pieces
