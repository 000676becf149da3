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


class StoreNotFoundError(Exception):
    """There is no store at that location yet."""


class ReadModels(Protocol):
    """Queries over the read models (thread list, history, ledger, search) and the
    stored bytes they point into. One implementation per store dialect, one code path
    above it (``adapters/persistence/read_models.py``)."""

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

    def search(self, query: SearchQuery) -> list[Row]: ...

    def ledger(self) -> list[Row]: ...

    def recorded_versions(self) -> dict[str, tuple[int, int, str | None]]:
        """Per source path, the size and mtime the ledger recorded, and its thread."""
        ...

    def blob(self, key: str) -> bytes: ...
