"""The read side: its port, and the use cases every face (the CLI, the web app, exports,
usage, the MCP server) calls, whichever store holds the read models.

``ReadModels`` is the port; below it the views: catch up if behind, resolve an id
prefix, a page of the thread list, a thread's history, search, the ledger. They take
the read models and plain queries, return plain data (dicts and lists, JSON-ready),
and raise the errors below for a face to turn into its own messages.

Light on purpose (standard library only at import time): a read command imports this
before it knows whether the event-sourcing stack is needed at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypedDict

if TYPE_CHECKING:
    from threadline.application.ports import Page
    from threadline.application.read_queries import SearchQuery, ThreadQuery

Row = dict[str, Any]


MARK_START = "\x02"
MARK_END = "\x03"
"""Around each match in a search snippet; the CLI turns them into highlighting or ``**``."""


class StoreNotFoundError(Exception):
    """There is no store at that location yet."""


class ThreadNotFoundError(LookupError):
    """No thread's id starts with that prefix."""


class AmbiguousThreadError(LookupError):
    """More than one thread's id starts with that prefix."""


class ReadModels(Protocol):
    """Queries over the read models (thread list, history, ledger, search) and the
    stored bytes they point into. One code path for every store
    (``adapters/persistence/read_models.py``), thin subclasses per dialect."""

    def close(self) -> None: ...

    def is_behind(self, names: Sequence[str]) -> bool:
        """True when a named read model has not seen every stored event, or is outdated."""
        ...

    def threads(self, query: ThreadQuery) -> list[Row]:
        """A page of the thread list (one row more than ``query.limit``, to tell if more)."""
        ...

    def thread(self, thread_id: str) -> Row | None: ...

    def find_threads(self, prefix: str) -> list[str]:
        """Up to two thread ids that start with ``prefix``."""
        ...

    def history(self, thread_id: str, start: int = 0, limit: int | None = None) -> list[Row]:
        """A thread's history rows from ``start``: each item's position and where it is."""
        ...

    def event_states(self, notification_ids: Sequence[int]) -> dict[int, bytes]: ...

    def search(self, query: SearchQuery) -> list[Row]:
        """Ranked matches, best first, each with a snippet marked by ``MARK_START`` and
        ``MARK_END`` and its ``rank`` (lower is better)."""
        ...

    def ledger(self) -> list[Row]: ...

    def recorded_versions(self) -> dict[str, tuple[int, int, str | None]]:
        """Per source path, the size and mtime the ledger recorded, and its thread."""
        ...

    def blob(self, key: str) -> Page:
        """A blob read by ranges (``page[a:b]``; ``bytes(page)`` for all of it)."""
        ...


class QueryBlobs:
    """The blob store, read-only, for resolving references while reading history."""

    def __init__(self, queries: ReadModels) -> None:
        self.queries = queries

    def put(self, data: bytes) -> str:  # pragma: no cover - never called on the read path
        raise PermissionError("the read path does not write blobs")

    def get(self, key: str) -> bytes:
        return bytes(self.queries.blob(key))

    def page(self, key: str) -> Page:
        return self.queries.blob(key)


# -- the views ---------------------------------------------------------------------------


def up_to_date(
    open_read_models: Callable[[], ReadModels],
    catch_up: Callable[[Sequence[str]], object],
    names: Sequence[str],
) -> ReadModels:
    """The read models, open, once the named ones have seen every stored event: caught
    up first (``catch_up(names)``, which creates a missing store) if a write left them
    behind. The caller closes them."""
    try:
        probe: ReadModels | None = open_read_models()
    except StoreNotFoundError:
        probe = None
    if probe is not None:
        try:
            if not probe.is_behind(names):
                return probe
        except BaseException:
            probe.close()
            raise
        probe.close()
    catch_up(names)
    return open_read_models()


def resolve_thread(read_models: ReadModels, prefix: str) -> str:
    """The one thread id that starts with ``prefix``."""
    matches = read_models.find_threads(prefix)
    if not matches:
        raise ThreadNotFoundError(f"no thread {prefix!r}")
    if len(matches) > 1:
        raise AmbiguousThreadError(f"{prefix!r} matches more than one thread; give more of the id")
    return matches[0]


class ThreadPage(TypedDict):
    threads: list[Row]
    """Each with its ``cursor``: the query's ``after`` to continue strictly after it."""
    next_cursor: str | None
    """Where the next page starts; None when this is the last."""


def list_threads(read_models: ReadModels, query: ThreadQuery) -> ThreadPage:
    """A page of the thread list."""
    import orjson

    from threadline.application.read_queries import row_cursor

    rows = read_models.threads(query)
    more = query.limit is not None and len(rows) > query.limit
    rows = rows[: query.limit]
    for row in rows:
        row["models"] = orjson.loads(row["models"])
        row["cursor"] = row_cursor(query, row)
    return {"threads": rows, "next_cursor": rows[-1]["cursor"] if more else None}


class ThreadHistory(TypedDict):
    thread: Row
    items: list[Row]
    """In full (every referenced value read back), each with its ``position``."""
    next_position: int | None
    """The position after the last item given; None when the thread has no more."""


def show_thread(
    read_models: ReadModels, prefix: str, start: int = 0, limit: int | None = None
) -> ThreadHistory:
    """A thread (a unique id prefix is enough) and its items from position ``start``."""
    import orjson

    from threadline.application.history import SourceLines, thread_items

    thread_id = resolve_thread(read_models, prefix)
    thread = read_models.thread(thread_id)
    if thread is None:  # deleted between the two reads
        raise ThreadNotFoundError(f"no thread {prefix!r}")
    lines = SourceLines(QueryBlobs(read_models))
    items = thread_items(read_models, orjson.loads, lines, thread_id, start, limit)
    thread["models"] = orjson.loads(thread["models"])
    last = items[-1]["position"] if items else start - 1
    next_position = last + 1 if last + 1 < thread["item_count"] else None
    return {"thread": thread, "items": items, "next_position": next_position}


def search(read_models: ReadModels, query: SearchQuery) -> list[Row]:
    """The items that have every word of the query, best first, each with its ``score``
    (higher is better) and a ``snippet`` with the matched words marked."""
    rows = read_models.search(query)
    for row in rows:
        row["score"] = -row.pop("rank")
    return rows


def ledger(read_models: ReadModels) -> list[Row]:
    """Which version of each source is in which thread."""
    return read_models.ledger()
