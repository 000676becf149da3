"""The prompt log, ``THREADLINE_HOME/history.jsonl``: one line per submitted prompt.

``{"session_id": ..., "ts": <unix seconds>, "text": ...}``, global across
sessions, after Codex's ``message_history``. Each line is one ``write`` on an
``O_APPEND`` descriptor under an exclusive ``flock``; the file is owner-only
(0600). Its metadata is a stable log id and the entry count (newline bytes,
counted a megabyte at a time). The log id is a uuid kept beside the log in
``history.id`` with the log's inode: a log replaced by another file gets a new
id, so offsets into the old one are not used against the new one. The same
file keeps the count up to a size, so a start-up reads only what was
appended since the last one (every file in it is written whole, then renamed).
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
import uuid
from typing import Any
from uuid import UUID

import orjson

from threadline.application.sessions import HistoryMetadata

LOG_FILENAME = "history.jsonl"
ID_FILENAME = "history.id"
CHUNK = 1 << 20


class PromptLog:
    def __init__(self, home: str) -> None:
        self.home = home
        self.path = os.path.join(home, LOG_FILENAME)
        self.id_path = os.path.join(home, ID_FILENAME)

    def append(self, session_id: UUID, text: str) -> None:
        line = orjson.dumps({"session_id": str(session_id), "ts": int(time.time()), "text": text})
        os.makedirs(self.home, mode=0o700, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.fchmod(fd, 0o600)
            st = os.fstat(fd)
            index = self._index(st.st_ino)
            os.write(fd, line + b"\n")
            if index.get("size") == st.st_size:
                self._save_index(index, st.st_size + len(line) + 1, index["count"] + 1)
        finally:
            os.close(fd)  # releases the lock

    def metadata(self) -> HistoryMetadata:
        """(log id, entry count); a missing or unreadable log gives ("", 0).

        The count continues from the last one kept in ``history.id`` (the log
        only grows), so only bytes appended since are read.
        """
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return HistoryMetadata(log_id="", entry_count=0)
        try:
            st = os.fstat(fd)
            index = self._index(st.st_ino)
            size, count = index.get("size", 0), index.get("count", 0)
            if size > st.st_size:  # trimmed or rewritten: count again
                size, count = 0, 0
            if size < st.st_size:
                os.lseek(fd, size, os.SEEK_SET)
                while chunk := os.read(fd, CHUNK):
                    count += chunk.count(b"\n")
                    size += len(chunk)
                self._save_index(index, size, count)
            return HistoryMetadata(log_id=index["log_id"], entry_count=count)
        except OSError:
            return HistoryMetadata(log_id="", entry_count=0)
        finally:
            os.close(fd)

    def _index(self, inode: int) -> dict[str, Any]:
        """What ``history.id`` knows of this log: its id, and its count up to a size.

        A log id is minted the first time an inode is seen.
        """
        try:
            with open(self.id_path, "rb") as f:
                known = orjson.loads(f.read())
            if isinstance(known, dict) and known.get("inode") == inode and known.get("log_id"):
                return known
        except (OSError, ValueError):
            pass
        index = {"log_id": str(uuid.uuid4()), "inode": inode, "size": 0, "count": 0}
        self._write(index)
        return index

    def _save_index(self, index: dict[str, Any], size: int, count: int) -> None:
        self._write({**index, "size": size, "count": count})

    def _write(self, index: dict[str, Any]) -> None:
        tmp = f"{self.id_path}.{os.getpid()}.{threading.get_ident()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, orjson.dumps(index))
        finally:
            os.close(fd)
        os.replace(tmp, self.id_path)
