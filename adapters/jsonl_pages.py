"""Reading a JSON-lines source in pages: the part every line-based source shares.

The file is read in large blocks and cut into pages of whole lines; each page
is hashed into the file's hash and stored as a content-addressed blob (ADR
0001), then its lines are handed to a mapper with the blob key and offset that
an item's ``SourceRef`` needs. A resume point whose prefix still hashes the
same continues after it ("append"); any other resume point reads the file again
("replace"). A last line with no newline that is not a complete JSON object is
torn (still being written): it is left unconsumed for the next read.

The same shape as ``adapters/claude_code/reader.py``, without its Claude Code
specifics, for the Codex and Gemini CLI readers (and the next agent's).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from threadline.application.ports import BlobStore, Problem, ReadMode, ResumePoint
from threadline.domain.ledger import SourcePage, SourceVersion

PAGE_BYTES = 4 * 1024 * 1024
UTF8_BOM = b"\xef\xbb\xbf"

LineSink = Callable[[int, memoryview, str, int], None]
"""``feed(line_number, raw_line, blob_key, offset_in_blob)``."""


@dataclass
class PagedRead:
    version: SourceVersion
    mode: ReadMode
    pages: list[SourcePage]
    torn_line: int | None
    """The number of an incomplete last line left unread, if any."""


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
    torn: int | None = None
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        remaining = st.st_size
        offset, line_no = 0, 0
        ends_mid_line = False
        if resume is not None and allow_append and resume.consumed_bytes <= remaining:
            prefix, last = _hash_prefix(f, resume.consumed_bytes)
            ends_mid_line = resume.consumed_bytes > 0 and last != b"\n"
            continues = not ends_mid_line or f.read(1) in (b"\n", b"")
            if prefix.hexdigest() == resume.consumed_sha256 and continues:
                hasher, mode = prefix, "append"
                offset, line_no = resume.consumed_bytes, resume.consumed_lines
                remaining -= offset
        f.seek(offset)
        if resume is not None and mode == "full":
            mode = "replace"
        skip = 1 if mode == "append" and ends_mid_line else 0
        if on_start is not None:
            on_start(mode)
        carry = b""
        while remaining > 0:
            block = f.read(min(PAGE_BYTES, remaining))
            if not block:
                break
            remaining -= len(block)
            data = carry + block if carry else block
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                carry = data
                continue
            page, carry = data[:cut], data[cut:]
            hasher.update(page)
            key = blobs.put(page)
            line_no = _feed_page(page, key, skip, line_no, feed, pages)
            offset += len(page)
            skip = 0
        consumed = hasher.copy()
        if carry:
            hasher.update(carry)
            body = carry[len(UTF8_BOM) :] if offset == 0 and carry.startswith(UTF8_BOM) else carry
            if _is_complete_record(body):
                consumed.update(carry)
                key = blobs.put(carry)
                line_no = _feed_page(carry, key, skip, line_no, feed, pages)
                offset += len(carry)
            else:
                torn = line_no + 1
    version = SourceVersion(
        size=st.st_size,
        mtime_ns=st.st_mtime_ns,
        sha256=hasher.hexdigest(),
        consumed_bytes=offset,
        consumed_sha256=consumed.hexdigest(),
        consumed_lines=line_no,
    )
    return PagedRead(version=version, mode=mode, pages=pages, torn_line=torn)


def _feed_page(
    page: bytes, key: str, skip: int, line_no: int, feed: LineSink, pages: list[SourcePage]
) -> int:
    pages.append(SourcePage(blob=key, first_line=line_no + 1, size=len(page)))
    view, find, end = memoryview(page), page.find, len(page)
    start = skip
    while start < end:
        stop = find(b"\n", start)
        if stop < 0:
            stop = end
        line_no += 1
        feed(line_no, view[start:stop], key, start)
        start = stop + 1
    return line_no


def parse_line(
    number: int, raw: bytes | memoryview, path: str, problems: list[Problem]
) -> dict[str, Any] | None:
    """One line as a JSON object, or None and a problem saying why not."""
    if number == 1 and bytes(raw[:3]) == UTF8_BOM:
        raw = raw[3:]
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        data = bytes(raw)
        if not data.strip():
            return None  # blank lines are harmless
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
            if text.lstrip().startswith(("{", "[")) and exc.pos >= len(text.rstrip()) - 1:
                reason = "truncated JSON (torn line)"
            else:
                reason = f"invalid JSON: {exc.msg} at column {exc.pos + 1}"
            problems.append(Problem(path, number, reason))
            return None
    if not isinstance(record, dict):
        problems.append(
            Problem(path, number, f"a JSON {type(record).__name__}, not a record object")
        )
        return None
    return record


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
