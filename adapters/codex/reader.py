"""Reading one Codex rollout: pages into the blob store, lines into items, the thread's
facts (title, cwd, git, lineage) from its meta, ``session_index.jsonl`` and the
importer's ledger."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import orjson

from threadline.adapters.codex import AGENT
from threadline.adapters.codex.discovery import (
    codex_home_of,
    conversation_of,
    discover,
    find_rollout,
    thread_id_of,
)
from threadline.adapters.codex.mapping import RolloutMapper
from threadline.adapters.git import git_info
from threadline.adapters.jsonl_pages import read_pages
from threadline.adapters.source_support import Lineage, LineageKind, LinkedThreadContent, as_str
from threadline.application.ports import (
    BlobStore,
    Problem,
    ReadTranscript,
    ResumePoint,
    SourceFile,
    name_conversations,
)
from threadline.domain.identity import imported_thread_id
from threadline.domain.session import GitInfo, ThreadSummary, TranscriptSource
from threadline.domain.titles import choose_title, first_line, truncate

CLAUDE_AGENT = "claude-code"
FIRST_MESSAGE_CHARS = 2000
IMPORT_LEDGER = "external_agent_session_imports.json"

name_conversations(AGENT, conversation_of)


class CodexReader:
    agent = AGENT

    def discover(self, paths: Iterable[str]) -> tuple[list[SourceFile], list[Problem]]:
        return discover(paths)

    def conversation_of(self, path: str) -> str | None:
        return conversation_of(path)

    def read(
        self, source: SourceFile, resume: ResumePoint | None, blobs: BlobStore
    ) -> ReadTranscript:
        path = source.path
        mapper = RolloutMapper(path, blobs)

        def started(mode: str) -> None:
            if mode == "append" and resume is not None:
                mapper.continuing = mapper.first_record_seen = True
                _load_meta(path, mapper)
                _load_turn_context(path, resume.consumed_bytes, mapper)

        paged = read_pages(path, resume, blobs, mapper.feed, on_start=started)
        if paged.torn is not None:
            mapper.problems.append(paged.torn)
        main = self._thread(source, mapper, continuing=paged.mode == "append")
        return ReadTranscript(
            version=paged.version,
            mode=paged.mode,
            pages=paged.pages,
            main=main,
            problems=mapper.problems,
            conversation_id=main.conversation_id if main is not None else None,
            copy_of=_exported_thread(mapper) if main is None else None,
        )

    def _thread(
        self, source: SourceFile, mapper: RolloutMapper, *, continuing: bool
    ) -> LinkedThreadContent | None:
        path = source.path
        items = mapper.built_items()
        exported = mapper.exported_from
        if exported is not None and not items:
            return None  # a copy of a thread, and nothing more: that thread's already
        if not continuing and mapper.meta.id is None and not (items and mapper.typed_records):
            if mapper.records == 0 and not mapper.problems:
                mapper.problem(0, "empty file; nothing to import")
            elif mapper.records == 0:
                mapper.problem(0, "no readable records; not imported")
            else:
                mapper.problem(0, "no Codex rollout records; not a rollout")
            return None
        meta = mapper.meta
        thread_id = meta.id or thread_id_of(path)
        home = codex_home_of(path)
        lineage: Lineage | None = None
        parent_id = meta.parent_thread_id or meta.forked_from_id or mapper.replayed_parent
        if parent_id:
            kind: LineageKind = (
                "fork" if meta.forked_from_id and not meta.parent_thread_id else "subagent"
            )
            parent_path = find_rollout(home, parent_id) if home else None
            lineage = Lineage(
                kind=kind, agent=AGENT, conversation_id=parent_id, source_path=parent_path
            )
        if mapper.imported_marker and home and thread_id:
            lineage = _imported_from(home, thread_id) or lineage
        if exported is not None:  # Codex went on from a thread exported to it
            lineage = Lineage(
                kind="imported",
                agent=str(exported.get("agent") or ""),
                conversation_id=as_str(exported.get("conversation_id")),
            )
        names = _index_names(home).get(thread_id or "", []) if home else []
        custom = names[-1] if names else (mapper.thread_names[-1] if mapper.thread_names else None)
        first_prompt = mapper.first_prompt or ""
        title, title_source = choose_title(custom, None, first_prompt)
        cwd = meta.cwd
        return LinkedThreadContent(
            source=TranscriptSource(
                agent=AGENT,
                path=path,
                session_id=thread_id,
                agent_id=meta.agent_nickname if meta.parent_thread_id else None,
            ),
            summary=ThreadSummary(
                title=title,
                title_source=title_source,
                preview=first_line(first_prompt),
                first_user_message=truncate(first_prompt, FIRST_MESSAGE_CHARS),
                cwd=cwd,
                git=_git(meta.git) or (git_info(cwd) if cwd and not continuing else None),
                models=mapper.models,
                created_at=meta.timestamp or mapper.first_timestamp,
                updated_at=mapper.last_timestamp,
            ),
            items=items,
            parent_conversation_id=parent_id,  # its thread: the application's (ADR 0011)
            spawned_by_call_id=meta.spawn_call_id,
            conversation_id=thread_id,
            lineage=lineage,
        )


def _git(raw: dict[str, Any] | None) -> GitInfo | None:
    if not raw:
        return None
    fields = {
        "branch": raw.get("branch"),
        "sha": raw.get("commit_hash"),
        "origin": raw.get("repository_url"),
    }
    clean = {k: v for k, v in fields.items() if isinstance(v, str) and v}
    return GitInfo(**clean) if clean else None


def _load_meta(path: str, mapper: RolloutMapper) -> None:
    """An appended read starts after the meta line: read it again (the first line only)."""
    try:
        with open(path, "rb") as f:
            first = f.readline()
        record = orjson.loads(first)
    except (OSError, orjson.JSONDecodeError):
        return
    if isinstance(record, dict) and record.get("type") == "session_meta":
        payload = record.get("payload")
        if isinstance(payload, dict):
            mapper.load_meta(payload)


TAIL_SCAN_BYTES = 8 * 1024 * 1024
"""How far back before the resume point to look for the turn context in force there."""


def _load_turn_context(path: str, end: int, mapper: RolloutMapper) -> None:
    """The model and effort in force where an appended read starts: the last
    ``turn_context`` line before it (read backwards, a block at a time)."""
    marker = b'"type":"turn_context"'
    start = end
    tail = b""
    with open(path, "rb") as f:
        while start > 0 and end - start < TAIL_SCAN_BYTES:
            step = min(256 * 1024, start)
            start -= step
            f.seek(start)
            tail = f.read(step) + tail
            at = tail.rfind(marker)
            if at < 0:
                continue
            line_start = tail.rfind(b"\n", 0, at) + 1
            if line_start == 0 and start > 0:
                continue  # the line begins before this block: read one more
            line_end = tail.find(b"\n", at)
            try:
                record = orjson.loads(tail[line_start : line_end if line_end >= 0 else None])
            except orjson.JSONDecodeError:
                return
            payload = record.get("payload") if isinstance(record, dict) else None
            if isinstance(payload, dict):
                mapper.restore_turn_context(payload)
            return


def _index_names(home: str) -> dict[str, list[str]]:
    """``session_index.jsonl``: thread names by thread id, oldest first (the newest wins)."""
    names: dict[str, list[str]] = {}
    try:
        with open(os.path.join(home, "session_index.jsonl"), "rb") as f:
            lines = f.read().splitlines()
    except OSError:
        return names
    entries = []
    for n, raw in enumerate(lines):
        try:
            entry = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("id"), str):
            name = entry.get("thread_name")
            if isinstance(name, str) and name.strip():
                entries.append((str(entry.get("updated_at") or ""), n, entry["id"], name.strip()))
    for _, _, tid, name in sorted(entries):
        names.setdefault(tid, []).append(name)
    return names


def _imported_from(home: str, thread_id: str) -> Lineage | None:
    """The Claude Code session Codex's importer made this thread from (its ledger)."""
    try:
        with open(os.path.join(home, IMPORT_LEDGER), "rb") as f:
            ledger = orjson.loads(f.read())
    except (OSError, orjson.JSONDecodeError):
        return Lineage(kind="imported", agent=CLAUDE_AGENT)
    records = ledger.get("records") if isinstance(ledger, dict) else None
    for record in records if isinstance(records, list) else []:
        if isinstance(record, dict) and record.get("imported_thread_id") == thread_id:
            source = record.get("source_path")
            if isinstance(source, str):
                stem = os.path.basename(source).removesuffix(".jsonl")
                return Lineage(
                    kind="imported", agent=CLAUDE_AGENT, conversation_id=stem, source_path=source
                )
    return Lineage(kind="imported", agent=CLAUDE_AGENT)


def claude_thread_id(lineage: Lineage) -> Any:
    """Today's id of the Claude Code thread an imported rollout came from (by its path)."""
    if lineage.kind != "imported" or not lineage.source_path:
        return None
    return imported_thread_id(CLAUDE_AGENT, os.path.realpath(lineage.source_path))


def _exported_thread(mapper: RolloutMapper) -> str | None:
    """The thread a rollout ``threadline export`` wrote is a copy of, when Codex added
    nothing to it."""
    exported = mapper.exported_from
    return as_str(exported.get("thread_id")) if exported is not None else None
