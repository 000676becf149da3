"""Queries over the read models in the PostgreSQL store: the same answers as ``sqlite_queries``.

One plain psycopg connection, no pool and no event-sourcing stack, so that a
read command starts fast. Search ranks with ``ts_rank_cd`` over the GIN-indexed
``tsvector`` of the text split into words (as SQLite's unicode61 tokenizer
splits it: PostgreSQL's own parser would keep ``/src/weather-app`` as one
token), and marks the matched words in a snippet cut in Python for the
returned page, as on SQLite (``read_queries.snippet``). The thread list is
the very same SQL as on SQLite (``thread_list_sql``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.rows import dict_row

from threadline.adapters.persistence.postgres_connection import SCHEMA, connect
from threadline.adapters.persistence.sqlite_queries import (
    MARK_END,
    MARK_START,
    SCHEMA_VERSION,
    TRACKING_PREFIX,
    StoreNotFoundError,
    thread_list_sql,
)
from threadline.application.read_queries import SearchQuery, ThreadQuery, snippet

if TYPE_CHECKING:
    from threadline.adapters.persistence.compression import BlobPage

EVENTS = f"{SCHEMA}.threadline_events"
TRACKING = f"{SCHEMA}.threadline_tracking"


class PostgresReadModelQueries:
    def __init__(self, database_url: str) -> None:
        try:
            self.conn: psycopg.Connection[dict[str, Any]] = connect(
                database_url, autocommit=True, row_factory=dict_row
            )
        except psycopg.OperationalError as exc:
            raise StoreNotFoundError(f"cannot reach the database: {exc}") from exc

    def close(self) -> None:
        self.conn.close()

    def is_behind(self, names: Sequence[str]) -> bool:
        """True when a named read model has not yet seen every stored event, or is outdated."""
        try:
            version = self._scalar(f"SELECT max(version) FROM {SCHEMA}.read_model_schema")
            if version != SCHEMA_VERSION:
                return True
            newest = self._scalar(f"SELECT max(notification_id) FROM {EVENTS}") or 0
            rows = self.conn.execute(
                f"SELECT application_name, notification_id FROM {TRACKING}"
                " WHERE application_name LIKE %s",
                (TRACKING_PREFIX + "%",),
            ).fetchall()
        except psycopg.errors.UndefinedTable:  # tables not created yet
            return True
        if newest == 0:
            return False
        positions = {r["application_name"]: r["notification_id"] for r in rows}
        return any(positions.get(TRACKING_PREFIX + n, 0) < newest for n in names)

    def threads(self, query: ThreadQuery) -> list[dict[str, Any]]:
        sql, params = thread_list_sql(query, mark="%s")
        return self._select(sql, params)

    def search(self, query: SearchQuery) -> list[dict[str, Any]]:
        """Ranked matches (best first), one per item: its best-matching chunk.

        Two steps, as on SQLite: rank and keep the best ``limit``, then make
        snippets for those alone. An item longer than one row also matches when
        each word is in a different row of it, as it does on SQLite; such matches
        rank after every item that has all the words in one row (``ts_rank_cd``
        ranks by how close the words are, and these are at least rows apart).
        """
        filters: list[str] = []
        params: list[Any] = []
        if query.cwds:
            filters.append("t.cwd = ANY(%s)")
            params.append(list(query.cwds))
        if query.sources:
            filters.append("t.source_agent = ANY(%s)")
            params.append(list(query.sources))
        join = " JOIN threads t ON t.thread_id = s.thread_id" if filters else ""
        where = "".join(f" AND {f}" for f in filters)
        best = self._select(
            "SELECT thread_id, position, chunk, rank FROM ("
            " SELECT DISTINCT ON (s.thread_id, s.position) s.thread_id, s.position, s.chunk,"
            " ts_rank_cd(s.tsv, q) AS rank"
            f" FROM search_items s{join} CROSS JOIN plainto_tsquery('simple', %s) q"
            f" WHERE s.tsv @@ q{where}"
            " ORDER BY s.thread_id, s.position, rank DESC) best"
            " ORDER BY rank DESC, thread_id, position LIMIT %s",
            [" ".join(query.terms), *params, query.limit],
        )
        if len(query.terms) > 1 and len(best) < query.limit:
            best += self._matches_across_rows(query, join, where, params, best)
        if not best:
            return []
        found = self._select(
            "SELECT s.thread_id, s.position, s.role, t.title, t.cwd, t.source_agent, s.text"
            " FROM search_items s JOIN threads t ON t.thread_id = s.thread_id"
            " WHERE (s.thread_id, s.position, s.chunk) IN"
            " (SELECT * FROM unnest(%s::text[], %s::bigint[], %s::int[]))",
            [
                [b["thread_id"] for b in best],
                [b["position"] for b in best],
                [b["chunk"] for b in best],
            ],
        )
        for row in found:
            row["snippet"] = snippet(row.pop("text"), query.terms, MARK_START, MARK_END)
        by_item = {(r["thread_id"], r["position"]): r for r in found}
        # Lower is better, as SQLite's bm25: the CLI shows the score as -rank. An item whose
        # thread is not in the thread list (yet) is left out, as on SQLite.
        keys = [(b["thread_id"], b["position"], b["rank"]) for b in best]
        return [by_item[(t, p)] | {"rank": -rank} for t, p, rank in keys if (t, p) in by_item]

    def _matches_across_rows(
        self,
        query: SearchQuery,
        join: str,
        where: str,
        params: list[Any],
        found: list[dict[str, Any]],
    ) -> list[dict[str, Any]]:
        """The best items of several rows that hold every word but not in one row, after
        ``found``: rows where any word is (a small partial index holds just such items'
        rows), grouped by item, kept if each word is in one of them."""
        any_word = " || ".join(["plainto_tsquery('simple', %s)"] * len(query.terms))
        each = "bool_or(s.tsv @@ plainto_tsquery('simple', %s))"
        every_word = " AND ".join([each] * len(query.terms))
        across = self._select(
            "SELECT s.thread_id, s.position,"
            " (array_agg(s.chunk ORDER BY ts_rank_cd(s.tsv, q) DESC))[1] AS chunk,"
            " max(ts_rank_cd(s.tsv, q)) AS rank"
            f" FROM search_items s{join} CROSS JOIN (SELECT {any_word} AS q) w"
            f" WHERE s.chunks > 1 AND s.tsv @@ q{where}"
            f" GROUP BY s.thread_id, s.position HAVING {every_word}"
            " ORDER BY rank DESC, thread_id, position LIMIT %s",
            [*query.terms, *params, *query.terms, query.limit],
        )
        seen = {(b["thread_id"], b["position"]) for b in found}
        more = [a for a in across if (a["thread_id"], a["position"]) not in seen]
        return more[: query.limit - len(found)]

    def thread(self, thread_id: str) -> dict[str, Any] | None:
        found = self._select("SELECT * FROM threads WHERE thread_id = %s", [thread_id])
        return found[0] if found else None

    def find_threads(self, prefix: str) -> list[str]:
        rows = self._select(
            "SELECT thread_id FROM threads WHERE thread_id LIKE %s LIMIT 2", [prefix + "%"]
        )
        return [r["thread_id"] for r in rows]

    def history(
        self, thread_id: str, start: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]:
        return self._select(
            "SELECT position, type, timestamp, notification_id, item_index FROM history"
            " WHERE thread_id = %s AND position >= %s ORDER BY position LIMIT %s",
            [thread_id, start, limit],
        )

    def event_states(self, notification_ids: Sequence[int]) -> dict[int, bytes]:
        rows = self.conn.execute(
            f"SELECT notification_id, state FROM {EVENTS} WHERE notification_id = ANY(%s)",
            (list(notification_ids),),
        ).fetchall()
        return {r["notification_id"]: bytes(r["state"]) for r in rows}

    def recorded_versions(self) -> dict[str, tuple[int, int, str | None]]:
        try:
            rows = self.conn.execute(
                "SELECT source_path, size, mtime_ns, thread_id FROM ledger WHERE size IS NOT NULL"
            ).fetchall()
        except psycopg.errors.UndefinedTable as exc:
            raise StoreNotFoundError("no store in this database yet") from exc
        return {r["source_path"]: (r["size"], r["mtime_ns"], r["thread_id"]) for r in rows}

    def ledger(self) -> list[dict[str, Any]]:
        return self._select("SELECT * FROM ledger ORDER BY source_path", [])

    def blob(self, key: str) -> BlobPage:
        from threadline.adapters.persistence.compression import open_blob

        row = self.conn.execute("SELECT data FROM blobs WHERE key = %s", (key,)).fetchone()
        if row is None:
            raise KeyError(f"no blob {key}")
        return open_blob(row["data"])

    def _scalar(self, sql: str) -> Any:
        row = self.conn.execute(sql).fetchone()
        return None if row is None else next(iter(row.values()))

    def _select(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        return self.conn.execute(sql, params).fetchall()  # type: ignore[call-overload]
