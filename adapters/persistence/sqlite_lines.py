"""Texts left in source lines, read straight from the blob table of the store's file."""

from __future__ import annotations

import sqlite3
from types import TracebackType

from threadline.application.history import SourceLines


class SQLiteSourceLines(SourceLines):
    """Source lines read straight from the blob table, only the bytes of each line
    (incremental blob I/O), not the multi-megabyte page around it; a context manager
    that closes the blobs it opened."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._blobs: dict[str, sqlite3.Blob] = {}

    def line(self, key: str, offset: int, length: int) -> bytes:
        blob = self._blobs.get(key)
        if blob is None:
            row = self.conn.execute("SELECT rowid FROM blobs WHERE key = ?", (key,)).fetchone()
            if row is None:
                raise KeyError(f"no blob {key}")
            blob = self._blobs[key] = self.conn.blobopen("blobs", "data", row[0], readonly=True)
        blob.seek(offset)
        return blob.read(length)

    def __enter__(self) -> SQLiteSourceLines:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for blob in self._blobs.values():
            blob.close()
        self._blobs.clear()
