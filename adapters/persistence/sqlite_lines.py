"""Texts left in source lines, read straight from the blob table of the store's file."""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from types import TracebackType

from threadline.adapters.persistence.compression import MAGIC, BlobPage
from threadline.application.history import SourceLines

OPEN_BLOBS = 4
"""Blobs kept open, each with its last few decompressed frames; the least recent is closed."""


class SQLiteSourceLines(SourceLines):
    """Source lines read straight from the blob table, only the bytes of each line
    (incremental blob I/O): a compressed page's index and the frames holding the line,
    not the multi-megabyte page around it; a context manager that closes the blobs
    it opened."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._blobs: OrderedDict[str, sqlite3.Blob] = OrderedDict()
        self._readers: dict[str, BlobPage | None] = {}

    def _opened(self, key: str) -> tuple[sqlite3.Blob, BlobPage | None]:
        blob = self._blobs.get(key)
        if blob is not None:
            self._blobs.move_to_end(key)
        else:
            if len(self._blobs) >= OPEN_BLOBS:  # bounded memory: a page's lines come in order
                old, closing = self._blobs.popitem(last=False)
                closing.close()
                del self._readers[old]
            row = self.conn.execute("SELECT rowid FROM blobs WHERE key = ?", (key,)).fetchone()
            if row is None:
                raise KeyError(f"no blob {key}")
            blob = self._blobs[key] = self.conn.blobopen("blobs", "data", row[0], readonly=True)

            def read_at(offset: int, length: int, blob: sqlite3.Blob = blob) -> bytes:
                blob.seek(offset)
                return blob.read(length)

            encoded = read_at(0, len(MAGIC)) == MAGIC
            self._readers[key] = BlobPage(read_at) if encoded else None
        return blob, self._readers[key]

    def line(self, key: str, offset: int, length: int) -> bytes:
        blob, reader = self._opened(key)
        if reader is not None:
            return reader.read(offset, length)
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
        self._readers.clear()
