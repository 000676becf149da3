"""Store upkeep: compress the blobs an older release stored raw, and give disk back.

SQLite never shrinks its file by itself, and PostgreSQL's plain VACUUM keeps
the freed pages in the table: after blobs are compressed in place (or a history
replaced) only SQLite's ``VACUUM`` or PostgreSQL's ``VACUUM FULL`` returns the
space. Both rewrite the tables and lock them while they do. SQLite's rewrite also
gives a file made with other pages the page size new stores get (ADR 0015).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from threadline.adapters.persistence.compression import MAGIC, encode_blob

if TYPE_CHECKING:
    from threadline.adapters.store import Store

BATCH_BYTES = 64 * 1024 * 1024
"""Raw blobs compressed per transaction."""


@dataclass(frozen=True)
class VacuumReport:
    compressed_blobs: int
    bytes_before: int
    bytes_after: int
    page_size_before: int | None = None
    page_size_after: int | None = None
    """SQLite's page size before and after (None on PostgreSQL)."""


def vacuum(store: Store) -> VacuumReport:
    if store.location.database_url is None:
        return _vacuum_sqlite(store)
    return _vacuum_postgres(store, store.location.database_url)


def _sqlite_bytes(path: str) -> int:
    return sum(os.path.getsize(p) for p in (path, f"{path}-wal") if os.path.exists(p))


def _vacuum_sqlite(store: Store) -> VacuumReport:
    from threadline.adapters.persistence.sqlite import SQLiteBlobStore, creation_lock

    blobs = store.blobs
    assert isinstance(blobs, SQLiteBlobStore)
    path = blobs.datastore.pool.db_name
    before = _sqlite_bytes(path)
    with blobs.datastore.transaction(commit=False) as c:
        c.execute("SELECT key FROM blobs WHERE substr(data, 1, ?) != ?", (len(MAGIC), MAGIC))
        raw_keys = [key for (key,) in c.fetchall()]
    _compress_in_batches(raw_keys, blobs.stored, blobs.datastore.transaction, "?")
    # The store's own connections would keep the file in WAL mode: the rewrite needs
    # it alone to change the page size. The creation lock keeps new openers waiting.
    blobs.datastore.close()
    with creation_lock(store.location.home):
        conn = sqlite3.connect(path, isolation_level=None, timeout=60)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            (page_size,) = conn.execute("PRAGMA page_size").fetchone()
            _rewrite(conn)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            (new_page_size,) = conn.execute("PRAGMA page_size").fetchone()
        finally:
            conn.close()
    return VacuumReport(len(raw_keys), before, _sqlite_bytes(path), page_size, new_page_size)


def _rewrite(conn: sqlite3.Connection) -> None:
    """``VACUUM``, at the page size of new stores if the file has another one.

    SQLite changes the page size of a WAL file only out of WAL mode, which takes the
    file for itself: if another process has the store open, it keeps its pages.
    """
    from threadline.adapters.persistence.sqlite import PAGE_SIZE

    (page_size,) = conn.execute("PRAGMA page_size").fetchone()
    if page_size != PAGE_SIZE:
        conn.execute("PRAGMA busy_timeout=0")
        try:
            left_wal = conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0] == "delete"
        except sqlite3.OperationalError:  # locked: another process has the store open
            left_wal = False
        finally:
            conn.execute("PRAGMA busy_timeout=60000")
        if left_wal:
            try:
                conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
                conn.execute("VACUUM")
            finally:
                conn.execute("PRAGMA journal_mode=WAL")
            return
    conn.execute("VACUUM")


def _compress_in_batches(
    keys: list[str],
    stored: Callable[[str], bytes],
    transaction: Callable[..., AbstractContextManager[Any]],
    mark: str,
) -> None:
    """Each raw blob of ``keys`` encoded in place, ~64 MiB of them per transaction."""
    table = "blobs" if mark == "?" else "threadline.blobs"
    batch: list[tuple[bytes, str]] = []
    size = 0

    def flush() -> None:
        nonlocal size
        with transaction(commit=True) as c:
            for data, key in batch:
                c.execute(f"UPDATE {table} SET data = {mark} WHERE key = {mark}", (data, key))
        batch.clear()
        size = 0

    for key in keys:
        raw = stored(key)
        if raw[: len(MAGIC)] == MAGIC:  # encoded meanwhile (or a raw one upgraded on open)
            continue
        batch.append((encode_blob(raw), key))
        size += len(raw)
        if size >= BATCH_BYTES:
            flush()
    if batch:
        flush()


def _vacuum_postgres(store: Store, url: str) -> VacuumReport:
    from threadline.adapters.persistence.postgres import PostgresBlobStore
    from threadline.adapters.persistence.postgres_connection import SCHEMA, connect

    blobs = store.blobs
    assert isinstance(blobs, PostgresBlobStore)
    sizes = (
        "SELECT coalesce(sum(pg_total_relation_size("
        "quote_ident(schemaname) || '.' || quote_ident(tablename))), 0)"
        " FROM pg_tables WHERE schemaname = %s"
    )
    with connect(url, autocommit=True) as conn:
        before = int(conn.execute(sizes, (SCHEMA,)).fetchone()[0])  # type: ignore[index]
        rows = conn.execute(
            f"SELECT key FROM {SCHEMA}.blobs WHERE substring(data from 1 for %s) <> %s",
            (len(MAGIC), MAGIC),
        ).fetchall()
    raw_keys = [r[0] for r in rows]
    _compress_in_batches(raw_keys, blobs.stored, blobs.datastore.transaction, "%s")
    with connect(url, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename", (SCHEMA,)
        ).fetchall()
        for (table,) in tables:
            conn.execute(f'VACUUM FULL {SCHEMA}."{table}"')
        after = int(conn.execute(sizes, (SCHEMA,)).fetchone()[0])  # type: ignore[index]
    return VacuumReport(len(raw_keys), before, after)
