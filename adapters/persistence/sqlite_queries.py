"""Queries over the read models, on a read-only connection to the store's file.

Deliberately light (sqlite3 and nothing else) so that a read command starts
fast: it never loads the event-sourcing stack unless the read models are
behind the events and need to catch up first.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from typing import Any

DB_FILENAME = "threadline.db"
TRACKING_PREFIX = "projection:"
"""Read models' rows in the library's tracking table are named with this prefix."""
SCHEMA_VERSION = 2
"""Bump when a read model's tables change: older tables are dropped and rebuilt from events."""


class StoreNotFoundError(Exception):
    pass


class ReadModelQueries:
    def __init__(self, home: str) -> None:
        path = os.path.join(home, DB_FILENAME)
        if not os.path.exists(path):
            raise StoreNotFoundError(f"no store in {home} yet")
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        self.conn.row_factory = sqlite3.Row

    def close(self) -> None:
        self.conn.close()

    def is_behind(self) -> bool:
        """True when some read model has not yet seen every stored event, or is outdated."""
        try:
            if self._scalar("SELECT max(version) FROM read_model_schema") != SCHEMA_VERSION:
                return True
            newest = self._scalar("SELECT max(rowid) FROM stored_events") or 0
            positions = [
                r[0]
                for r in self.conn.execute(
                    "SELECT notification_id FROM tracking WHERE application_name LIKE ?",
                    (TRACKING_PREFIX + "%",),
                )
            ]
        except sqlite3.OperationalError:  # tables not created yet
            return True
        return newest > 0 and (not positions or min(positions) < newest)

    def threads(self, limit: int | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM threads ORDER BY coalesce(updated_at, created_at, '') DESC, thread_id"
        params: tuple[Any, ...] = ()
        if limit is not None:
            sql += " LIMIT ?"
            params = (limit,)
        return self._select(sql, params)

    def thread(self, thread_id: str) -> dict[str, Any] | None:
        found = self._select("SELECT * FROM threads WHERE thread_id = ?", (thread_id,))
        return found[0] if found else None

    def find_threads(self, prefix: str) -> list[str]:
        rows = self._select(
            "SELECT thread_id FROM threads WHERE thread_id LIKE ? LIMIT 2", (prefix + "%",)
        )
        return [r["thread_id"] for r in rows]

    def history(self, thread_id: str) -> list[dict[str, Any]]:
        return self._select(
            "SELECT position, type, timestamp, notification_id, item_index FROM history"
            " WHERE thread_id = ? ORDER BY position",
            (thread_id,),
        )

    def event_states(self, notification_ids: Sequence[int]) -> dict[int, bytes]:
        """The stored state of the given events, by notification id."""
        found: dict[int, bytes] = {}
        ids = list(notification_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            sql = f"SELECT rowid, state FROM stored_events WHERE rowid IN ({marks})"
            found.update((r[0], bytes(r[1])) for r in self.conn.execute(sql, chunk))
        return found

    def recorded_versions(self) -> dict[str, tuple[int, int, str | None]]:
        """Per source path: the size and mtime last imported, and its thread."""
        rows = self.conn.execute(
            "SELECT source_path, size, mtime_ns, thread_id FROM ledger WHERE size IS NOT NULL"
        )
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def ledger(self) -> list[dict[str, Any]]:
        return self._select("SELECT * FROM ledger ORDER BY source_path", ())

    def blob(self, key: str) -> bytes:
        row = self.conn.execute("SELECT data FROM blobs WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(f"no blob {key}")
        return bytes(row[0])

    def _scalar(self, sql: str) -> Any:
        return self.conn.execute(sql).fetchone()[0]

    def _select(self, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
        return [dict(r) for r in self.conn.execute(sql, params)]


class QueryBlobs:
    """The blob store, read-only, for resolving references while reading history."""

    def __init__(self, queries: ReadModelQueries) -> None:
        self.queries = queries

    def put(self, data: bytes) -> str:  # pragma: no cover - never called on the read path
        raise PermissionError("the read path does not write blobs")

    def get(self, key: str) -> bytes:
        return self.queries.blob(key)
