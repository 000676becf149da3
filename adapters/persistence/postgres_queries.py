"""Queries over the read models in the PostgreSQL store: the connection and search.

Everything else is ``read_models.ReadModelQueries``, the same SQL as on SQLite.
One plain psycopg connection, no pool and no event-sourcing stack, so that a
read command starts fast. Search ranks with ``ts_rank_cd`` over the GIN-indexed
``tsvector`` of the text split into words (as SQLite's unicode61 tokenizer
splits it: PostgreSQL's own parser would keep ``/src/weather-app`` as one
token), and marks the matched words in a snippet cut in Python for the
returned page, as on SQLite (``read_queries.snippet``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from threadline.adapters.persistence.postgres_connection import connect
from threadline.adapters.persistence.read_models import ReadModelQueries
from threadline.application.read_queries import SearchQuery, snippet
from threadline.application.views import MARK_END, MARK_START, Row, StoreNotFoundError


class PostgresReadModelQueries(ReadModelQueries):
    mark = "%s"
    events_table = "threadline_events"
    event_id = "notification_id"
    tracking_table = "threadline_tracking"
    not_ready = (psycopg.errors.UndefinedTable,)

    def __init__(self, database_url: str) -> None:
        try:
            self.conn: psycopg.Connection[Any] = connect(database_url, autocommit=True)
        except psycopg.OperationalError as exc:
            raise StoreNotFoundError(f"cannot reach the database: {exc}") from exc

    def close(self) -> None:
        self.conn.close()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        return self.conn.execute(sql.replace("?", "%s"), params)  # type: ignore[arg-type]

    def search(self, query: SearchQuery) -> list[Row]:
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
        # An item of one row (nearly all) is its own best chunk: its matches go straight
        # to a top-``limit`` sort. Only the few items of several rows (a partial index
        # holds their rows) are sorted whole to keep each one's best chunk; sorting every
        # match that way took a common word's search 100-200 ms longer (53,809 matches).
        ranked = (
            "SELECT s.thread_id, s.position, s.chunk, ts_rank_cd(s.tsv, q) AS rank"
            f" FROM search_items s{join} CROSS JOIN plainto_tsquery('simple', %s) q"
        )
        words = " ".join(query.terms)
        best = self._select(
            f"SELECT * FROM ({ranked} WHERE s.tsv @@ q AND s.chunks = 1{where}"
            " ORDER BY rank DESC, s.thread_id, s.position LIMIT %s) one_row"
            " UNION ALL SELECT thread_id, position, chunk, rank FROM ("
            f" SELECT DISTINCT ON (thread_id, position) * FROM ({ranked}"
            f" WHERE s.tsv @@ q AND s.chunks > 1{where}) matched"
            " ORDER BY thread_id, position, rank DESC) several_rows"
            " ORDER BY rank DESC, thread_id, position LIMIT %s",
            [words, *params, query.limit, words, *params, query.limit],
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
        found: list[Row],
    ) -> list[Row]:
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
