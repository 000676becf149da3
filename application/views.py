"""The read side: its port, and the use cases every face (the CLI, the web app, exports,
usage, the MCP server) calls, whichever store holds the read models.

``ReadModels`` is the port; below it the views: catch up if behind, resolve an id
prefix, a page of the thread list, a thread's history, search, the ledger, usage. They take
the read models and plain queries, return plain data (dicts and lists, JSON-ready),
and raise the errors below for a face to turn into its own messages.

Light on purpose (standard library only at import time): a read command imports this
before it knows whether the event-sourcing stack is needed at all.
"""

from collections.abc import Callable, Sequence
from contextlib import closing
from typing import TYPE_CHECKING, Any, Protocol, TypedDict

if TYPE_CHECKING:
    from threadline.application.ports import Page
    from threadline.application.read_queries import SearchQuery, ThreadQuery
    from threadline.application.usage import Bucket, PriceTable, ReportKind, ThreadInfo

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


class ReadModelMissingError(Exception):
    """A read model's tables are not there (an older read model's, or dropped by hand)."""


class ReadModels(Protocol):
    """Queries over the read models (thread list, history, ledger, search, usage) and the
    stored bytes they point into. One code path for every store
    (``adapters/persistence/read_models.py``), thin subclasses per dialect."""

    def close(self) -> None: ...

    def is_behind(self, names: Sequence[str]) -> bool:
        """True when a named read model has not seen every stored event, or is outdated."""
        ...

    def threads(self, query: "ThreadQuery") -> list[Row]:
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

    def search(self, query: "SearchQuery") -> list[Row]:
        """Ranked matches, best first, each with a snippet marked by ``MARK_START`` and
        ``MARK_END`` and its ``rank`` (lower is better)."""
        ...

    def ledger(self) -> list[Row]: ...

    def recorded_versions(self) -> dict[str, tuple[int, int, str | None]]:
        """Per source path still on disk when last looked for, the size and mtime the
        ledger recorded, and its thread."""
        ...

    def blob(self, key: str) -> "Page":
        """A blob read by ranges (``page[a:b]``; ``bytes(page)`` for all of it)."""
        ...

    def usage_buckets(
        self, cwds: Sequence[str], sources: Sequence[str], by_thread: bool = True
    ) -> list[Row]:
        """The ``usage_buckets`` rows of the threads in those cwds and from those agents
        (all when empty); without ``by_thread``, each quarter-hour's and model's added up
        (thread id ``""``). Raises ``ReadModelMissingError`` without the usage tables."""
        ...

    def usage_copies(self) -> list[Row]:
        """Every ``usage_messages`` row of each message id that has more than one, with its
        thread's ``sidechain``."""
        ...

    def usage_threads(self) -> list[Row]:
        """Every ``usage_threads`` row: what a report groups a thread by."""
        ...


class QueryBlobs:
    """The blob store, read-only, for resolving references while reading history."""

    def __init__(self, queries: ReadModels) -> None:
        self.queries = queries

    def put(self, data: bytes) -> str:  # pragma: no cover - never called on the read path
        raise PermissionError("the read path does not write blobs")

    def get(self, key: str) -> bytes:
        return bytes(self.queries.blob(key))

    def page(self, key: str) -> "Page":
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


def list_threads(read_models: ReadModels, query: "ThreadQuery") -> ThreadPage:
    """A page of the thread list."""

    from threadline.application.read_queries import row_cursor

    rows = read_models.threads(query)
    more = query.limit is not None and len(rows) > query.limit
    rows = rows[: query.limit]
    for row in rows:
        thread_row(row)
        row["cursor"] = row_cursor(query, row)
    return {"threads": rows, "next_cursor": rows[-1]["cursor"] if more else None}


def thread_row(row: Row) -> Row:
    """A thread-list row as plain data: its models a list, its archived flag a bool."""
    import orjson

    row["models"] = orjson.loads(row["models"])
    row["archived"] = bool(row["archived"])
    return row


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
    thread_row(thread)
    last = items[-1]["position"] if items else start - 1
    next_position = last + 1 if last + 1 < thread["item_count"] else None
    return {"thread": thread, "items": items, "next_position": next_position}


def search(read_models: ReadModels, query: "SearchQuery") -> list[Row]:
    """The items that have every word of the query, best first, each with its ``score``
    (higher is better) and a ``snippet`` with the matched words marked."""
    rows = read_models.search(query)
    for row in rows:
        row["score"] = -row.pop("rank")
    return rows


def ledger(read_models: ReadModels) -> list[Row]:
    """Which version of each source is in which thread; ``gone``: no longer on disk."""
    rows = read_models.ledger()
    for row in rows:
        row["gone"] = bool(row["gone"])
    return rows


def usage(
    open_read_models: Callable[[], ReadModels],
    catch_up: Callable[[Sequence[str]], object],
    rebuild: Callable[[Sequence[str]], object],
    prices: "PriceTable",
    kind: "ReportKind" = "daily",
    *,
    since: str | None = None,
    until: str | None = None,
    sources: Sequence[str] = (),
    cwds: Sequence[str] = (),
    timezone: str | None = None,
) -> dict[str, Any]:
    """The report (``UsageReport.as_dict``: plain data) over the usage read model, caught
    up first if an import left it behind (``up_to_date``); its tables made anew and
    filled (``rebuild``) if they are missing (an older usage read model's, or dropped).

    Raises ``BadUsageQueryError`` for a bad date or zone."""
    from threadline.application.usage import NAME, build_report, date_range, zone_named

    dates = date_range(since, until)
    zone = zone_named(timezone)
    # With a filter, the buckets stay by thread: the copy that counts may be in a thread
    # the filter leaves out, and a lost copy is taken out of its own thread's bucket only.
    by_thread = kind in ("session", "project") or bool(cwds or sources)
    with closing(up_to_date(open_read_models, catch_up, [NAME])) as read_models:
        try:
            found = usage_buckets(read_models, cwds, sources, by_thread)
        except ReadModelMissingError:
            found = None
    if found is None:
        rebuild([NAME])
        with closing(open_read_models()) as read_models:
            found = usage_buckets(read_models, cwds, sources, by_thread)
    buckets, threads = found
    return build_report(kind, buckets, threads, prices, zone, dates).as_dict()


def usage_buckets(
    read_models: ReadModels, cwds: Sequence[str], sources: Sequence[str], by_thread: bool
) -> "tuple[list[Bucket], dict[str, ThreadInfo]]":
    """The counted buckets (each response once), and every thread's details when
    ``by_thread`` (else the buckets are all threads' added up, and no details are read)."""
    from threadline.application.row_changes import AddToUsageBucket
    from threadline.application.usage import ThreadInfo, bucket_from_row, count_once

    buckets = [
        bucket_from_row(AddToUsageBucket(**r))
        for r in read_models.usage_buckets(cwds, sources, by_thread)
    ]
    copies = read_models.usage_copies()
    threads: dict[str, ThreadInfo] = {}
    if by_thread:
        threads = {
            r["thread_id"]: ThreadInfo(r["agent"], r["cwd"], r["title"], r["parent_thread_id"])
            for r in read_models.usage_threads()
        }
    return count_once(buckets, copies, by_thread), threads
