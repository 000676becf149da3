"""Opening the read models for queries, on whichever store holds them.

Light on purpose: sqlite3 (or psycopg) and nothing else, so that a read command
starts fast and loads the event-sourcing stack only to catch up.
"""

from __future__ import annotations

from threadline.adapters.home import StoreLocation
from threadline.application.views import ReadModels


def open_queries(location: StoreLocation) -> ReadModels:
    """Raises ``StoreNotFoundError`` when there is no store there yet."""
    if location.database_url is None:
        from threadline.adapters.persistence.sqlite_queries import SQLiteReadModelQueries

        return SQLiteReadModelQueries(location.home)
    from threadline.adapters.persistence.postgres_queries import PostgresReadModelQueries

    return PostgresReadModelQueries(location.database_url)
