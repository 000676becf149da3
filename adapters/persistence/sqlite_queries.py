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
from threadline.application.views import MARK_END, MARK_START, Row, StoreNotFoundError

if TYPE_CHECKING:
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

    def search(self, query: SearchQuery) -> list[Row]:
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

    def _found(self, best: list[tuple[int, float]]) -> dict[int, Row]:
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
