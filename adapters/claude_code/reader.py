"""Finding Claude Code transcripts and reading each in one pass.

One pass over a file reads it in large blocks, cuts them into pages of whole
lines, hashes the pages, stores each page as a content-addressed blob and maps
its lines to items; a page is stored on a second thread while the page before
it is mapped. Memory stays bounded by the page size and the (small)
items, whatever the file size. A last line with no newline that is not valid
JSON is torn (still being written): it is left unconsumed for the next import.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import orjson

from threadline.adapters.claude_code import AGENT
from threadline.adapters.claude_code.discovery import discover, is_subagent_file, parent_transcript
from threadline.adapters.claude_code.mapping import UTF8_BOM, ThreadFacts, TranscriptMapper
from threadline.adapters.git import git_info
from threadline.application.ports import (
    BlobStore,
    Problem,
    ReadMode,
    ReadTranscript,
    ResumePoint,
    SourceFile,
    ThreadContent,
)
from threadline.domain.identity import imported_thread_id
from threadline.domain.items import Unknown
from threadline.domain.ledger import SourcePage, SourceVersion
from threadline.domain.session import GitInfo, ThreadSummary, TranscriptSource

PAGE_BYTES = 4 * 1024 * 1024
"""Target size of one stored page of source lines."""


class ClaudeCodeReader:
    agent = AGENT

    def discover(self, paths: Iterable[str]) -> tuple[list[SourceFile], list[Problem]]:
        return discover(paths)

    # -- one pass ------------------------------------------------------------

    def read(
        self, source: SourceFile, resume: ResumePoint | None, blobs: BlobStore
    ) -> ReadTranscript:
        path = source.path
        mapper = TranscriptMapper(path, blobs, is_subagent_file=is_subagent_file(path))
        pages: list[SourcePage] = []
        hasher = hashlib.sha256()
        mode: ReadMode = "full"
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            remaining = st.st_size
            offset, line_no = 0, 0
            ends_mid_line = False  # the consumed prefix ended without a newline
            if resume is not None and resume.consumed_bytes <= remaining:
                prefix, last = _hash_prefix(f, resume.consumed_bytes)
                ends_mid_line = resume.consumed_bytes > 0 and last != b"\n"
                continues = not ends_mid_line or f.read(1) in (b"\n", b"")
                if prefix.hexdigest() == resume.consumed_sha256 and continues:
                    hasher, mode = prefix, "append"
                    offset, line_no = resume.consumed_bytes, resume.consumed_lines
                    remaining -= offset
                    mapper.continue_chains(resume.sidechain_lines)
                f.seek(offset)
            if resume is not None and mode == "full":
                mode = "replace"
            # A last line consumed without its newline: the newline that arrives later
            # ends that line; it is not a blank line of its own.
            skip = 1 if mode == "append" and ends_mid_line else 0
            carry = b""
            # A page is hashed and stored on a second thread (both release the GIL)
            # while the lines of the page before it are mapped here, in file order.
            with ThreadPoolExecutor(1, thread_name_prefix="pages") as store:
                queued: _Queued | None = None
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
                    stored = store.submit(_store, page, hasher, blobs)
                    if queued is not None:
                        line_no = _map(queued, line_no, mapper, pages)
                    queued = _Queued(stored, page, skip)
                    offset += len(page)
                    skip = 0
                if queued is not None:
                    line_no = _map(queued, line_no, mapper, pages)
            consumed = hasher.copy()
            if carry:
                hasher.update(carry)
                if _is_complete_record(
                    carry[len(UTF8_BOM) :] if offset == 0 and carry.startswith(UTF8_BOM) else carry
                ):
                    key = _store(carry, consumed, blobs)
                    line_no = _map(_Queued(None, carry, skip, key), line_no, mapper, pages)
                    offset += len(carry)
                else:
                    mapper.problem(
                        line_no + 1,
                        "incomplete last line (no newline, not valid JSON); "
                        "left unread until it is complete",
                    )
        version = SourceVersion(
            size=st.st_size,
            mtime_ns=st.st_mtime_ns,
            sha256=hasher.hexdigest(),
            consumed_bytes=offset,
            consumed_sha256=consumed.hexdigest(),
            consumed_lines=line_no,
        )
        # Lines appended to a known transcript belong to it, whatever they hold.
        main, sidechains = self._threads(source, mapper, continuing=mode == "append")
        return ReadTranscript(
            sidechain_lines=mapper.sidechain_lines(),
            version=version,
            mode=mode,
            pages=pages,
            main=main,
            sidechains=sidechains,
            problems=mapper.problems,
        )

    # -- threads -------------------------------------------------------------

    def _threads(
        self, source: SourceFile, mapper: TranscriptMapper, *, continuing: bool
    ) -> tuple[ThreadContent | None, dict[str, ThreadContent]]:
        path = source.path
        facts = mapper.main
        if not continuing and not _looks_like_transcript(mapper):
            if facts.records or mapper.sidechains:
                mapper.problem(0, "no Claude Code conversation records; not a transcript")
            elif not mapper.problems:
                mapper.problem(0, "empty file; nothing to import")
            else:
                mapper.problem(0, "no readable records; not imported")
            return None, {}
        subagent = is_subagent_file(path)
        parent_key = parent_transcript(path, facts.session_id) if subagent else None
        main = ThreadContent(
            source=TranscriptSource(
                agent=AGENT,
                path=path,
                session_id=facts.session_id,
                agent_id=facts.agent_id if subagent else None,
            ),
            summary=self._summary(facts, mapper, source),
            items=facts.built_items(),
            parent_thread_id=imported_thread_id(AGENT, parent_key) if parent_key else None,
            spawned_by_call_id=_spawning_call(path, facts.agent_id) if subagent else None,
        )
        if facts.cwd is None and facts.records and not continuing:
            mapper.problem(0, "no 'cwd' in any record; imported without a working directory")
        sidechains = {
            root: ThreadContent(
                source=TranscriptSource(
                    agent=AGENT,
                    path=path,
                    session_id=side.session_id or facts.session_id,
                    agent_id=side.agent_id,
                ),
                summary=self._summary(side, mapper, source, fallback_cwd=facts.cwd),
                items=side.built_items(),
            )
            for root, side in mapper.sidechains.items()
        }
        return main, sidechains

    def _summary(
        self,
        facts: ThreadFacts,
        mapper: TranscriptMapper,
        source: SourceFile,
        fallback_cwd: str | None = None,
    ) -> ThreadSummary:
        cwd = facts.cwd or fallback_cwd
        git = git_info(cwd) if cwd else None
        if git is None and facts.git_branch and facts.git_branch != "HEAD":
            git = GitInfo(branch=facts.git_branch)
        title, title_source = facts.title()
        return ThreadSummary(
            title=title,
            title_source=title_source,  # type: ignore[arg-type]
            preview=mapper.preview(facts),
            first_user_message=mapper.first_user_message(facts),
            cwd=cwd,
            git=git,
            models=facts.models,
            created_at=facts.first_timestamp,
            updated_at=facts.last_timestamp,
        )


@dataclass
class _Queued:
    """A page whose lines are mapped once it is stored (``stored`` gives its blob key)."""

    stored: Future[str] | None
    page: bytes
    skip: int
    """Bytes at the start that end a line read before."""
    key: str = ""


def _store(page: bytes, hasher: hashlib._Hash, blobs: BlobStore) -> str:
    """Hash one page into the file's hash and store it; its blob key."""
    hasher.update(page)
    return blobs.put(page)


def _map(queued: _Queued, line_no: int, mapper: TranscriptMapper, pages: list[SourcePage]) -> int:
    """Map the lines of a stored page; the number of the last."""
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
        mapper.feed(line_no, view[start:stop], key, start)
        start = stop + 1
    return line_no


def _spawning_call(path: str, agent_id: str | None) -> str | None:
    """The Task/Agent tool call that spawned a sub-agent, from its meta file when present."""
    p = Path(path)
    meta = p.with_name(p.name.removesuffix(".jsonl") + ".meta.json")
    try:
        data = orjson.loads(meta.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    call = data.get("toolUseId") if isinstance(data, dict) else None
    return call if isinstance(call, str) else None


def _looks_like_transcript(mapper: TranscriptMapper) -> bool:
    """A session id on some line, or some record the mapper understood."""
    threads = [mapper.main, *mapper.sidechains.values()]
    return any(t.session_id for t in threads) or any(
        not isinstance(item, Unknown) for t in threads for item in t.items
    )


def _is_complete_record(data: bytes) -> bool:
    try:
        return isinstance(orjson.loads(data), dict)
    except orjson.JSONDecodeError:
        return False


def _hash_prefix(f: object, length: int) -> tuple[hashlib._Hash, bytes]:
    """The sha256 of the first ``length`` bytes, and the last of those bytes."""
    hasher = hashlib.sha256()
    remaining = length
    last = b""
    while remaining > 0:
        chunk = f.read(min(PAGE_BYTES, remaining))  # type: ignore[attr-defined]
        if not chunk:
            break
        hasher.update(chunk)
        last = chunk[-1:]
        remaining -= len(chunk)
    return hasher, last
