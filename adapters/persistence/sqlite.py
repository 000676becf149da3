"""The embedded store: one SQLite file holding events, blobs and read models.

The library's SQLite persistence, tuned: WAL (the library's default) with
``synchronous=NORMAL`` (each commit stays atomic; only the last commits before
a power cut may be lost), write transactions that take the write lock up front
(``BEGIN IMMEDIATE``, so a writer waits for the lock instead of failing on an
upgrade), and a file created owner-only because transcripts hold secrets.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from eventsourcing.persistence import OperationalError
from eventsourcing.sqlite import (
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteFactory,
    SQLiteTransaction,
)
from eventsourcing.utils import Environment, EnvType

from threadline.adapters.persistence.compression import (
    MAGIC,
    BlobPage,
    decode_blob,
    encode_blob,
)
from threadline.adapters.persistence.sqlite_queries import DB_FILENAME

LOCK_TIMEOUT_SECONDS = 30
PAGE_SIZE = 4096
"""SQLite's default: every table and index costs at least a page, and every write a
page per B-tree it touches (ADR 0015; stores made with 64 KiB pages keep them until
``vacuum``)."""
WAL_CHECKPOINT_BYTES = 64 * 1024 * 1024
"""A commit checkpoints once the log holds 64 MiB, as 1,000 pages of 64 KiB did (ADR 0005)."""
PRAGMAS = (
    "PRAGMA synchronous=NORMAL",
    "PRAGMA cache_size=-65536",
    "PRAGMA temp_store=MEMORY",
)


LOCK_FILENAME = "threadline.lock"


@contextmanager
def creation_lock(home: str) -> Iterator[None]:
    """Held while a process opens the store, so two never race to create its tables."""
    fd = os.open(os.path.join(home, LOCK_FILENAME), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def prepare_home(home: str) -> None:
    """Create the Threadline home, owner-only (0700)."""
    if os.path.exists(home) and not os.path.isdir(home):
        raise NotADirectoryError(f"{home} is not a directory")
    os.makedirs(home, mode=0o700, exist_ok=True)


def prepare_database(home: str) -> str:
    """Create the database file (0600) if needed and return its path.

    Call under ``creation_lock``: a new file gets its page size and WAL mode here.
    """
    path = os.path.join(home, DB_FILENAME)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    is_new = os.fstat(fd).st_size == 0
    os.close(fd)
    if is_new:
        # Only takes effect before the first table is created.
        conn = sqlite3.connect(path)
        try:
            conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
            conn.execute("PRAGMA journal_mode=WAL")
        finally:
            conn.close()
    return path


class _ImmediateTransaction(SQLiteTransaction):
    def __enter__(self) -> SQLiteCursor:
        cursor = self.connection.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE" if self.commit else "BEGIN")
        except sqlite3.OperationalError as exc:  # the lock timed out: say so in the
            raise OperationalError(exc) from exc  # library's terms, as a commit would
        return cursor


class _Connection(SQLiteConnection):
    @contextmanager
    def transaction(self, *, commit: bool) -> Iterator[SQLiteCursor]:
        with _ImmediateTransaction(self, commit=commit) as curs, curs:
            yield curs

    @property
    def raw(self) -> sqlite3.Connection:
        return self._sqlite_conn


class _TunedPool(SQLiteConnectionPool):
    def _create_connection(self) -> SQLiteConnection:
        old_umask = os.umask(0o077)  # the -wal and -shm files are owner-only too
        try:
            conn = super()._create_connection()
        finally:
            os.umask(old_umask)
        raw = conn._sqlite_conn
        for pragma in PRAGMAS:
            raw.execute(pragma)
        (page_size,) = raw.execute("PRAGMA page_size").fetchone()  # a store's own
        raw.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_BYTES // page_size}")
        return _Connection(raw, max_age=self.max_age)


class ThreadlineSQLiteFactory(SQLiteFactory):
    """The library's SQLite factory with Threadline's connection settings."""

    def __init__(self, env: Environment | EnvType | None):
        super().__init__(env)
        old = self.datastore.pool
        self.datastore.pool = _TunedPool(
            db_name=old.db_name,
            lock_timeout=old.lock_timeout or LOCK_TIMEOUT_SECONDS,
        )
        old.close()


def sqlite_env(db_path: str) -> dict[str, str]:
    from eventsourcing.utils import get_topic

    return {
        "PERSISTENCE_MODULE": get_topic(ThreadlineSQLiteFactory),
        "SQLITE_DBNAME": db_path,
        "SQLITE_LOCK_TIMEOUT": str(LOCK_TIMEOUT_SECONDS),
    }


class SQLiteBlobStore:
    """Content-addressed, immutable bytes in the store's own file, compressed
    (``compression``; the key is the sha256 of the original bytes)."""

    CREATE = "CREATE TABLE IF NOT EXISTS blobs (key TEXT PRIMARY KEY, data BLOB NOT NULL)"
    CODEC_MARK = "blob_codec"
    """A table that says every blob is either encoded or raw without the codec's magic."""

    def __init__(self, datastore: SQLiteDatastore) -> None:
        self.datastore = datastore
        with self.datastore.transaction(commit=True) as c:
            c.execute(self.CREATE)
            c.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (self.CODEC_MARK,))
            if c.fetchone() is None:
                upgrade_raw_blobs(c)
                c.execute(f"CREATE TABLE {self.CODEC_MARK} (version INTEGER NOT NULL)")
                c.execute(f"INSERT INTO {self.CODEC_MARK} VALUES (1)")

    def put(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        stored = encode_blob(data)  # outside the write lock: it is most of the time
        with self.datastore.transaction(commit=True) as c:
            c.execute("INSERT OR IGNORE INTO blobs (key, data) VALUES (?, ?)", (key, stored))
        return key

    def stored(self, key: str) -> bytes:
        """The blob as stored (encoded, or raw if written before compression)."""
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT data FROM blobs WHERE key = ?", (key,))
            row = c.fetchone()
        if row is None:
            raise KeyError(f"no blob {key}")
        return bytes(row[0])

    def get(self, key: str) -> bytes:
        return decode_blob(self.stored(key))

    def page(self, key: str) -> BlobPage:
        return BlobPage.of(self.stored(key))


def upgrade_raw_blobs(c: SQLiteCursor) -> int:
    """Blobs written raw (before compression) that start as encoded ones do are
    re-encoded, so that no reader takes them for encoded; how many there were."""
    c.execute("SELECT key, data FROM blobs WHERE substr(data, 1, ?) = ?", (len(MAGIC), MAGIC))
    found = [(bytes(data), key) for key, data in c.fetchall()]
    for data, key in found:
        c.execute("UPDATE blobs SET data = ? WHERE key = ?", (encode_blob(data), key))
    return len(found)
