"""The read models' queries, written once for every store (the ``ReadModels`` port).

What differs between SQLite and PostgreSQL is in their thin subclasses: the
connection, the placeholder, the names of the library's events and tracking
tables, and search (FTS5 against ``tsvector``). The writes are written once too,
in ``read_model_recorder``.

Deliberately light (the standard library and nothing else): a read command
imports this before it knows whether the event-sourcing stack is needed at all,
and an unchanged re-import reads the ledger through it.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from threadline.application.views import (
    MARK_END,
    MARK_START,
    ReadModelMissingError,
    ReadModels,
    Row,
    StoreNotFoundError,
)

if TYPE_CHECKING:
    from threadline.adapters.persistence.compression import BlobPage
    from threadline.application.history import SourceLines
    from threadline.application.read_queries import SearchQuery, ThreadQuery

SCHEMA_VERSION = 13
"""Bump when a read model's tables or what they hold change (13: CJK runs indexed as
their bigrams): older tables are dropped and rebuilt from events."""
TRACKING_PREFIX = "projection:"
"""Read models' rows in the library's tracking table are named with this prefix."""
TABLES = {
    "threads": ("threads", "spawns", "conversations"),
    "history": ("history",),
    "ledger": ("ledger",),
    "usage": ("usage_messages", "usage_buckets", "usage_ids", "usage_threads"),
    "search": ("search_items",),
}
"""Each projection's tables (a store may add its own, as SQLite's FTS5 index)."""
EVENT_STATES_PER_QUERY = 500


class DriverCursor(Protocol):
    """What both drivers' cursors (sqlite3, psycopg) answer alike."""

    @property
    def description(self) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class ReadModelQueries(ReadModels):
    """The queries, in SQL both stores run; a subclass opens the connection."""

    mark = "?"
    """The driver's placeholder: the SQL here is written with ``?``."""
    events_table: str
    event_id: str
    """The library's events table, and the column of its notification ids."""
    tracking_table: str
    not_ready: tuple[type[Exception], ...]
    """What the driver raises when the store's tables are not made yet."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> DriverCursor:
        raise NotImplementedError

    def is_behind(self, names: Sequence[str]) -> bool:
        try:
            if self._scalar("SELECT max(version) FROM read_model_schema") != SCHEMA_VERSION:
                return True
            newest = self._scalar(f"SELECT max({self.event_id}) FROM {self.events_table}") or 0
            positions = dict(
                self.execute(
                    f"SELECT application_name, notification_id FROM {self.tracking_table}"
                    " WHERE application_name LIKE ?",
                    (TRACKING_PREFIX + "%",),
                ).fetchall()
            )
        except self.not_ready:
            return True
        if newest == 0:
            return False
        return any(positions.get(TRACKING_PREFIX + n, 0) < newest for n in names)

    def search(self, query: SearchQuery) -> list[Row]:
        """Matches (best first): thread, item position, role and a marked snippet.

        Two steps, on every store: rank the items that hold every word of the query and
        keep the best ``limit`` (``best_items``: each store's index), then cut snippets
        for those alone from the items' pieces (the index keeps no text). The index knows
        which items hold a word, not where nor how often: the shorter item ranks first,
        as bm25 ranks items that hold each word once; ``rank`` falls from 0 to -1 as the
        text grows (half at 1,000 characters; ADR 0015).
        """
        if not query.words:  # only separators, such as ``_``: no word to look for
            return []
        rows = self.best_items(query)
        if not rows:
            return []
        import orjson  # here, not at the top: ``threads`` starts without them

        from threadline.application.history import item_text
        from threadline.application.read_queries import snippet

        found = []
        with self.search_lines() as lines:
            for row in rows:
                text = item_text(orjson.loads(row.pop("pieces")), lines)
                chars = row.pop("chars")
                marked = snippet(text, query.terms, MARK_START, MARK_END)
                found.append(row | {"snippet": marked, "rank": -1000 / (1000 + chars)})
        return found

    def best_items(self, query: SearchQuery) -> list[Row]:
        """The best ``query.limit`` items that hold every word, shortest first, each with
        ``thread_id``, ``position``, ``role``, ``pieces``, ``chars`` and its thread's
        ``title``, ``cwd`` and ``source_agent``. An item whose thread is not in the thread
        list (yet) is left out."""
        raise NotImplementedError

    def search_lines(self) -> AbstractContextManager[SourceLines]:
        """Reads texts left in source lines, for one page of matches."""
        raise NotImplementedError

    def threads(self, query: ThreadQuery) -> list[Row]:
        sql, params = thread_list_sql(query, self.mark)
        return self._select(sql, params)

    def thread(self, thread_id: str) -> Row | None:
        found = self._select("SELECT * FROM threads WHERE thread_id = ?", (thread_id,))
        return found[0] if found else None

    def find_threads(self, prefix: str) -> list[str]:
        rows = self.execute(
            "SELECT thread_id FROM threads WHERE thread_id LIKE ? LIMIT 2", (prefix + "%",)
        ).fetchall()
        return [r[0] for r in rows]

    def history(self, thread_id: str, start: int = 0, limit: int | None = None) -> list[Row]:
        sql = (
            "SELECT position, type, timestamp, notification_id, item_index FROM history"
            " WHERE thread_id = ? AND position >= ? ORDER BY position"
        )
        if limit is None:
            return self._select(sql, (thread_id, start))
        return self._select(sql + " LIMIT ?", (thread_id, start, limit))

    def event_states(self, notification_ids: Sequence[int]) -> dict[int, bytes]:
        from threadline.adapters.persistence.compression import decompress_state

        found: dict[int, bytes] = {}
        ids = list(notification_ids)
        for start in range(0, len(ids), EVENT_STATES_PER_QUERY):
            chunk = ids[start : start + EVENT_STATES_PER_QUERY]
            marks = ", ".join("?" * len(chunk))
            rows = self.execute(
                f"SELECT {self.event_id}, state FROM {self.events_table}"
                f" WHERE {self.event_id} IN ({marks})",
                chunk,
            )
            # Stored compressed (ADR 0015): handed out as the transcoder wrote them.
            found.update((r[0], decompress_state(bytes(r[1]))) for r in rows.fetchall())
        return found

    def recorded_versions(self) -> dict[str, tuple[int, int, str | None]]:
        try:
            rows = self.execute(
                "SELECT source_path, size, mtime_ns, thread_id FROM ledger"
                " WHERE size IS NOT NULL AND gone = 0"
            ).fetchall()
        except self.not_ready as exc:
            raise StoreNotFoundError("no read models in this store yet") from exc
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def ledger(self) -> list[Row]:
        return self._select("SELECT * FROM ledger ORDER BY source_path")

    def blob(self, key: str) -> BlobPage:
        """The blob read by ranges: only the frames a slice covers are decompressed."""
        from threadline.adapters.persistence.compression import open_blob

        row = self.execute("SELECT data FROM blobs WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(f"no blob {key}")
        return open_blob(row[0])

    def usage_buckets(
        self, cwds: Sequence[str], sources: Sequence[str], by_thread: bool = True
    ) -> list[Row]:
        from threadline.application.row_changes import AddToUsageBucket

        filters, params = [], list[Any]()
        if cwds:
            filters.append(f"t.cwd IN ({', '.join('?' * len(cwds))})")
            params.extend(cwds)
        if sources:
            filters.append(f"t.agent IN ({', '.join('?' * len(sources))})")
            params.extend(sources)
        joined = " FROM usage_buckets b"
        if filters:
            joined += " JOIN usage_threads t ON t.thread_id = b.thread_id"
            joined += " WHERE " + " AND ".join(filters)
        if by_thread:
            columns = ", ".join(f"b.{c}" for c in AddToUsageBucket._fields)
            return self._usage(f"SELECT {columns}{joined}", params)
        sums = ", ".join(f"sum(b.{c}) AS {c}" for c in AddToUsageBucket._fields[3:-2])
        return self._usage(
            f"SELECT '' AS thread_id, b.slot, b.model, {sums},"
            f" min(b.first) AS first, max(b.last) AS last{joined} GROUP BY b.slot, b.model",
            params,
        )

    def usage_copies(self) -> list[Row]:
        from threadline.application.row_changes import InsertUsage

        columns = ", ".join(f"m.{c}" for c in InsertUsage._fields)
        return self._usage(
            f"SELECT {columns}, coalesce(t.sidechain, 0) AS sidechain FROM usage_messages m"
            " LEFT JOIN usage_threads t ON t.thread_id = m.thread_id"
            # The partial index lists the ids of more than one row: none read when none.
            " WHERE m.message_id IN (SELECT message_id FROM usage_ids WHERE copies > 1)"
        )

    def usage_threads(self) -> list[Row]:
        return self._usage(
            "SELECT thread_id, agent, cwd, title, parent_thread_id FROM usage_threads"
        )

    def _usage(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        try:
            return self._select(sql, params)
        except self.not_ready as exc:
            raise ReadModelMissingError("the usage read model's tables are missing") from exc

    def _scalar(self, sql: str) -> Any:
        row = self.execute(sql).fetchone()
        return None if row is None else row[0]

    def _select(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        cursor = self.execute(sql, params)
        columns = [d[0] for d in cursor.description]
        return [dict(zip(columns, r, strict=True)) for r in cursor.fetchall()]


_SORT_VALUE = {
    "updated": "coalesce(updated_at, created_at, '')",
    "created": "coalesce(created_at, updated_at, '')",
}


def thread_list_sql(query: ThreadQuery, mark: str = "?") -> tuple[str, list[Any]]:
    """The thread-list query, plain SQL for every store, with the driver's placeholder."""
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
