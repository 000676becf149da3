"""The web face's one way into the read models.

Everything the web app and ``threadline export`` read goes through ``Reader``: it
wraps today's read port calls (``open_queries`` via the CLI's ``read_models_for``,
which catches the read models up first when a write left them behind, and
``thread_items`` to assemble a thread's items). When the read use cases move into
``application/views.py``, only this module changes.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from threadline.application.read_queries import (
    ALL_PROJECTIONS,
    EAGER_PROJECTIONS,
    BadQueryError,
    Cursor,
    SearchQuery,
    ThreadQuery,
    parse_moment,
    row_cursor,
)

if TYPE_CHECKING:
    from threadline.adapters.queries import Queries

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

    def __init__(self, queries: Queries) -> None:
        self.queries = queries
        self._lines: Any = None

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
        rows = self.queries.threads(query)
        more = len(rows) > filters.limit
        rows = rows[: filters.limit]
        for row in rows:
            row["models"] = orjson.loads(row["models"])
        return ThreadPage(
            in_tree_order(rows), row_cursor(query, rows[-1]) if more and rows else None
        )

    def resolve(self, prefix: str) -> str:
        """The thread id that ``prefix`` starts (a whole id, or a unique prefix)."""
        matches = self.queries.find_threads(prefix) if prefix else []
        if len(matches) != 1:
            raise NotFoundError(prefix)
        return matches[0]

    def thread(self, thread_id: str) -> Row:
        row = self.queries.thread(thread_id)
        if row is None:
            raise NotFoundError(thread_id)
        row["models"] = orjson.loads(row["models"])
        return row

    def items(self, thread_id: str, start: int = 0, limit: int | None = None) -> list[Row]:
        from threadline.adapters.persistence.sqlite_queries import QueryBlobs
        from threadline.application.history import SourceLines, thread_items

        if self._lines is None:
            self._lines = SourceLines(QueryBlobs(self.queries))
        return thread_items(self.queries, orjson.loads, self._lines, thread_id, start, limit)

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
        return self.queries.search(query)

    def blob(self, key: str) -> bytes:
        try:
            return self.queries.blob(key)
        except KeyError as exc:
            raise NotFoundError(key) from exc


class Reader:
    """Opens a ``Session`` on the store at ``home`` / ``database_url`` (as ``--home`` and
    ``--database-url`` name it), caught up first if it is behind."""

    def __init__(self, home: str | None, database_url: str | None) -> None:
        self.args = argparse.Namespace(home=home, database_url=database_url)

    @contextmanager
    def session(self, search: bool = False) -> Iterator[Session]:
        from threadline.adapters.cli.commands import read_models_for

        names: Sequence[str] = ALL_PROJECTIONS if search else EAGER_PROJECTIONS
        with read_models_for(self.args, names) as queries:
            yield Session(queries)
