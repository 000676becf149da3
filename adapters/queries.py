"""Opening the read models for queries, on whichever store holds them, and catching
them up.

Light on purpose: sqlite3 (or psycopg) and nothing else, so that a read command
starts fast and loads the event-sourcing stack only to catch up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from threadline.adapters.home import StoreLocation
from threadline.application.views import ReadModels


def open_queries(location: StoreLocation) -> ReadModels:
    """Raises ``StoreNotFoundError`` when there is no store there yet."""
    if location.database_url is None:
        from threadline.adapters.persistence.sqlite_queries import SQLiteReadModelQueries

        return SQLiteReadModelQueries(location.home)
    from threadline.adapters.persistence.postgres_queries import PostgresReadModelQueries

    return PostgresReadModelQueries(location.database_url)


def catch_up(
    location: StoreLocation,
    names: Sequence[str],
    *,
    rebuild: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Bring the named read models up to the store's events (``rebuild``: drop them and
    replay every event); the store is made if there is none yet."""
    from threadline.adapters.store import open_store

    store = open_store(location)
    try:
        run = store.rebuild if rebuild else store.catch_up
        run(names=list(names), progress=progress)
    finally:
        store.close()
