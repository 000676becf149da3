"""The shared store: PostgreSQL, through the eventsourcing library's own persistence.

Everything lives in one schema, ``threadline``, of the database the URL names:
the library's ``threadline_events`` and ``threadline_tracking`` tables, the
content-addressed ``blobs`` and the read models (``postgres_read_models``).

Settings, and why (ADR 0009):
- ``EventsRecorder``: the library's application recorder with one method
  changed, how a save's events are sent (below).
- pre-ping and a pool that grows on demand: a server restart drops every pooled
  connection, and the next use gets a fresh one instead of an error.
- lock and idle-in-transaction timeouts of a minute: an importer waiting for the
  events table's insert lock waits, but never forever.
"""

from __future__ import annotations

import getpass
import hashlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from eventsourcing.persistence import (
    InterfaceError,
    OperationalError,
    PersistenceError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import get_topic, retry
from psycopg.conninfo import conninfo_to_dict
from psycopg.sql import SQL, Identifier

from threadline.adapters.persistence.postgres_connection import (
    CONNECT_TIMEOUT_SECONDS,
    SCHEMA,
    connect,
)
from threadline.adapters.persistence.read_models import (
    SCHEMA_VERSION as READ_MODEL_SCHEMA_VERSION,
)

CREATION_LOCK_KEY = 0x7468726561646C6E
"""The advisory lock held while a process creates the schema and tables ("threadln")."""


class EventsRecorder(PostgresApplicationRecorder):
    """The library's recorder, sending a save's events as four binary arrays.

    The library offers two ways to insert: a pipelined ``INSERT … unnest`` of a
    composite array, which hangs in psycopg once a save carries more than a few
    MB, and a plpgsql function that does not lock the table, so two saves can
    commit out of notification-id order and a catch-up could pass over the
    earlier one for good. Both send the events as text (bytea as hex) that the
    server parses back. This does what the pipelined path does, in the same
    order: the table's EXCLUSIVE lock (commit order = notification order), NOTIFY,
    then one INSERT of ``unnest`` over binary arrays, no pipeline.
    """

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.insert_arrays_statement = SQL(
            "INSERT INTO {0}.{1} (originator_id, originator_version, topic, state)"
            " SELECT * FROM unnest(%s::uuid[], %s::bigint[], %s::text[], %b::bytea[])"
            " RETURNING notification_id"
        ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name))

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        with self.datastore.transaction(commit=True) as curs:
            self._insert_events(curs, stored_events, **kwargs)
            if not stored_events:
                return []
            self._lock_table(curs)
            self._notify_channel(curs)
            curs.execute(
                self.insert_arrays_statement,
                (
                    [e.originator_id for e in stored_events],
                    [e.originator_version for e in stored_events],
                    [e.topic for e in stored_events],
                    [e.state for e in stored_events],
                ),
            )
            return [row["notification_id"] for row in curs.fetchall()]


WaitForSaves = Callable[[float, threading.Event], bool]
"""``wait(seconds, stop)``: True once events were saved, False after ``seconds`` or on stop."""

POLL_SLICE_SECONDS = 0.1
"""How often a wait looks at ``stop``: a SIGTERM ends ``project --follow`` this soon."""


@contextmanager
def listening_for_saves(url: str, channel: str) -> Iterator[WaitForSaves]:
    """Waits that end as soon as any process saves events: every save NOTIFYs ``channel``
    (``EventsRecorder.insert_events``). Listening starts before this yields, so a save
    made while the caller catches up wakes the next wait at once."""
    with connect(url, autocommit=True) as conn:
        conn.execute(SQL("LISTEN {0}").format(Identifier(channel)))

        def wait(seconds: float, stop: threading.Event) -> bool:
            deadline = time.monotonic() + seconds
            while not stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                if any(conn.notifies(timeout=min(left, POLL_SLICE_SECONDS), stop_after=1)):
                    for _ in conn.notifies(timeout=0):  # one catch-up answers every save so far
                        pass
                    return True
            return False

        yield wait


def postgres_env(url: str) -> dict[str, str]:
    """The library's PostgreSQL settings for the database ``url`` names."""
    info = conninfo_to_dict(url)
    user = str(info.get("user") or getpass.getuser())
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": str(info.get("dbname") or user),
        "POSTGRES_HOST": str(info.get("host") or "localhost"),
        "POSTGRES_PORT": str(info.get("port") or 5432),
        "POSTGRES_USER": user,
        "POSTGRES_PASSWORD": str(info.get("password") or ""),
        "POSTGRES_SCHEMA": SCHEMA,
        "APPLICATION_RECORDER_TOPIC": get_topic(EventsRecorder),
        "POSTGRES_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT_SECONDS),
        "POSTGRES_POOL_SIZE": "1",
        "POSTGRES_MAX_OVERFLOW": "8",
        "POSTGRES_PRE_PING": "y",
        "POSTGRES_LOCK_TIMEOUT": "60",
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "60",
    }


@contextmanager
def creation_lock(url: str) -> Iterator[bool]:
    """Held while a process creates the schema and tables, so two never race to; yields
    whether the store is there already, complete and of this read-model schema version."""
    try:
        conn = connect(url, autocommit=True)
        conn.execute("SELECT pg_advisory_lock(%s)", (CREATION_LOCK_KEY,))
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        created = _is_created(conn)
    except psycopg.OperationalError as exc:  # as the library's own: the retry policy knows it
        raise OperationalError(str(exc)) from exc
    with conn:
        yield created  # the lock goes with the connection


def _is_created(conn: psycopg.Connection[Any]) -> bool:
    """The blob table is made last, after the read models recorded their schema version."""
    if conn.execute(f"SELECT to_regclass('{SCHEMA}.blobs')").fetchone() == (None,):
        return False
    row = conn.execute(f"SELECT max(version) FROM {SCHEMA}.read_model_schema").fetchone()
    return row is not None and row[0] == READ_MODEL_SCHEMA_VERSION


def compress_with_lz4(datastore: PostgresDatastore, table: str, column: str) -> None:
    """Large values of ``table.column`` compressed with lz4 rather than the default pglz,
    which compresses at ~30 MiB/s and would be most of an import's time (ADR 0009).
    A server built without lz4 keeps its default."""
    try:
        with datastore.transaction(commit=True) as c:
            c.execute(f"ALTER TABLE {SCHEMA}.{table} ALTER COLUMN {column} SET COMPRESSION lz4")
    except PersistenceError:
        pass


class PostgresBlobStore:
    """Content-addressed, immutable bytes in the store's own database."""

    def __init__(self, datastore: PostgresDatastore) -> None:
        self.datastore = datastore

    @classmethod
    def create(cls, datastore: PostgresDatastore) -> PostgresBlobStore:
        """The blob store, its table created if needed."""
        with datastore.transaction(commit=True) as c:
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {SCHEMA}.blobs"
                " (key TEXT PRIMARY KEY, data BYTEA NOT NULL)"
            )
        compress_with_lz4(datastore, "blobs", "data")
        return cls(datastore)

    def put(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                f"INSERT INTO {SCHEMA}.blobs (key, data) VALUES (%s, %b)"
                " ON CONFLICT (key) DO NOTHING",
                (key, data),
            )
        return key

    def get(self, key: str) -> bytes:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT data FROM {SCHEMA}.blobs WHERE key = %s", (key,))
            row = c.fetchone()
        if row is None:
            raise KeyError(f"no blob {key}")
        return bytes(row["data"])
