"""Queries over the read models, on a read-only connection to the store's file.

Deliberately light (sqlite3 and nothing else) so that a read command starts
fast: it never loads the event-sourcing stack unless the read models are
behind the events and need to catch up first. An unchanged re-import reads
the ledger through this module alone: what only search needs is imported there.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from threadline.adapters.persistence.compression import BlobPage
    from threadline.application.read_queries import SearchQuery, ThreadQuery


DB_FILENAME = "threadline.db"
TRACKING_PREFIX = "projection:"
"""Read models' rows in the library's tracking table are named with this prefix."""
SCHEMA_VERSION = 8
"""Bump when a read model's tables change: older tables are dropped and rebuilt from events."""


class StoreNotFoundError(Exception):
    pass


class ReadModelQueries:
    def __init__(self, home: str) -> None:
        path = os.path.join(home, DB_FILENAME)
        if not os.path.exists(path):
            raise StoreNotFoundError(f"no store in {home} yet")
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)

    def close(self) -> None:
        self.conn.close()

    def is_behind(self, names: Sequence[str]) -> bool:
        """True when a named read model has not yet seen every stored event, or is outdated."""
        try:
            if self._scalar("SELECT max(version) FROM read_model_schema") != SCHEMA_VERSION:
                return True
            newest = self._scalar("SELECT max(rowid) FROM stored_events") or 0
            positions = dict(
                self.conn.execute(
                    "SELECT application_name, notification_id FROM tracking"
                    " WHERE application_name LIKE ?",
                    (TRACKING_PREFIX + "%",),
                ).fetchall()
            )
        except sqlite3.OperationalError:  # tables not created yet
            return True
        if newest == 0:
            return False
        return any(positions.get(TRACKING_PREFIX + n, 0) < newest for n in names)

    def threads(self, query: ThreadQuery) -> list[dict[str, Any]]:
        """A page of the thread list; with a limit, one row more than asked shows there is more."""
        sql, params = thread_list_sql(query)
        return self._select(sql, tuple(params))

    def search(self, query: SearchQuery) -> list[dict[str, Any]]:
        """Ranked matches (best first): thread, item position, role and a marked snippet.

        Two steps: rank every match (bm25) and keep the best ``limit``, then cut
        snippets for those alone from the items' pieces (the index keeps no text).
        """
        # Without filters, rank the index alone (a third faster for a common word) and
        # only join search_items if a row a rewrite deleted (still in the index) made it
        # into the best ones.
        best = self._ranked(query, join=bool(query.cwds or query.sources))
        found = self._found(best)
        if len(found) < len(best):
            best = self._ranked(query, join=True)
            found = self._found(best)
        if not best:
            return []
        import orjson  # here, not at the top: ``threads`` starts without them

        from threadline.adapters.persistence.sqlite_lines import SQLiteSourceLines
        from threadline.application.history import item_text
        from threadline.application.read_queries import snippet

        rows = []
        with SQLiteSourceLines(self.conn) as lines:
            for rowid, rank in best:
                row = found.get(rowid)
                if row is None:  # its thread is not in the thread list (yet)
                    continue
                text = item_text(orjson.loads(row.pop("pieces")), lines)
                del row["id"]
                marked = snippet(text, query.terms, MARK_START, MARK_END)
                rows.append(row | {"snippet": marked, "rank": rank})
        return rows

    def _ranked(self, query: SearchQuery, join: bool) -> list[tuple[int, float]]:
        """The best ``limit`` matches' ids and bm25 ranks (lower is better)."""
        filters, params = ["search_text MATCH ?"], [query.fts()]
        if query.cwds:
            filters.append(f"t.cwd IN ({', '.join('?' * len(query.cwds))})")
            params.extend(query.cwds)
        if query.sources:
            filters.append(f"t.source_agent IN ({', '.join('?' * len(query.sources))})")
            params.extend(query.sources)
        joins = ""
        if join:
            joins = " JOIN search_items s ON s.id = search_text.rowid"
        if query.cwds or query.sources:
            joins += " JOIN threads t ON t.thread_id = s.thread_id"
        return self.conn.execute(
            f"SELECT search_text.rowid, bm25(search_text) AS rank FROM search_text{joins}"
            f" WHERE {' AND '.join(filters)} ORDER BY rank, search_text.rowid LIMIT ?",
            (*params, query.limit),
        ).fetchall()

    def _found(self, best: list[tuple[int, float]]) -> dict[int, dict[str, Any]]:
        """The search rows of these ids that are still there, with their thread's details."""
        if not best:
            return {}
        marks = ", ".join("?" * len(best))
        return {
            r["id"]: r
            for r in self._select(
                "SELECT s.id, s.thread_id, s.position, s.role, s.pieces,"
                " t.title, t.cwd, t.source_agent FROM search_items s"
                f" JOIN threads t ON t.thread_id = s.thread_id WHERE s.id IN ({marks})",
                tuple(r[0] for r in best),
            )
        }

    def thread(self, thread_id: str) -> dict[str, Any] | None:
        found = self._select("SELECT * FROM threads WHERE thread_id = ?", (thread_id,))
        return found[0] if found else None

    def find_threads(self, prefix: str) -> list[str]:
        rows = self._select(
            "SELECT thread_id FROM threads WHERE thread_id LIKE ? LIMIT 2", (prefix + "%",)
        )
        return [r["thread_id"] for r in rows]

    def history(
        self, thread_id: str, start: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """A thread's history rows in order, from position ``start``, at most ``limit``."""
        return self._select(
            "SELECT position, type, timestamp, notification_id, item_index FROM history"
            " WHERE thread_id = ? AND position >= ? ORDER BY position LIMIT ?",
            (thread_id, start, -1 if limit is None else limit),
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

    def blob(self, key: str) -> BlobPage:
        from threadline.adapters.persistence.compression import open_blob

        row = self.conn.execute("SELECT data FROM blobs WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(f"no blob {key}")
        return open_blob(row[0])

    def _scalar(self, sql: str) -> Any:
        return self.conn.execute(sql).fetchone()[0]

    def _select(self, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
        cursor = self.conn.execute(sql, params)
        columns = [d[0] for d in cursor.description]
        return [dict(zip(columns, r, strict=True)) for r in cursor.fetchall()]


MARK_START = "\x02"
MARK_END = "\x03"
"""Around each match in a search snippet; the CLI turns them into highlighting or ``**``."""

_SORT_VALUE = {
    "updated": "coalesce(updated_at, created_at, '')",
    "created": "coalesce(created_at, updated_at, '')",
}


def thread_list_sql(query: ThreadQuery, mark: str = "?") -> tuple[str, list[Any]]:
    """The thread-list query: plain SQL that PostgreSQL runs too (given ``mark="%s"``)."""
    key = _SORT_VALUE[query.sort]
    where: list[str] = []
    params: list[Any] = []

    def marks(values: Sequence[Any]) -> str:
        params.extend(values)
        return ", ".join([mark] * len(values))

    if query.cwds:
        where.append(f"cwd IN ({marks(query.cwds)})")
    if query.sources:
        where.append(f"source_agent IN ({marks(query.sources)})")
    if query.since is not None:
        where.append(f"{key} >= {marks([query.since])}")
    if query.until is not None:
        where.append(f"{key} < {marks([query.until])}")
    if query.archived is not None:
        where.append(f"archived = {marks([int(query.archived)])}")
    if query.parent is not None:
        where.append(f"parent_thread_id = {marks([query.parent])}")
    if query.top_level:
        where.append("parent_thread_id IS NULL")
    if query.after is not None:
        # Ties on the sort value go by thread id, ascending, in both directions.
        beyond = "<" if query.direction == "desc" else ">"
        where.append(
            f"({key} {beyond} {marks([query.after.value])}"
            f" OR ({key} = {marks([query.after.value])}"
            f" AND thread_id > {marks([query.after.thread_id])}))"
        )
    sql = "SELECT * FROM threads"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY {key} {query.direction.upper()}, thread_id"
    if query.limit is not None:
        sql += f" LIMIT {marks([query.limit + 1])}"
    return sql, params


class _HasBlobs(Protocol):
    def blob(self, key: str) -> BlobPage: ...


class QueryBlobs:
    """The blob store, read-only, for resolving references while reading history."""

    def __init__(self, queries: _HasBlobs) -> None:
        self.queries = queries

    def put(self, data: bytes) -> str:  # pragma: no cover - never called on the read path
        raise PermissionError("the read path does not write blobs")

    def get(self, key: str) -> bytes:
        return bytes(self.queries.blob(key))

    def page(self, key: str) -> BlobPage:
        return self.queries.blob(key)
