"""Reading a JSON-lines source in pages: the part every line-based source shares.

The file is cut into pages of whole lines: a page ends at the last newline before
the end of each ``PAGE_BYTES`` block (or of the next, for a line longer than a
block), found by reading back from that end a little at a time, and is then read
once, exactly (no block, carry or page copies in hand). Each page is hashed into
the file's hash and stored as a content-addressed blob (ADR 0001), then its lines
are handed to a mapper with the blob key and offset that an item's ``SourceRef``
needs. A resume point whose prefix still hashes the
same continues after it ("append"); any other resume point reads the file again
("replace"). A last line with no newline that is not a complete JSON object is
torn (still being written): it is left unconsumed for the next read.

Every line-based reader (Claude Code, Codex, Gemini CLI, and the next agent's) reads
through ``read_pages`` and keeps only its own mapping of lines to items. Memory stays
bounded by the page size and the (small) items, whatever the file size.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson

from threadline.application.ports import BlobStore, Problem, ReadMode, ResumePoint
from threadline.domain.ledger import SourcePage, SourceVersion

PAGE_BYTES = 4 * 1024 * 1024
SCAN_BYTES = 64 * 1024
"""Read at a time from the end of a block, looking for where its last line ends."""
UTF8_BOM = b"\xef\xbb\xbf"
TORN_LINE = "incomplete last line (no newline, not valid JSON); left unread until it is complete"

LineSink = Callable[[int, memoryview, str, int], None]
"""``feed(line_number, raw_line, blob_key, offset_in_blob)``."""


@dataclass
class PagedRead:
    version: SourceVersion
    mode: ReadMode
    pages: list[SourcePage]
    torn: Problem | None
    """An incomplete last line, left unread until it is complete, if there is one."""


def read_pages(
    path: str,
    resume: ResumePoint | None,
    blobs: BlobStore,
    feed: LineSink,
    *,
    allow_append: bool = True,
    on_start: Callable[[ReadMode], None] | None = None,
) -> PagedRead:
    """Store the file's pages and feed each line read, from the resume point when its
    prefix is unchanged (and ``allow_append``), else from the start."""
    pages: list[SourcePage] = []
    hasher = hashlib.sha256()
    mode: ReadMode = "full"
    torn: Problem | None = None
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        offset, line_no = 0, 0
        ends_mid_line = False
        if resume is not None and allow_append and resume.consumed_bytes <= st.st_size:
            prefix, last = _hash_prefix(f, resume.consumed_bytes)
            ends_mid_line = resume.consumed_bytes > 0 and last != b"\n"
            continues = not ends_mid_line or f.read(1) in (b"\n", b"")
            if prefix.hexdigest() == resume.consumed_sha256 and continues:
                hasher, mode = prefix, "append"
                offset, line_no = resume.consumed_bytes, resume.consumed_lines
        if resume is not None and mode == "full":
            mode = "replace"
        skip = 1 if mode == "append" and ends_mid_line else 0
        if on_start is not None:
            on_start(mode)
        fd, start, bound, end = f.fileno(), offset, offset, st.st_size
        # A page is hashed and stored on a second thread (both release the GIL) while
        # the lines of the page before it are fed here, in file order.
        with ThreadPoolExecutor(1, thread_name_prefix="pages") as store:
            queued: _Queued | None = None
            while bound < end:
                low, bound = bound, min(bound + PAGE_BYTES, end)
                newline = _last_newline(fd, low, bound)
                if newline < 0:
                    continue  # no line ends in this block: the page takes in the next
                page = os.pread(fd, newline + 1 - start, start)
                if len(page) < newline + 1 - start:  # the file shrank: read no further
                    break
                stored = store.submit(_store, page, hasher, blobs)
                if queued is not None:
                    line_no = _feed_page(queued, line_no, feed, pages)
                queued = _Queued(stored, page, skip)
                start, skip = newline + 1, 0
            if queued is not None:
                line_no = _feed_page(queued, line_no, feed, pages)
        offset = start
        carry = os.pread(fd, end - start, start) if start < end else b""
        consumed = hasher.copy()
        if carry:
            hasher.update(carry)
            body = carry[len(UTF8_BOM) :] if offset == 0 and carry.startswith(UTF8_BOM) else carry
            if _is_complete_record(body):
                key = _store(carry, consumed, blobs)
                line_no = _feed_page(_Queued(None, carry, skip, key), line_no, feed, pages)
                offset += len(carry)
            else:
                torn = Problem(path, line_no + 1, TORN_LINE)
    version = SourceVersion(
        size=st.st_size,
        mtime_ns=st.st_mtime_ns,
        sha256=hasher.hexdigest(),
        consumed_bytes=offset,
        consumed_sha256=consumed.hexdigest(),
        consumed_lines=line_no,
    )
    return PagedRead(version=version, mode=mode, pages=pages, torn=torn)


@dataclass
class _Queued:
    """A page whose lines are fed once it is stored (``stored`` gives its blob key)."""

    stored: Future[str] | None
    page: bytes
    skip: int
    """Bytes at the start that end a line read before."""
    key: str = ""


def _last_newline(fd: int, low: int, high: int) -> int:
    """Where the last newline of the file's bytes ``low`` to ``high`` is (-1: none), read
    backwards a little at a time, not the whole block."""
    while high > low:
        at = max(low, high - SCAN_BYTES)
        found = os.pread(fd, high - at, at).rfind(b"\n")
        if found >= 0:
            return at + found
        high = at
    return -1


def _store(page: bytes, hasher: Any, blobs: BlobStore) -> str:
    """Hash one page into the file's hash and store it; its blob key."""
    hasher.update(page)
    return blobs.put(page)


def _feed_page(queued: _Queued, line_no: int, feed: LineSink, pages: list[SourcePage]) -> int:
    """Feed the lines of a stored page; the number of the last."""
    key = queued.stored.result() if queued.stored is not None else queued.key
    page = queued.page
    pages.append(SourcePage(blob=key, first_line=line_no + 1, size=len(page)))
    # Views into the page, not copies of its lines: orjson parses a view in place.
    view, find, end = memoryview(page), page.find, len(page)
    start = queued.skip
    while start < end:
        stop = find(b"\n", start)
        if stop < 0:
            stop = end
        line_no += 1
        feed(line_no, view[start:stop], key, start)
        start = stop + 1
    return line_no


def parse_line(
    number: int,
    raw: bytes | memoryview,
    path: str,
    problems: list[Problem],
    *,
    blank_is_problem: bool = False,
) -> dict[str, Any] | None:
    """One line as a JSON object, or None and a problem saying why not (a blank line is
    one only where the format never writes them)."""
    if number == 1 and bytes(raw[:3]) == UTF8_BOM:
        raw = raw[3:]
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        data = bytes(raw)
        if not data.strip():
            if blank_is_problem:
                problems.append(Problem(path, number, "blank line"))
            return None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            try:
                record = orjson.loads(data.decode("utf-8", "replace"))
            except orjson.JSONDecodeError:
                problems.append(Problem(path, number, "invalid UTF-8 and not JSON"))
                return None
            problems.append(
                Problem(path, number, "invalid UTF-8 (bad bytes read as U+FFFD; raw line kept)")
            )
        else:
            problems.append(Problem(path, number, json_error(exc, text)))
            return None
    if not isinstance(record, dict):
        problems.append(
            Problem(path, number, f"a JSON {type(record).__name__}, not a record object")
        )
        return None
    return record


def json_error(exc: orjson.JSONDecodeError, text: str) -> str:
    """Why a line of text is not JSON, in words."""
    if "\x00" in text:
        return "contains NUL bytes; not JSON"
    if text.lstrip().startswith(("{", "[")) and exc.pos >= len(text.rstrip()) - 1:
        return "truncated JSON (torn line)"
    return f"invalid JSON: {exc.msg} at column {exc.pos + 1}"


def _is_complete_record(data: bytes) -> bool:
    try:
        return isinstance(orjson.loads(data), dict)
    except orjson.JSONDecodeError:
        return False


def _hash_prefix(f: Any, length: int) -> tuple[Any, bytes]:
    hasher = hashlib.sha256()
    remaining = length
    last = b""
    while remaining > 0:
        chunk = f.read(min(PAGE_BYTES, remaining))
        if not chunk:
            break
        hasher.update(chunk)
        last = chunk[-1:]
        remaining -= len(chunk)
    return hasher, last
