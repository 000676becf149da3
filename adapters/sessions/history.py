"""The prompt log, ``THREADLINE_HOME/history.jsonl``: one line per submitted prompt.

``{"session_id": ..., "ts": <unix seconds>, "text": ...}``, global across
sessions, after Codex's ``message_history``. Each line is one ``write`` on an
``O_APPEND`` descriptor under an exclusive ``flock``; the file is owner-only
(0600). Its metadata is a stable log id and the entry count (newline bytes,
counted a megabyte at a time). The log id is a uuid kept beside the log in
``history.id`` with the log's inode: a log replaced by another file gets a new
id, so offsets into the old one are not used against the new one.
"""

from __future__ import annotations

import fcntl
import os
import time
import uuid
from uuid import UUID

import orjson

from application.sessions import HistoryMetadata

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
            self._log_id(os.fstat(fd).st_ino)
            os.write(fd, line + b"\n")
        finally:
            os.close(fd)  # releases the lock

    def metadata(self) -> HistoryMetadata:
        """(log id, entry count); a missing or unreadable log gives ("", 0)."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return HistoryMetadata(log_id="", entry_count=0)
        try:
            count = 0
            while chunk := os.read(fd, CHUNK):
                count += chunk.count(b"\n")
            return HistoryMetadata(log_id=self._log_id(os.fstat(fd).st_ino), entry_count=count)
        except OSError:
            return HistoryMetadata(log_id="", entry_count=0)
        finally:
            os.close(fd)

    def _log_id(self, inode: int) -> str:
        """The log's id, minted the first time this inode is seen."""
        try:
            with open(self.id_path, "rb") as f:
                known = orjson.loads(f.read())
            if known.get("inode") == inode:
                return str(known["log_id"])
        except (OSError, ValueError, KeyError, AttributeError):
            pass
        log_id = str(uuid.uuid4())
        tmp = f"{self.id_path}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, orjson.dumps({"log_id": log_id, "inode": inode}))
        finally:
            os.close(fd)
        os.replace(tmp, self.id_path)
        return log_id
