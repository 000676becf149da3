"""The web app's PostgreSQL connections, kept open between requests (ADR 0012).

Connecting cost each request 3-8 ms; a pool (psycopg's own) lends a connection for a
request's session and takes it back. Imported only when a web app reads PostgreSQL.
"""

from __future__ import annotations

from psycopg_pool import ConnectionPool, PoolTimeout

from threadline.adapters.persistence.postgres_connection import CONNECT_TIMEOUT_SECONDS, SCHEMA
from threadline.adapters.persistence.postgres_queries import PostgresReadModelQueries
from threadline.application.views import StoreNotFoundError


class PostgresPool:
    """Up to ``size`` connections to ``database_url``, opened as
    ``postgres_connection.connect`` opens one."""

    def __init__(self, database_url: str, size: int) -> None:
        self.pool = ConnectionPool(
            database_url,
            min_size=1,
            max_size=size,
            kwargs={
                "autocommit": True,
                # Never prepared: a kept connection plans each query as a fresh one did
                # (a generic plan of a search would not know its words).
                "prepare_threshold": None,
                "connect_timeout": CONNECT_TIMEOUT_SECONDS,
                "options": f"-c search_path={SCHEMA}",
            },
            check=ConnectionPool.check_connection,  # not one a server restart dropped
            timeout=CONNECT_TIMEOUT_SECONDS,
            name="threadline-web",
            open=True,
        )

    def queries(self) -> PooledQueries:
        return PooledQueries(self.pool)

    def close(self) -> None:
        self.pool.close()


class PooledQueries(PostgresReadModelQueries):
    """The read-model queries on a connection lent by the pool; ``close`` gives it back."""

    def __init__(self, pool: ConnectionPool) -> None:  # not the base's: no connect
        self.pool = pool
        try:
            self.conn = pool.getconn()
        except PoolTimeout as exc:
            raise StoreNotFoundError(f"cannot reach the database: {exc}") from exc

    def close(self) -> None:
        self.pool.putconn(self.conn)
