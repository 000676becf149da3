"""Opening the read models for queries, on whichever store holds them.

Light on purpose: sqlite3 (or psycopg) and nothing else, so that a read command
starts fast and loads the event-sourcing stack only to catch up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from threadline.adapters.home import StoreLocation
from threadline.adapters.persistence.sqlite_queries import ReadModelQueries

if TYPE_CHECKING:
    from threadline.adapters.persistence.postgres_queries import PostgresReadModelQueries

    Queries = ReadModelQueries | PostgresReadModelQueries


def open_queries(location: StoreLocation) -> Queries:
    """Raises ``StoreNotFoundError`` when there is no store there yet."""
    if location.database_url is None:
        return ReadModelQueries(location.home)
    from threadline.adapters.persistence.postgres_queries import PostgresReadModelQueries

    return PostgresReadModelQueries(location.database_url)
