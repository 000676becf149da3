"""Read-model tables in the PostgreSQL store: schema and writes (queries: postgres_queries).

The same projections and row changes as the SQLite store (``sqlite_read_models``),
with PostgreSQL's own tools: COPY for the bulk rows, and a ``tsvector`` column
with a GIN index for full-text search. Text columns sort bytewise (``COLLATE
"C"``), as SQLite's do, so that both stores page the thread list alike. Each
page's rows and the projections' positions commit in one transaction, through
the library's tracking table.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from psycopg import Cursor
from psycopg.sql import SQL

from threadline.adapters.persistence import usage_tables
from threadline.adapters.persistence.postgres import PostgresBlobStore
from threadline.adapters.persistence.postgres_connection import SCHEMA
from threadline.adapters.persistence.sqlite_queries import SCHEMA_VERSION, TRACKING_PREFIX
from threadline.application.history import SourceLines
from threadline.application.projections import LEDGER_COLUMNS, SUMMARY_COLUMNS, THREAD_COLUMNS, Op

TEXT = 'TEXT COLLATE "C"'
SEARCH_CHUNK_CHARS = 65536
"""Search text is indexed in rows of at most this many characters: a ``tsvector``
holds at most 1 MB, and a tool output can be far longer."""
WORD_BREAK_WINDOW = 1024
"""A row ends at the last character that is not a letter or digit within this many
characters of its limit (so no word is cut in two), else at the limit."""

TABLES = {
    "threads": [
        f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.threads (
            thread_id {TEXT} PRIMARY KEY,
            title {TEXT} NOT NULL,
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
            archived INTEGER NOT NULL DEFAULT 0)""",
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
            version BIGINT)""",
        f"CREATE INDEX IF NOT EXISTS ledger_by_path ON {SCHEMA}.ledger (source_path)",
    ],
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
TABLE_NAMES = {
    "threads": ("threads", "spawns"),
    "history": ("history",),
    "ledger": ("ledger",),
    "search": ("search_items",),
}

_HISTORY_COLUMNS = ("thread_id", "position", "type", "timestamp", "notification_id", "item_index")


def _set(columns: Sequence[str]) -> str:
    return ", ".join(f"{c} = %({c})s" for c in columns)


SQL_BY_OP: dict[str, str] = {
    "thread_insert": f"INSERT INTO {SCHEMA}.threads ({', '.join(THREAD_COLUMNS)}) VALUES "
    f"({', '.join(f'%({c})s' for c in THREAD_COLUMNS)})",
    "thread_summary": f"UPDATE {SCHEMA}.threads SET {_set(SUMMARY_COLUMNS)}"
    " WHERE thread_id = %(thread_id)s",
    "thread_count_add": f"UPDATE {SCHEMA}.threads SET item_count = item_count + %s"
    " WHERE thread_id = %s",
    "thread_count_reset": f"UPDATE {SCHEMA}.threads SET item_count = 0 WHERE thread_id = %s",
    "thread_spawned_by": f"UPDATE {SCHEMA}.threads SET spawned_by_call_id = %s"
    " WHERE parent_thread_id = %s AND agent_id = %s AND spawned_by_call_id IS NULL",
    "thread_find_spawning_call": f"UPDATE {SCHEMA}.threads t SET spawned_by_call_id = ("
    f"SELECT call_id FROM {SCHEMA}.spawns s WHERE s.parent_thread_id = t.parent_thread_id"
    " AND s.agent_id = t.agent_id)"
    " WHERE t.thread_id = %s AND t.spawned_by_call_id IS NULL AND t.agent_id IS NOT NULL",
    "spawn_insert": f"INSERT INTO {SCHEMA}.spawns (parent_thread_id, agent_id, call_id)"
    " VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
    "history_clear": f"DELETE FROM {SCHEMA}.history WHERE thread_id = %s",
    "ledger_touch": f"UPDATE {SCHEMA}.ledger SET mtime_ns = %s WHERE import_id = %s",
    "ledger_insert": f"INSERT INTO {SCHEMA}.ledger (import_id, source_agent, source_path)"
    " VALUES (%(import_id)s, %(source_agent)s, %(source_path)s)",
    "ledger_record": f"UPDATE {SCHEMA}.ledger SET {_set(LEDGER_COLUMNS)}"
    " WHERE import_id = %(import_id)s",
    "search_clear": f"DELETE FROM {SCHEMA}.search_items WHERE thread_id = %s",
}
_SCALAR = {"thread_count_reset", "history_clear", "thread_find_spawning_call", "search_clear"}
TABLES["usage"], TABLE_NAMES["usage"] = usage_tables.postgres_tables(SCHEMA), usage_tables.NAMES
SQL_BY_OP |= usage_tables.postgres_writes(SCHEMA)


class PostgresReadModels(PostgresTrackingRecorder):
    """The thread list, history, ledger and search tables, with each projection's position."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.tracking_table = f"{SCHEMA}.{self.tracking_table_name}"
        self.sql_create_statements.extend(
            SQL(statement).format()  # type: ignore[arg-type]
            for statements in TABLES.values()
            for statement in statements
        )

    def create_table(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {SCHEMA}.read_model_schema (version INTEGER NOT NULL)"
            )
            c.execute(f"SELECT max(version) AS version FROM {SCHEMA}.read_model_schema")
            row = c.fetchone()
            outdated = row is None or row["version"] != SCHEMA_VERSION
            if outdated:
                for tables in TABLE_NAMES.values():
                    for table in tables:
                        c.execute(f"DROP TABLE IF EXISTS {SCHEMA}.{table}")
                c.execute(f"DELETE FROM {SCHEMA}.read_model_schema")
                c.execute(f"INSERT INTO {SCHEMA}.read_model_schema VALUES (%s)", (SCHEMA_VERSION,))
        super().create_table()
        if outdated:
            with self.datastore.transaction(commit=True) as c:
                c.execute(
                    f"DELETE FROM {self.tracking_table} WHERE application_name LIKE %s",
                    (TRACKING_PREFIX + "%",),
                )

    # -- writing -------------------------------------------------------------

    def positions(self) -> dict[str, int]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT application_name, notification_id FROM {self.tracking_table}"
                " WHERE application_name LIKE %s",
                (TRACKING_PREFIX + "%",),
            )
            return {
                r["application_name"].removeprefix(TRACKING_PREFIX): r["notification_id"]
                for r in c.fetchall()
            }

    def apply(self, ops: list[Op], positions: dict[str, int]) -> None:
        with self.datastore.transaction(commit=True) as c:
            for name, position in sorted(positions.items()):
                # Refused (IntegrityError, rolling back the rows too) unless it moves forward.
                self._insert_tracking(c, Tracking(TRACKING_PREFIX + name, position))
            _execute(c, ops)

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
                for table in TABLE_NAMES[name]:
                    c.execute(f"TRUNCATE {SCHEMA}.{table}")
                c.execute(
                    f"DELETE FROM {self.tracking_table} WHERE application_name = %s",
                    (TRACKING_PREFIX + name,),
                )


def _execute(c: Cursor[Any], ops: list[Op]) -> None:
    """Run the ops in order, batching consecutive runs of the same kind."""
    i = 0
    while i < len(ops):
        name = ops[i][0]
        j = i
        while j < len(ops) and ops[j][0] == name:
            j += 1
        args = [_without_nul(op[1]) for op in ops[i:j]]
        if name == "history_insert":
            with c.copy(f"COPY {SCHEMA}.history ({', '.join(_HISTORY_COLUMNS)}) FROM STDIN") as cp:
                for rows in args:
                    for row in rows:
                        cp.write_row(row)
        elif name == "search_insert":
            _search_insert(c, [row for rows in args for row in rows])
        else:
            c.executemany(SQL_BY_OP[name], [(a,) for a in args] if name in _SCALAR else args)
        i = j


def _without_nul(value: Any) -> Any:
    """PostgreSQL text cannot hold NUL; the event keeps the exact value, the row drops it."""
    if isinstance(value, str):
        return value.replace("\x00", "")  # the same object back when there is none
    if isinstance(value, dict):
        return {k: _without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_without_nul(v) for v in value)
    return value


def _search_insert(c: Cursor[Any], rows: list[tuple[str, int, str, bytes, str]]) -> None:
    """Index each item's text (the projection resolved it), in rows of at most
    ``SEARCH_CHUNK_CHARS`` cut between words; the text is kept, for snippets."""
    copy_sql = (
        f"COPY {SCHEMA}.search_items (thread_id, position, chunk, chunks, role, text) FROM STDIN"
    )
    with c.copy(copy_sql) as cp:
        for thread_id, position, role, _pieces, text in rows:
            pieces = search_chunks(text)
            for chunk, piece in enumerate(pieces):
                cp.write_row((thread_id, position, chunk, len(pieces), role, piece))


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
