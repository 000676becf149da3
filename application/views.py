"""The read side's port: what every face (the CLI, the web app, exports, usage, the MCP
server) asks of the read models, whichever store holds them.

Light on purpose (standard library only at import time): a read command imports this
before it knows whether the event-sourcing stack is needed at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from threadline.application.read_queries import SearchQuery, ThreadQuery

Row = dict[str, Any]


MARK_START = "\x02"
MARK_END = "\x03"
"""Around each match in a search snippet; the CLI turns them into highlighting or ``**``."""


class StoreNotFoundError(Exception):
    """There is no store at that location yet."""


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

    def blob(self, key: str) -> bytes: ...


class QueryBlobs:
    """The blob store, read-only, for resolving references while reading history."""

    def __init__(self, queries: ReadModels) -> None:
        self.queries = queries

    def put(self, data: bytes) -> str:  # pragma: no cover - never called on the read path
        raise PermissionError("the read path does not write blobs")

    def get(self, key: str) -> bytes:
        return self.queries.blob(key)
