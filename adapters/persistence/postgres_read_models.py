"""Read-model tables in the PostgreSQL store: the DDL, bulk COPY, ``tsvector`` search, reset.

The writes are ``read_model_recorder.ReadModelRecorder``'s, the queries
``postgres_queries``'. PostgreSQL's own tools: COPY for the bulk rows, and a
``tsvector`` column of each item's distinct words with a GIN index for full-text
search. Text columns sort bytewise (``COLLATE "C"``), as SQLite's do, so that both
stores page the thread list alike.
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
from threadline.application.search_words import distinct_words

TEXT = 'TEXT COLLATE "C"'
TSVECTOR_BYTES = 1_000_000
"""A row's ``tsvector`` holds at most this many bytes of words (PostgreSQL's limit is
1 MiB): an item of more distinct words has them in several rows (chunks)."""

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
        # As SQLite's search_items (ADR 0015): the item, its pieces (JSON: short texts,
        # or SourceRefs into source lines) from which a query cuts its snippets, and its
        # text's length, by which matches rank (shortest first); no copy of the text.
        # ``words``: the item's distinct words (``search_words``), no positions. Nearly
        # every item is one row; one of more distinct words than a ``tsvector`` holds
        # has them in several (``chunk`` of ``chunks``).
        f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.search_items (
            thread_id {TEXT} NOT NULL,
            position BIGINT NOT NULL,
            chunk INTEGER NOT NULL,
            chunks INTEGER NOT NULL,
            role {TEXT} NOT NULL,
            pieces BYTEA NOT NULL,
            chars BIGINT NOT NULL,
            words TSVECTOR NOT NULL,
            PRIMARY KEY (thread_id, position, chunk))""",
        f"CREATE INDEX IF NOT EXISTS search_items_words ON {SCHEMA}.search_items USING gin (words)",
        # The few items of several rows, for a query whose words are in different rows.
        f"CREATE INDEX IF NOT EXISTS search_items_words_long ON {SCHEMA}.search_items"
        " USING gin (words) WHERE chunks > 1",
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

    def configure_new_tables(self, c: Cursor[Any]) -> None:
        """Long ``pieces`` and ``words`` compressed with lz4 rather than pglz: a third less
        of the server's CPU for them, and a little smaller (ADR 0009). A server built
        without lz4 keeps its default."""
        c.execute(
            "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression'"
            " AND 'lz4' = ANY(enumvals)"
        )
        if c.fetchone() is not None:
            for column in ("pieces", "words"):
                c.execute(
                    f"ALTER TABLE {SCHEMA}.search_items ALTER COLUMN {column} SET COMPRESSION lz4"
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
        """Each item's distinct words (found here, ``search_words``) as a ``tsvector``, in
        PostgreSQL's text form: the words, letters and digits only, between spaces. Not
        PostgreSQL's parser (``to_tsvector``: 7-15x the import without the index, ADR
        0015), nor a ``text[]`` for ``array_to_tsvector`` (dearer to send)."""
        copy_sql = (
            f"COPY {SCHEMA}.search_items"
            " (thread_id, position, chunk, chunks, role, pieces, chars, words) FROM STDIN"
        )
        with c.copy(copy_sql) as cp:
            for thread_id, position, role, pieces, text in rows:
                thread_id, role = (v.replace("\x00", "") for v in (thread_id, role))
                chunks = word_chunks(distinct_words(text))
                for chunk, words in enumerate(chunks):
                    row = (thread_id, position, chunk, len(chunks), role, pieces, len(text), words)
                    cp.write_row(row)

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


def word_chunks(words: set[bytes]) -> list[str]:
    """``words`` as ``tsvector`` texts of at most ``TSVECTOR_BYTES`` each: one, but for an
    item of very many distinct words (none in the fixtures: at most 2.6 KB of words)."""
    if sum(map(len, words)) + len(words) <= TSVECTOR_BYTES:
        return [b" ".join(words).decode()]
    chunks, chunk, size = [], list[bytes](), 0
    for word in words:
        if size + len(word) + 1 > TSVECTOR_BYTES:
            chunks.append(b" ".join(chunk).decode())
            chunk, size = [], 0
        chunk.append(word)
        size += len(word) + 1
    return [*chunks, b" ".join(chunk).decode()]
