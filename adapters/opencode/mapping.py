"""OpenCode messages and parts -> conversation items.

A message (``role`` user or assistant; assistant messages carry ``modelID``,
``providerID``, ``tokens`` and ``cost``) is a list of parts: ``text``,
``reasoning``, ``tool`` (``callID``, ``tool``, ``state`` pending / running /
completed with ``output`` / error with ``error``), ``file``, ``step-start`` /
``step-finish``, ``patch``, ``snapshot``, ``agent``, ``subtask``, ``retry``,
``compaction``. A tool part is one call and, once it finished, its result.
Usage is the message's own ``tokens`` and ``cost`` (the step-finish parts say the
same per step, so they are not counted again).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from threadline.adapters.source_support import (
    LineAt,
    RecordShapeError,
    as_str,
    data_url_image,
    epoch_time,
)
from threadline.application.ports import BlobStore, Problem
from threadline.domain.items import (
    AssistantMessage,
    Image,
    Item,
    Reasoning,
    SystemNote,
    Text,
    ToolCall,
    ToolResult,
    Unknown,
    Usage,
    UserMessage,
)

DEFAULT_TITLE_PREFIXES = ("New session - ", "Child session - ")
"""OpenCode's placeholder titles, before its title model names a session."""


@dataclass
class Record:
    line: LineAt
    table: str
    row: dict[str, Any]
    data: Any


@dataclass
class SessionFacts:
    id: str | None = None
    title: str | None = None
    parent_id: str | None = None
    directory: str | None = None
    project_id: str | None = None
    worktree: str | None = None
    version: str | None = None
    created: datetime | None = None
    updated: datetime | None = None
    items: list[Item] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    first_prompt: str | None = None
    last_timestamp: datetime | None = None


class SessionMapper:
    def __init__(self, path: str, blobs: BlobStore) -> None:
        self.path = path
        self.blobs = blobs
        self.facts = SessionFacts()
        self.problems: list[Problem] = []

    def problem(self, line: int, reason: str) -> None:
        self.problems.append(Problem(self.path, line, reason))

    def session(self, record: Record) -> None:
        data = record.data if isinstance(record.data, dict) else {}
        row = record.row
        f = self.facts
        f.id = as_str(row.get("id")) or as_str(data.get("id"))
        f.title = as_str(row.get("title")) or as_str(data.get("title"))
        f.parent_id = as_str(row.get("parent_id")) or as_str(data.get("parentID"))
        f.directory = as_str(row.get("directory")) or as_str(data.get("directory"))
        f.project_id = as_str(row.get("project_id")) or as_str(data.get("projectID"))
        f.version = as_str(row.get("version")) or as_str(data.get("version"))
        time = _obj(data.get("time"))
        f.created = epoch_time(row.get("time_created") or time.get("created"), 1000)
        f.updated = epoch_time(row.get("time_updated") or time.get("updated"), 1000)

    def project(self, record: Record) -> None:
        data = record.data if isinstance(record.data, dict) else {}
        self.facts.worktree = as_str(record.row.get("worktree")) or as_str(data.get("worktree"))

    def message(self, record: Record, parts: list[Record]) -> None:
        try:
            self._message(record, parts)
        except (RecordShapeError, TypeError, ValueError, KeyError, AttributeError) as exc:
            ident = record.row.get("id") or (record.data or {}).get("id")
            self.problem(record.line.number, f"message {ident}: unexpected shape: {exc}")
            self.facts.items.append(_unknown(record, "message"))

    def _message(self, record: Record, parts: list[Record]) -> None:
        info = record.data
        if not isinstance(info, dict):
            raise RecordShapeError("message data should be an object")
        role = info.get("role")
        mid = as_str(record.row.get("id")) or as_str(info.get("id"))
        time = _obj(info.get("time"))
        ts = epoch_time(time.get("created"), 1000)
        self._saw(ts)
        items = self.facts.items
        if role == "user":
            texts = [p for p in parts if isinstance(p.data, dict) and p.data.get("type") == "text"]
            real = [p for p in texts if not p.data.get("synthetic")]
            synthetic = [p for p in texts if p.data.get("synthetic")]
            if real:
                items.append(
                    UserMessage(
                        line=real[0].line.number,
                        timestamp=ts,
                        uuid=mid,
                        parts=[p.line.text(p.data.get("text"), "/data/text") for p in real],
                    )
                )
                if self.facts.first_prompt is None:
                    self.facts.first_prompt = (
                        "\n\n".join(str(p.data.get("text") or "") for p in real).strip() or None
                    )
            for p in synthetic:
                items.append(
                    UserMessage(
                        line=p.line.number,
                        timestamp=ts,
                        uuid=mid,
                        parts=[p.line.text(p.data.get("text"), "/data/text")],
                        meta=True,
                    )
                )
            for p in parts:
                if p not in texts:
                    self._part(p, mid, ts, None)
            return
        if role != "assistant":
            items.append(_unknown(record, f"message:{role}"))
            return
        model = as_str(info.get("modelID"))
        if model and model not in self.facts.models:
            self.facts.models.append(model)
        usage = _usage(info)
        completed = epoch_time(time.get("completed"), 1000)
        self._saw(completed)
        text_parts: list[Text] = []
        first_text: int | None = None
        mapped: list[Item | None] = []
        for p in parts:
            pdata = p.data if isinstance(p.data, dict) else {}
            if pdata.get("type") == "text":
                if first_text is None:
                    first_text = p.line.number
                    mapped.append(None)  # the message goes where its first text is
                text_parts.append(p.line.text(pdata.get("text"), "/data/text"))
            else:
                mapped.extend(self._part_items(p, mid, ts))
        summary = info.get("summary") is True
        message: Item
        if summary:
            message = SystemNote(
                line=first_text or record.line.number,
                timestamp=ts,
                uuid=mid,
                subtype="compaction_summary",
                text="\n\n".join(t for t in text_parts if isinstance(t, str)) or None,
                data={"model": model},
            )
        else:
            message = AssistantMessage(
                line=first_text or record.line.number,
                timestamp=ts,
                uuid=mid,
                parent_uuid=as_str(info.get("parentID")),
                message_id=mid,
                model=model,
                parts=text_parts,
                usage=usage,
                stop_reason=as_str(info.get("finish")),
            )
        if None not in mapped:  # no text: the message (and its usage) comes first
            mapped.insert(0, None)
        for entry in mapped:
            items.append(entry if entry is not None else message)
        error = info.get("error")
        if isinstance(error, dict):
            detail = _obj(error.get("data"))
            items.append(
                SystemNote(
                    line=record.line.number,
                    timestamp=completed or ts,
                    uuid=mid,
                    subtype="error",
                    text=as_str(detail.get("message")) or as_str(error.get("name")),
                    level="error",
                    data={"name": as_str(error.get("name"))},
                )
            )

    def _part(self, p: Record, mid: str | None, ts: datetime | None, _: Any) -> None:
        self.facts.items.extend(self._part_items(p, mid, ts))

    def _part_items(self, p: Record, mid: str | None, ts: datetime | None) -> list[Item]:
        data = p.data
        if not isinstance(data, dict):
            self.problem(p.line.number, "part data is not an object")
            return [_unknown(p, "part")]
        kind = data.get("type")
        line = p.line
        time = _obj(data.get("time"))
        pts = epoch_time(time.get("start"), 1000) or ts
        self._saw(pts)
        if kind == "reasoning":
            return [
                Reasoning(
                    line=line.number,
                    timestamp=pts,
                    uuid=as_str(data.get("id")) or as_str(p.row.get("id")),
                    message_id=mid,
                    text=line.text(data.get("text"), "/data/text"),
                )
            ]
        if kind == "tool":
            state = _obj(data.get("state"))
            status = state.get("status")
            call_id = as_str(data.get("callID")) or as_str(p.row.get("id")) or ""
            value, ref = line.json(state.get("input"), "/data/state/input")
            st = _obj(state.get("time"))
            start = epoch_time(st.get("start"), 1000) or pts
            out: list[Item] = [
                ToolCall(
                    line=line.number,
                    timestamp=start,
                    message_id=mid,
                    call_id=call_id,
                    name=as_str(data.get("tool")) or "",
                    input=value,
                    input_ref=ref,
                )
            ]
            end = epoch_time(st.get("end"), 1000) or start
            self._saw(end)
            if status == "completed":
                out.append(
                    ToolResult(
                        line=line.number,
                        timestamp=end,
                        call_id=call_id,
                        output=line.text(state.get("output") or "", "/data/state/output"),
                    )
                )
            elif status == "error":
                out.append(
                    ToolResult(
                        line=line.number,
                        timestamp=end,
                        call_id=call_id,
                        output=line.text(state.get("error") or "", "/data/state/error"),
                        is_error=True,
                    )
                )
            return out
        if kind == "file":
            mime = as_str(data.get("mime")) or ""
            if mime.startswith("image/"):
                image = data_url_image(data.get("url"), self.blobs)
                if image is not None:
                    return [Image(line=line.number, timestamp=pts, uuid=mid, image=image)]
            url = as_str(data.get("url")) or ""
            return [
                SystemNote(
                    line=line.number,
                    timestamp=pts,
                    uuid=mid,
                    subtype="file",
                    text=as_str(data.get("filename")),
                    data={"mime": mime, "url": url if not url.startswith("data:") else None},
                )
            ]
        if kind in ("step-start", "step-finish", "snapshot"):
            return []  # usage is the message's; the raw part is kept in its page
        if kind == "patch":
            return [
                SystemNote(
                    line=line.number,
                    timestamp=pts,
                    uuid=mid,
                    subtype="patch",
                    data=line.small({"hash": data.get("hash"), "files": data.get("files")}),
                )
            ]
        if kind == "compaction":
            return [
                SystemNote(
                    line=line.number,
                    timestamp=pts,
                    uuid=mid,
                    subtype="compaction",
                    data={"auto": data.get("auto")},
                )
            ]
        if kind == "subtask":
            return [
                SystemNote(
                    line=line.number,
                    timestamp=pts,
                    uuid=mid,
                    subtype="subtask",
                    text=line.text(data.get("prompt"), "/data/prompt"),
                    data={
                        "description": as_str(data.get("description")),
                        "agent": as_str(data.get("agent")),
                    },
                )
            ]
        if kind == "agent":
            return [
                SystemNote(
                    line=line.number,
                    timestamp=pts,
                    uuid=mid,
                    subtype="agent",
                    text=as_str(data.get("name")),
                )
            ]
        if kind == "retry":
            error = _obj(data.get("error"))
            detail = _obj(error.get("data"))
            return [
                SystemNote(
                    line=line.number,
                    timestamp=pts,
                    uuid=mid,
                    subtype="retry",
                    text=as_str(detail.get("message")),
                    level="warning",
                    data={"attempt": data.get("attempt")},
                )
            ]
        if kind == "text":  # a text part of a message kind we map as a whole elsewhere
            return [
                UserMessage(
                    line=line.number,
                    timestamp=pts,
                    uuid=mid,
                    parts=[line.text(data.get("text"), "/data/text")],
                    meta=True,
                )
            ]
        return [_unknown(p, f"part:{kind}")]

    def _saw(self, ts: datetime | None) -> None:
        if ts is not None and (self.facts.last_timestamp is None or ts > self.facts.last_timestamp):
            self.facts.last_timestamp = ts


def _usage(info: dict[str, Any]) -> Usage | None:
    tokens = info.get("tokens")
    if not isinstance(tokens, dict):
        return None
    cache = _obj(tokens.get("cache"))
    return Usage.model_validate(
        {
            "input_tokens": tokens.get("input"),
            "output_tokens": tokens.get("output"),
            "cache_read_input_tokens": cache.get("read"),
            "cache_creation_input_tokens": cache.get("write"),
            "reasoning_tokens": tokens.get("reasoning"),
            "cost": info.get("cost"),
        }
    )


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _unknown(record: Record, kind: str) -> Unknown:
    return Unknown(
        line=record.line.number, record_type=kind, record=record.line.ref("", record.line.length)
    )
