"""Reading one OpenCode session: its rows (or JSON files) as one stored source.

OpenCode keeps a session in many rows or files, not in one file of lines, so the
reader writes the session down as lines of its own, one per record, in
conversation order: the session, its project, then each message followed by its
parts. A line is ``{"table", "row", "data"}``: the record's columns (or, in the
JSON tree, its file name) and its JSON document with its bytes as OpenCode
stored them. A document that cannot stand on one line verbatim (a pretty-printed
file, a corrupt row) is written compactly and its exact bytes are stored as a
blob of their own (``raw_blob``). The lines are stored in pages as every source
is (ADR 0001), so items point into them like into any transcript.

A session is read whole each time (OpenCode rewrites parts in place as a tool
runs), and from the database inside one read transaction: one consistent
snapshot while OpenCode may be writing.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterable
from typing import Any

import orjson

from threadline.adapters.git import git_info
from threadline.adapters.jsonl_pages import PAGE_BYTES
from threadline.adapters.opencode import AGENT
from threadline.adapters.opencode.discovery import (
    SessionKey,
    connect_read_only,
    conversation_of,
    db_session_stats,
    discover,
    parse_source,
    tree_dir,
    tree_session_stat,
)
from threadline.adapters.opencode.mapping import DEFAULT_TITLE_PREFIXES, Record, SessionMapper
from threadline.adapters.source_support import Lineage, LineAt, LinkedThreadContent
from threadline.application.ports import (
    BlobStore,
    Problem,
    ReadTranscript,
    ResumePoint,
    SourceFile,
    name_conversations,
)
from threadline.domain.ledger import SourcePage, SourceVersion
from threadline.domain.session import ThreadSummary, TranscriptSource
from threadline.domain.titles import choose_title, first_line, truncate

FIRST_MESSAGE_CHARS = 2000

name_conversations(AGENT, conversation_of)

_Raw = tuple[str, dict[str, Any], bytes | None]
"""(table, columns, the JSON document's bytes, or None for a table of columns only)."""


class OpenCodeReader:
    agent = AGENT

    def discover(self, paths: Iterable[str]) -> tuple[list[SourceFile], list[Problem]]:
        return discover(paths)

    def conversation_of(self, path: str) -> str | None:
        return conversation_of(path)

    def read(
        self, source: SourceFile, resume: ResumePoint | None, blobs: BlobStore
    ) -> ReadTranscript:
        key = parse_source(source.path)
        problems: list[Problem] = []
        try:
            if key.db is not None:
                raws, (size, mtime_ns) = _db_records(key)
            else:
                raws, (size, mtime_ns) = _tree_records(key, problems)
        except sqlite3.Error as exc:
            problems.append(Problem(source.path, 0, f"cannot read the OpenCode database: {exc}"))
            return _nothing(source, resume, problems)
        except OSError as exc:
            problems.append(Problem(source.path, 0, f"cannot read: {exc.strerror or exc}"))
            return _nothing(source, resume, problems)
        lines = [_line(table, row, raw, blobs) for table, row, raw in raws]
        pages, refs = _pages(lines, blobs)
        data = b"".join(lines)
        digest = hashlib.sha256(data).hexdigest()
        version = SourceVersion(
            size=size,
            mtime_ns=mtime_ns,
            sha256=digest,
            consumed_bytes=len(data),
            consumed_sha256=digest,
            consumed_lines=len(lines),
        )
        mapper = SessionMapper(source.path, blobs)
        mapper.problems.extend(problems)
        records = [_record(refs[i], raws[i], lines[i]) for i in range(len(raws))]
        _map(records, mapper)
        main = self._thread(source, key, mapper) if mapper.facts.id else None
        if main is None:
            mapper.problem(0, "no such session (deleted, or not an OpenCode session)")
        return ReadTranscript(
            version=version,
            mode="full" if resume is None else "replace",
            pages=pages,
            main=main,
            problems=mapper.problems,
            conversation_id=main.conversation_id if main is not None else None,
        )

    def _thread(
        self, source: SourceFile, key: SessionKey, mapper: SessionMapper
    ) -> LinkedThreadContent:
        f = mapper.facts
        title_text = f.title or ""
        generated = (
            title_text if title_text and not title_text.startswith(DEFAULT_TITLE_PREFIXES) else None
        )
        title, title_source = choose_title(None, generated, f.first_prompt or "")
        lineage = None
        spawned_by = None
        if f.parent_id:
            if key.db is not None:
                parent_path = SessionKey(db=key.db, session_id=f.parent_id).path
            else:
                parent_path = os.path.join(os.path.dirname(source.path), f"{f.parent_id}.json")
            spawned_by = _spawning_call(key, f.parent_id, f.id or "")
            lineage = Lineage(
                kind="subagent", agent=AGENT, conversation_id=f.parent_id, source_path=parent_path
            )
        cwd = f.directory or f.worktree
        return LinkedThreadContent(
            source=TranscriptSource(agent=AGENT, path=source.path, session_id=f.id),
            summary=ThreadSummary(
                title=title,
                title_source=title_source,
                preview=first_line(f.first_prompt or ""),
                first_user_message=truncate(f.first_prompt or "", FIRST_MESSAGE_CHARS),
                cwd=cwd,
                git=git_info(cwd) if cwd else None,
                models=f.models,
                created_at=f.created,
                updated_at=max((t for t in (f.updated, f.last_timestamp) if t), default=None),
            ),
            items=f.items,
            parent_conversation_id=f.parent_id,  # its thread: the application's (ADR 0011)
            spawned_by_call_id=spawned_by,
            conversation_id=f.id,
            lineage=lineage,
        )


def _spawning_call(key: SessionKey, parent_id: str, child_id: str) -> str | None:
    """The parent's ``task`` tool call that ran this sub-agent session (its metadata or
    output names the child session)."""
    if key.db is None or not child_id:
        return None
    try:
        conn = connect_read_only(key.db)
        try:
            rows = conn.execute(
                "SELECT data FROM part WHERE session_id = ? AND data LIKE ?",
                (parent_id, f"%{child_id}%"),
            ).fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    for row in rows:
        data = _loads(row["data"].encode() if isinstance(row["data"], str) else b"")
        if (
            isinstance(data, dict)
            and data.get("type") == "tool"
            and isinstance(data.get("callID"), str)
        ):
            return str(data["callID"])
    return None


# -- loading ------------------------------------------------------------------------


def _db_records(key: SessionKey) -> tuple[list[_Raw], tuple[int, int]]:
    assert key.db is not None
    conn = connect_read_only(key.db)
    try:
        conn.execute("BEGIN")  # one read transaction: one snapshot of every table
        stats = db_session_stats(conn, key.session_id).get(key.session_id, (0, 0))
        out: list[_Raw] = []
        session = conn.execute("SELECT * FROM session WHERE id = ?", (key.session_id,)).fetchone()
        if session is None:
            conn.execute("COMMIT")
            return [], stats
        out.append(_row("session", session))
        project = conn.execute(
            "SELECT * FROM project WHERE id = ?", (session["project_id"],)
        ).fetchone()
        if project is not None:
            out.append(_row("project", project))
        parts: dict[str, list[_Raw]] = {}
        for part in conn.execute(
            "SELECT * FROM part WHERE session_id = ? ORDER BY message_id, id", (key.session_id,)
        ):
            parts.setdefault(part["message_id"], []).append(_row("part", part))
        for message in conn.execute(
            "SELECT * FROM message WHERE session_id = ? ORDER BY time_created, id",
            (key.session_id,),
        ):
            out.append(_row("message", message))
            out.extend(parts.pop(message["id"], []))
        for orphans in parts.values():  # parts of a message not (yet) written
            out.extend(orphans)
        conn.execute("COMMIT")
        return out, stats
    finally:
        conn.close()


def _row(table: str, row: sqlite3.Row) -> _Raw:
    columns = {k: row[k] for k in row.keys() if k != "data"}  # noqa: SIM118
    if "data" not in row.keys():  # noqa: SIM118 (a Row: keys() names its columns)
        return table, columns, None  # every field is a column (session, project)
    data = row["data"]
    raw = data.encode() if isinstance(data, str) else (data if isinstance(data, bytes) else b"")
    return table, columns, raw


def _tree_records(key: SessionKey, problems: list[Problem]) -> tuple[list[_Raw], tuple[int, int]]:
    assert key.session_file is not None
    session_file = key.session_file
    storage = session_file.split(f"{os.sep}session{os.sep}")[0]
    stats = tree_session_stat(storage, session_file, key.session_id)
    out: list[_Raw] = []
    session_raw = _read(session_file)
    out.append(("session", {"file": os.path.relpath(session_file, storage)}, session_raw))
    session = _loads(session_raw) or {}
    project_id = session.get("projectID") if isinstance(session, dict) else None
    if isinstance(project_id, str):
        project_file = os.path.join(storage, "project", f"{project_id}.json")
        if os.path.isfile(project_file):
            out.append(
                ("project", {"file": os.path.relpath(project_file, storage)}, _read(project_file))
            )
    messages_dir = tree_dir(storage, "message", key.session_id)
    messages = []
    for name in sorted(os.listdir(messages_dir)) if os.path.isdir(messages_dir) else []:
        if not name.endswith(".json"):
            continue
        path = os.path.join(messages_dir, name)
        raw = _read(path)
        info = _loads(raw)
        created = (info.get("time") or {}).get("created", 0) if isinstance(info, dict) else 0
        messages.append((created if isinstance(created, int | float) else 0, name, path, raw))
    for _, name, path, raw in sorted(messages):
        out.append(("message", {"file": os.path.relpath(path, storage)}, raw))
        parts_dir = tree_dir(storage, "part", name.removesuffix(".json"))
        for part in sorted(os.listdir(parts_dir)) if os.path.isdir(parts_dir) else []:
            if part.endswith(".json"):
                ppath = os.path.join(parts_dir, part)
                out.append(("part", {"file": os.path.relpath(ppath, storage)}, _read(ppath)))
    return out, stats


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _loads(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


# -- lines and pages ------------------------------------------------------------------


def _line(table: str, row: dict[str, Any], raw: bytes | None, blobs: BlobStore) -> bytes:
    if raw is None:
        return orjson.dumps({"table": table, "row": row}) + b"\n"
    head = orjson.dumps({"table": table, "row": row})[:-1]
    parsed = _loads(raw)
    if parsed is not None and b"\n" not in raw and b"\r" not in raw:
        return head + b',"data":' + raw.strip() + b"}\n"
    key = blobs.put(raw)  # its exact bytes, kept
    body = {"data": parsed, "raw_blob": key}
    if parsed is None:
        body["data_text"] = raw.decode("utf-8", "replace")
    return head + b"," + orjson.dumps(body)[1:] + b"\n"


def _pages(lines: list[bytes], blobs: BlobStore) -> tuple[list[SourcePage], list[LineAt]]:
    pages: list[SourcePage] = []
    refs: list[LineAt] = []
    start = 0
    while start < len(lines):
        stop, size = start, 0
        while stop < len(lines) and (stop == start or size + len(lines[stop]) <= PAGE_BYTES):
            size += len(lines[stop])
            stop += 1
        page = b"".join(lines[start:stop])
        key = blobs.put(page)
        pages.append(SourcePage(blob=key, first_line=start + 1, size=len(page)))
        offset = 0
        for i in range(start, stop):
            refs.append(LineAt(i + 1, key, offset, len(lines[i]) - 1))
            offset += len(lines[i])
        start = stop
    return pages, refs


def _record(line: LineAt, raw: _Raw, text: bytes) -> Record:
    table, row, _ = raw
    parsed = orjson.loads(text)
    return Record(line=line, table=table, row=row, data=parsed.get("data"))


def _map(records: list[Record], mapper: SessionMapper) -> None:
    for record in records:
        broken = record.data is None and (
            record.table in ("message", "part") or "file" in record.row
        )
        file = record.row.get("file")
        if broken and isinstance(file, str):  # a file of the legacy tree, named by its path
            storage = mapper.path.split(f"{os.sep}session{os.sep}")[0]
            reason = "not JSON (empty or half-written?); kept raw"
            mapper.problems.append(Problem(os.path.join(storage, file), 0, reason))
        elif broken:
            name = record.row.get("id")
            mapper.problem(record.line.number, f"{record.table} {name}: not JSON; kept raw")
    i = 0
    while i < len(records):
        record = records[i]
        if record.table == "session":
            mapper.session(record)
        elif record.table == "project":
            mapper.project(record)
        elif record.table == "message":
            parts = []
            j = i + 1
            while j < len(records) and records[j].table == "part":
                parts.append(records[j])
                j += 1
            if record.data is not None:
                mapper.message(record, [p for p in parts if p.data is not None])
            i = j
            continue
        i += 1


def _nothing(
    source: SourceFile, resume: ResumePoint | None, problems: list[Problem]
) -> ReadTranscript:
    empty = hashlib.sha256(b"").hexdigest()
    return ReadTranscript(
        version=SourceVersion(
            size=source.size,
            mtime_ns=source.mtime_ns,
            sha256=empty,
            consumed_bytes=0,
            consumed_sha256=empty,
            consumed_lines=0,
        ),
        mode="full" if resume is None else "replace",
        pages=[],
        main=None,
        problems=problems,
    )
