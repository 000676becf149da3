"""Queries over the read models in the store's SQLite file: the connection and search.

Everything else is ``read_models.ReadModelQueries``. Deliberately light (sqlite3
and nothing else) so that a read command starts fast: it never loads the
event-sourcing stack unless the read models are behind the events and need to
catch up first. An unchanged re-import reads the ledger through this module
alone: what only search needs is imported there.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from threadline.adapters.persistence.read_models import ReadModelQueries
from threadline.application.views import Row, StoreNotFoundError

if TYPE_CHECKING:
    from threadline.adapters.persistence.sqlite_lines import SQLiteSourceLines
    from threadline.application.read_queries import SearchQuery


DB_FILENAME = "threadline.db"


class SQLiteReadModelQueries(ReadModelQueries):
    events_table = "stored_events"
    event_id = "rowid"
    tracking_table = "tracking"
    not_ready = (sqlite3.OperationalError,)

    def __init__(self, home: str) -> None:
        path = os.path.join(home, DB_FILENAME)
        if not os.path.exists(path):
            raise StoreNotFoundError(f"no store in {home} yet")
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)

    def close(self) -> None:
        self.conn.close()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def best_items(self, query: SearchQuery) -> list[Row]:
        """Every item that has all the query's words, by FTS5, shortest first. A row a
        rewrite deleted is still in the index, never in the join."""
        filters, params = ["search_text MATCH ?"], [query.fts()]
        if query.cwds:
            filters.append(f"t.cwd IN ({', '.join('?' * len(query.cwds))})")
            params.extend(query.cwds)
        if query.sources:
            filters.append(f"t.source_agent IN ({', '.join('?' * len(query.sources))})")
            params.extend(query.sources)
        filtered = " JOIN threads t ON t.thread_id = s.thread_id" if len(filters) > 1 else ""
        return self._select(
            "SELECT s.thread_id, s.position, s.role, s.pieces, s.chars,"
            " t.title, t.cwd, t.source_agent"
            " FROM (SELECT s.id FROM search_text"
            f" JOIN search_items s ON s.id = search_text.rowid{filtered}"
            f" WHERE {' AND '.join(filters)} ORDER BY s.chars, s.id LIMIT ?) best"
            " JOIN search_items s ON s.id = best.id JOIN threads t ON t.thread_id = s.thread_id"
            " ORDER BY s.chars, s.id",
            (*params, query.limit),
        )

    def search_lines(self) -> SQLiteSourceLines:
        """Source lines read by incremental blob I/O, only the bytes of each line."""
        from threadline.adapters.persistence.sqlite_lines import SQLiteSourceLines

        return SQLiteSourceLines(self.conn)
