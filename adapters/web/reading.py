"""The web face's one way into the read models.

Everything the web app and ``threadline export`` read goes through ``Reader`` and its
``Session``: thin calls of the read side's views (``application/views.py``: catch up
if behind, resolve an id prefix, a page of the thread list, a thread's items, search)
on the ``ReadModels`` port, with their errors turned into this face's two kinds
(``NotFoundError``, ``ValueError``). The web app's ``Reader`` keeps its PostgreSQL
connections between requests (``postgres_pool``, ADR 0012).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from threadline.application import views
from threadline.application.read_queries import (
    EAGER_PROJECTIONS,
    SEARCH_PROJECTIONS,
    BadQueryError,
    Cursor,
    SearchQuery,
    ThreadQuery,
    parse_moment,
)

if TYPE_CHECKING:
    from threadline.adapters.web.postgres_pool import PostgresPool
    from threadline.application.views import ReadModels

Row = dict[str, Any]


class NotFoundError(LookupError):
    """No thread (or item, or blob) by that name."""


@dataclass(frozen=True)
class ListFilters:
    """The thread list's filters, as the page's form gives them (strings, maybe empty)."""

    agent: str = ""
    cwd: str = ""
    since: str = ""
    until: str = ""
    parent: str = ""
    archived: str = ""
    """``""`` live threads, ``"only"`` archived ones, ``"all"`` both."""
    cursor: str = ""
    limit: int = 100

    def is_filtered(self) -> bool:
        return any((self.agent, self.cwd, self.since, self.until, self.parent, self.archived))


@dataclass
class ThreadPage:
    rows: list[tuple[Row, int]]
    """Each row with its depth: sub-agent threads right under their parent."""
    next_cursor: str | None


class Session:
    """One request's view of the read models (one connection)."""

    def __init__(self, queries: ReadModels) -> None:
        self.queries = queries

    def thread_list(self, filters: ListFilters) -> ThreadPage:
        from threadline.adapters.cli.table import in_tree_order

        try:
            query = ThreadQuery(
                cwds=(filters.cwd,) if filters.cwd else (),
                sources=(filters.agent,) if filters.agent else (),
                since=parse_moment(filters.since) if filters.since else None,
                until=parse_moment(filters.until) if filters.until else None,
                archived={"": False, "only": True, "all": None}.get(filters.archived, False),
                parent=self.resolve(filters.parent) if filters.parent else None,
                limit=filters.limit,
                after=Cursor.decode(filters.cursor) if filters.cursor else None,
            )
        except BadQueryError as exc:
            raise ValueError(str(exc)) from exc
        page = views.list_threads(self.queries, query)
        return ThreadPage(in_tree_order(page["threads"]), page["next_cursor"])

    def resolve(self, prefix: str) -> str:
        """The thread id that ``prefix`` starts (a whole id, or a unique prefix)."""
        if not prefix:
            raise NotFoundError(prefix)
        try:
            return views.resolve_thread(self.queries, prefix)
        except (views.ThreadNotFoundError, views.AmbiguousThreadError) as exc:
            raise NotFoundError(prefix) from exc

    def thread(self, thread_id: str) -> Row:
        row = self.queries.thread(thread_id)
        if row is None:
            raise NotFoundError(thread_id)
        row["models"] = orjson.loads(row["models"])
        return row

    def items(self, thread_id: str, start: int = 0, limit: int | None = None) -> list[Row]:
        try:
            return views.show_thread(self.queries, thread_id, start, limit)["items"]
        except views.ThreadNotFoundError as exc:
            raise NotFoundError(thread_id) from exc

    def item(self, thread_id: str, position: int) -> Row:
        found = self.items(thread_id, position, 1)
        if not found or found[0]["position"] != position:
            raise NotFoundError(f"{thread_id} #{position}")
        return found[0]

    def subagents(self, thread_id: str) -> dict[str, Row]:
        """The sub-agent threads of a thread, by the call id of the tool call that spawned
        each (those whose spawning call is not known are left out)."""
        rows = self.queries.threads(
            ThreadQuery(parent=thread_id, archived=None, sort="created", direction="asc")
        )
        spawned = {}
        for row in rows:
            if row["spawned_by_call_id"]:
                row["models"] = orjson.loads(row["models"])
                spawned[row["spawned_by_call_id"]] = row
        return spawned

    def search(self, text: str, limit: int = 50) -> list[Row]:
        try:
            query = SearchQuery(text, limit=limit)
        except BadQueryError as exc:
            raise ValueError(str(exc)) from exc
        return views.search(self.queries, query)

    def blob(self, key: str) -> bytes:
        try:
            return bytes(self.queries.blob(key))  # stored compressed: all of it, decoded
        except KeyError as exc:
            raise NotFoundError(key) from exc


class Reader:
    """Opens a ``Session`` on the store at ``home`` / ``database_url`` (as ``--home`` and
    ``--database-url`` name it), caught up first if it is behind.

    With ``keep`` > 0 (the web app), up to that many PostgreSQL connections stay open
    between sessions, in a pool made on first use; ``close()`` closes them. Otherwise,
    and on SQLite (its file opens and reads its schema in about 0.4 ms), each session
    opens its own connection."""

    def __init__(self, home: str | None, database_url: str | None, keep: int = 0) -> None:
        from threadline.adapters.home import resolve_location

        self.location = resolve_location(home, database_url)
        self.keep = keep
        self._pool: PostgresPool | None = None
        self._pool_made = threading.Lock()

    @contextmanager
    def session(self, search: bool = False) -> Iterator[Session]:
        names: Sequence[str] = SEARCH_PROJECTIONS if search else EAGER_PROJECTIONS
        opened = views.up_to_date(self._open, self._catch_up, names)
        with closing(opened) as queries:
            yield Session(queries)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def _open(self) -> ReadModels:
        from threadline.adapters.queries import open_queries

        if self.keep < 1 or self.location.database_url is None:
            return open_queries(self.location)
        with self._pool_made:
            if self._pool is None:
                from threadline.adapters.web.postgres_pool import PostgresPool

                self._pool = PostgresPool(self.location.database_url, self.keep)
        return self._pool.queries()

    def _catch_up(self, names: Sequence[str]) -> None:
        from threadline.adapters.queries import catch_up

        catch_up(self.location, names)
