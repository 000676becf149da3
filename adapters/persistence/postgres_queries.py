"""Queries over the read models in the PostgreSQL store: the connection and search.

Everything else is ``read_models.ReadModelQueries``, the same SQL as on SQLite.
One plain psycopg connection, no pool and no event-sourcing stack, so that a
read command starts fast. Search finds the items whose GIN-indexed ``tsvector``
of distinct words (split and folded as SQLite's unicode61 tokenizer does it,
``search_words``) holds the query's words, ranks them shortest first and cuts
snippets from their pieces, as on SQLite (``ReadModelQueries.search``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import psycopg

from threadline.adapters.persistence.postgres_connection import connect
from threadline.adapters.persistence.read_models import ReadModelQueries
from threadline.application.search_words import is_prefix
from threadline.application.views import QueryBlobs, Row, StoreNotFoundError

if TYPE_CHECKING:  # not loaded by a read that does not search (``threads`` starts fast)
    from threadline.adapters.persistence.compression import BlobPage
    from threadline.application.history import SourceLines
    from threadline.application.read_queries import SearchQuery


BLOB_HEAD = 2048
"""Bytes read first from a blob: its frame index (four frames a page: 36 bytes) and more."""


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

    def blob(self, key: str) -> BlobPage:
        """The blob read by ranges of its stored bytes: ``substring`` of a value stored
        out of line and uncompressed (``blobs.data`` is ``STORAGE EXTERNAL``, ADR 0015)
        reads only the TOAST chunks it covers, so a line costs its page's frame index
        and the frames that hold it, not the megabyte page (a search's snippets and
        ``show`` read a few lines of many pages). A raw blob (an older release's) is
        read whole."""
        from threadline.adapters.persistence.compression import MAGIC, BlobPage

        def stored(offset: int, length: int) -> bytes:
            row = self.execute(
                "SELECT substring(data FROM %s FOR %s) FROM blobs WHERE key = %s",
                (offset + 1, length, key),
            ).fetchone()
            if row is None:
                raise KeyError(f"no blob {key}")
            return bytes(row[0])

        head = stored(0, BLOB_HEAD)  # the magic and the frame index, in one query

        def read_at(offset: int, length: int) -> bytes:
            if offset + length <= len(head):
                return head[offset : offset + length]
            return stored(offset, length)

        if not head.startswith(MAGIC):
            return super().blob(key)
        return BlobPage(read_at)

    def best_items(self, query: SearchQuery) -> list[Row]:
        """Items whose words (a GIN-indexed ``tsvector``) hold every word of the query,
        shortest first, as on SQLite. An item of several rows (a partial index holds
        just those rows) is found when each word is in one of them."""
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
        every = " & ".join(map(lexeme, query.words))
        any_word = " | ".join(map(lexeme, query.words))
        each = " AND ".join(["bool_or(s.words @@ %s::tsquery)"] * len(query.words))
        order = " ORDER BY chars, thread_id, position LIMIT %s"
        return self._select(
            "SELECT s.thread_id, s.position, s.role, s.pieces, s.chars,"
            " t.title, t.cwd, t.source_agent FROM ("
            f"(SELECT s.thread_id, s.position, s.chars FROM search_items s{join}"
            f" WHERE s.words @@ %s::tsquery AND s.chunks = 1{where}{order})"
            " UNION ALL "
            f"(SELECT s.thread_id, s.position, min(s.chars) AS chars FROM search_items s{join}"
            f" WHERE s.words @@ %s::tsquery AND s.chunks > 1{where}"
            f" GROUP BY s.thread_id, s.position HAVING {each}{order})) best"
            " JOIN search_items s ON s.thread_id = best.thread_id"
            " AND s.position = best.position AND s.chunk = 0"
            " JOIN threads t ON t.thread_id = s.thread_id"
            f" ORDER BY best.chars, best.thread_id, best.position LIMIT %s",
            [
                every,
                *params,
                query.limit,
                any_word,
                *params,
                *map(lexeme, query.words),
                query.limit,
                query.limit,
            ],
        )

    @contextmanager
    def search_lines(self) -> Iterator[SourceLines]:
        """Source lines read from the blob table, a few pages cached."""
        from threadline.application.history import SourceLines

        yield SourceLines(QueryBlobs(self), cached_pages=8)


def lexeme(word: str) -> str:
    """A word of the query as a ``tsquery`` lexeme, taken as it is (the index's words
    are ``search_words``', folded alike); one CJK letter as a prefix."""
    quoted = "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"
    return quoted + ":*" if is_prefix(word) else quoted
