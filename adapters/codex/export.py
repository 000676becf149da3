"""A thread (any agent's) -> a Codex rollout that the Codex CLI lists, reads and resumes.

Input: the thread's row from the read model and its items as
``application/history.py: thread_items`` returns them (dicts, referenced values
restored), or domain ``Item``s (``SourceRef``s are restored when a
``SourceLines`` is given). Output: ``CODEX_HOME/sessions/YYYY/MM/DD/rollout-
<created>-<id>.jsonl`` and the thread's name in ``CODEX_HOME/session_index.jsonl``.

The rollout is written the way Codex 0.169 writes its own (``codex.md`` A4):
a ``session_meta`` line (id, real start time, cwd, git), then per user prompt
a turn (``task_started``, the prompt as ``user_message`` event and response
item, the answers as ``agent_message`` and assistant message, reasoning
summaries as ``reasoning`` items, tool calls as ``function_call`` /
``function_call_output`` rather than flattened text, ``task_complete``), every
line stamped with the item's real time. The rollout's id and content depend only
on the thread, so exporting twice writes nothing new; a thread that grew is
written again under the same name, unless Codex continued the rollout since (then
``ContinuedInCodexError``: what Codex added is never overwritten).

The ``session_meta`` line names the thread it was written from (``threadline``:
the thread id, its agent and conversation id, and how many lines the export wrote),
so that our reader knows these lines for a copy of that thread (ADR 0013, "Out to
Codex"). Codex ignores the field and keeps it when it resumes the thread.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from threadline.application.history import SourceLines, full_item

ORIGINATOR = "threadline"
EXPORT_NAMESPACE = uuid.UUID("6f1c2b3a-9d8e-5f70-a1b2-c3d4e5f6a7b8")


@dataclass(frozen=True)
class CodexExport:
    path: str
    """The rollout written (or found already written)."""
    codex_thread_id: str
    written: bool
    """False when the same rollout and name were already there."""
    name_written: bool
    sha256: str
    """Of the rollout's bytes: what the thread's ``Exported`` event records."""


class ContinuedInCodexError(Exception):
    """The rollout holds lines Codex added after an export: it is not written over."""


def codex_thread_id(thread_id: str, created_at: datetime | None) -> str:
    """A UUIDv7-shaped id for the exported thread: its start time in the top 48 bits
    (Codex orders threads by id), the rest from the Threadline thread id."""
    millis = int(created_at.timestamp() * 1000) if created_at else 0
    digest = hashlib.sha256(f"{EXPORT_NAMESPACE}:{thread_id}".encode()).digest()
    rand_a = int.from_bytes(digest[:2], "big") & 0x0FFF
    rand_b = int.from_bytes(digest[2:10], "big") & ((1 << 62) - 1)
    value = (
        ((millis & ((1 << 48) - 1)) << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    )
    return str(uuid.UUID(int=value))


def export_thread(
    thread: Mapping[str, Any],
    items: Iterable[Mapping[str, Any] | Any],
    codex_home: str,
    *,
    lines: SourceLines | None = None,
) -> CodexExport:
    """Write ``thread`` as a rollout under ``codex_home``; nothing when it is already there."""
    row = dict(thread)
    thread_id = str(row.get("thread_id") or row.get("id") or "")
    if not thread_id:
        raise ValueError("the thread row has no thread_id")
    records = [_as_dict(item, lines) for item in items]
    created = _time(row.get("created_at")) or _first_time(records) or datetime.fromtimestamp(0, UTC)
    updated = _time(row.get("updated_at")) or _last_time(records) or created
    cid = codex_thread_id(thread_id, created)
    body = rollout_lines(row, records, cid, created)
    day = created.astimezone(UTC)
    directory = os.path.join(codex_home, "sessions", f"{day:%Y}", f"{day:%m}", f"{day:%d}")
    path = os.path.join(directory, f"rollout-{day:%Y-%m-%dT%H-%M-%S}-{cid}.jsonl")
    data = b"".join(orjson.dumps(line) + b"\n" for line in body)
    check_not_continued(path)
    written = _write_if_changed(path, data)
    if written:
        # Codex takes a thread's "updated" time from its rollout's mtime: the real one.
        stamp = updated.timestamp()
        os.utime(path, (stamp, stamp))
    title = str(row.get("title") or "").strip()
    name_written = _index_name(codex_home, cid, title, updated) if title else False
    return CodexExport(
        path=path,
        codex_thread_id=cid,
        written=written,
        name_written=name_written,
        sha256=hashlib.sha256(data).hexdigest(),
    )


MARKER = "threadline"
"""The ``session_meta`` field that names the thread a rollout was exported from."""


def export_marker(meta: Mapping[str, Any]) -> dict[str, Any] | None:
    """The export marker of a ``session_meta`` payload, when it has a valid one."""
    marker = meta.get(MARKER)
    if not isinstance(marker, dict):
        return None
    lines = marker.get("lines")
    if not isinstance(marker.get("thread_id"), str) or not isinstance(lines, int):
        return None
    return marker


def check_not_continued(path: str) -> None:
    """An exported rollout may be written again only while it holds the export's lines alone."""
    try:
        with open(path, "rb") as f:
            first = f.readline()
            count = 1 + sum(1 for _ in f)
    except FileNotFoundError:
        return
    try:
        record = orjson.loads(first)
        meta = record["payload"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        meta = None
    marker = export_marker(meta) if isinstance(meta, Mapping) else None
    if marker is None or count > marker["lines"]:
        raise ContinuedInCodexError(
            f"{path}: Codex has added to this rollout since it was exported; it is not written over"
        )


def rollout_lines(
    row: Mapping[str, Any], items: Sequence[Mapping[str, Any]], cid: str, created: datetime
) -> list[dict[str, Any]]:
    """The rollout's lines (``{timestamp, type, payload}``), in order."""
    git = {
        k: v
        for k, v in {
            "commit_hash": row.get("git_sha"),
            "branch": row.get("git_branch"),
            "repository_url": row.get("git_origin"),
        }.items()
        if v
    }
    meta: dict[str, Any] = {
        "session_id": cid,
        "id": cid,
        "timestamp": _stamp(created),
        "cwd": row.get("cwd") or "/",
        "originator": ORIGINATOR,
        "cli_version": "0.169.0",
        "source": "cli",
        "model_provider": "openai",
        "history_mode": "legacy",
    }
    if git:
        meta["git"] = git
    out: list[dict[str, Any]] = [_line(created, "session_meta", meta)]
    writer = _TurnWriter(out, created)
    for item in items:
        writer.item(item)
    writer.close()
    meta[MARKER] = {
        "thread_id": str(row.get("thread_id") or row.get("id") or ""),
        "agent": row.get("source_agent"),
        "conversation_id": row.get("source_session_id"),
        "lines": len(out),
    }
    return out


class _TurnWriter:
    """Groups items into Codex turns: each real user prompt opens one."""

    def __init__(self, out: list[dict[str, Any]], start: datetime) -> None:
        self.out = out
        self.now = start
        self.turn: str | None = None
        self.turn_start = start
        self.turns = 0
        self.last_agent: str | None = None

    def item(self, item: Mapping[str, Any]) -> None:
        ts = _time(item.get("timestamp"))
        if ts is not None and ts >= self.now:
            self.now = ts
        kind = item.get("type")
        if kind == "user" and not item.get("meta"):
            text = _join(item.get("parts"))
            if not text.strip():
                return
            self.open()
            self.event(
                {
                    "type": "user_message",
                    "message": text,
                    "images": [],
                    "local_images": [],
                    "text_elements": [],
                }
            )
            self.response(
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": text}],
                }
            )
        elif kind == "assistant":
            text = _join(item.get("parts"))
            if not text.strip():
                return
            self.ensure_turn()
            self.event({"type": "agent_message", "message": text, "phase": None})
            self.response(
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": text}],
                }
            )
            self.last_agent = text
        elif kind == "reasoning":
            thought = item.get("text")
            if item.get("redacted") or not isinstance(thought, str) or not thought.strip():
                return
            self.ensure_turn()
            self.event({"type": "agent_reasoning", "text": thought})
            self.response(
                {
                    "type": "reasoning",
                    "summary": [{"type": "summary_text", "text": thought}],
                    "content": None,
                    "encrypted_content": None,
                }
            )
        elif kind == "tool_call":
            self.ensure_turn()
            value = item.get("input")
            arguments = value if isinstance(value, str) else orjson.dumps(value).decode()
            self.response(
                {
                    "type": "function_call",
                    "name": str(item.get("name") or "tool"),
                    "arguments": arguments,
                    "call_id": str(item.get("call_id") or ""),
                }
            )
        elif kind == "tool_result":
            self.ensure_turn()
            self.response(
                {
                    "type": "function_call_output",
                    "call_id": str(item.get("call_id") or ""),
                    "output": _output_text(item.get("output")),
                }
            )

    def ensure_turn(self) -> None:
        if self.turn is None:
            self.open()

    def open(self) -> None:
        self.close()
        self.turns += 1
        self.turn = f"threadline-turn-{self.turns}"
        self.turn_start = self.now
        self.last_agent = None
        self.event(
            {
                "type": "task_started",
                "turn_id": self.turn,
                "started_at": int(self.now.timestamp()),
                "model_context_window": None,
                "collaboration_mode_kind": "default",
            }
        )

    def close(self) -> None:
        if self.turn is None:
            return
        self.event(
            {
                "type": "task_complete",
                "turn_id": self.turn,
                "last_agent_message": self.last_agent,
                "started_at": int(self.turn_start.timestamp()),
                "completed_at": int(self.now.timestamp()),
            }
        )
        self.turn = None

    def event(self, payload: dict[str, Any]) -> None:
        self.out.append(_line(self.now, "event_msg", payload))

    def response(self, payload: dict[str, Any]) -> None:
        self.out.append(_line(self.now, "response_item", payload))


# -- helpers -----------------------------------------------------------------------


def _as_dict(item: Any, lines: SourceLines | None) -> Mapping[str, Any]:
    if isinstance(item, Mapping):
        data: Mapping[str, Any] = item
    else:
        data = item.model_dump(mode="json")
    if lines is not None:
        data = full_item(dict(data), lines)
    return data


def _join(parts: Any) -> str:
    if isinstance(parts, str):
        return parts
    if not isinstance(parts, list):
        return ""
    return "\n\n".join(p for p in parts if isinstance(p, str))


def _output_text(output: Any) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        texts = []
        for block in output:
            if (
                isinstance(block, Mapping)
                and block.get("kind") == "text"
                and isinstance(block.get("text"), str)
            ):
                texts.append(block["text"])
            elif isinstance(block, Mapping) and block.get("kind") == "image":
                texts.append(f"[image {block.get('media_type')}, {block.get('size')} bytes]")
        return "\n".join(texts)
    return "" if output is None else orjson.dumps(output).decode()


def _line(ts: datetime, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"timestamp": _stamp(ts), "type": kind, "payload": payload}


def _stamp(ts: datetime) -> str:
    ts = ts.astimezone(UTC)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return ts if ts.tzinfo else ts.replace(tzinfo=UTC)
    return None


def _first_time(items: Sequence[Mapping[str, Any]]) -> datetime | None:
    times = [t for i in items if (t := _time(i.get("timestamp")))]
    return min(times) if times else None


def _last_time(items: Sequence[Mapping[str, Any]]) -> datetime | None:
    times = [t for i in items if (t := _time(i.get("timestamp")))]
    return max(times) if times else None


def _write_if_changed(path: str, data: bytes) -> bool:
    try:
        with open(path, "rb") as f:
            if f.read() == data:
                return False
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".rollout-", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return True


def _index_name(codex_home: str, cid: str, title: str, updated: datetime) -> bool:
    """Append the thread's name to ``session_index.jsonl`` unless it is already its newest."""
    index = os.path.join(codex_home, "session_index.jsonl")
    latest: str | None = None
    try:
        with open(index, "rb") as f:
            for raw in f:
                try:
                    entry = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(entry, dict) and entry.get("id") == cid:
                    latest = entry.get("thread_name")
    except FileNotFoundError:
        pass
    if latest == title:
        return False
    os.makedirs(codex_home, exist_ok=True)
    entry = {"id": cid, "thread_name": title, "updated_at": _stamp(updated)}
    with open(index, "ab") as f:
        f.write(orjson.dumps(entry) + b"\n")
    return True
